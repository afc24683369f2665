//! KVM's AVIC code paths as step machines: the software half of the co-simulation.
//!
//! Every kernel step named here is mapped to its source and commits in `docs/kvm-model.md`
//! (the verified reference); section numbers below (`§2`, `§4 V3`, ...) point into it.
//!
//! One [`VcpuThread`] per vCPU runs on host CPU = vCPU id. [`VcpuThread::step`] performs
//! exactly one shared-memory access (a load, a store, a locked RMW or a fence, on the x86-TSO
//! [`Memory`] through the thread's own store buffer) or one local action (VMRUN, a doorbell
//! WRMSR, a reschedule IPI, a wake-up of another thread, a decision), then advances the
//! program counter [`Pc`]. Between any two steps the `world` may run another thread, drain a
//! store buffer or clock the RTL. Everything the software does to the hardware or to the
//! scheduler goes through [`HostCtx`]; this module does not depend on the RTL.
//!
//! The seven handler generations ([`KvmVariant`]) are one model: they differ only through
//! the [`Traits`] table. Known bugs and removable barriers are [`Knobs`].
//!
//! Software state that other threads (or the hardware) can observe lives in simulated
//! memory at the addresses of [`KvmLayout`]: `vcpu->mode`, the request bitmap,
//! `vcpu->wait.task` (rcuwait), the task state, `apic->irr_pending`, `apicv_active` and
//! `vcpu->cpu`. State only the owning thread ever touches (V0's `svm->avic_is_running`,
//! V5's shadow `svm->avic_physical_id_entry`) is thread-local.
//!
//! Simplifications (each also noted where it applies): no halt-polling (`halt_poll_ns = 0`),
//! PPR = 0 and guest RFLAGS.IF = 1 in `kvm_vcpu_check_block`, no IRTE / IOMMU updates,
//! APICv inhibition through `KVM_REQ_APICV_UPDATE` ([`apicv`]: deactivation, the emulated
//! LAPIC's injection and EOI; the inhibiting side is the world's `Action::Apicv`), V4/V5's fixed `avic_kick_target_vcpus_fast` (`603ccef42ce9`) run as the slow
//! `kvm_apic_match_dest` loop (same targets, [`Traits::fast_path_518`]); V3-fast runs 5.18's
//! shipped fast path. Context switches: a preemption runs `kvm_sched_out`/`kvm_sched_in`, and
//! so does the voluntary sleep in `schedule()` ([`Pc::ScheduleKvmSchedOut`],
//! [`Pc::ScheduleKvmSchedIn`]; `kernel/sched/core.c` fires the preempt notifiers on every
//! context switch).

use crate::apic::{
    irr_word, vector_bit, Cause, ExitInfo, Icr, PhysEntry, Shorthand, VmLayout, DEST_BROADCAST,
    ICR_HI, ICR_LO, IRR,
};
mod apicv;

use crate::mem::{MemError, Memory, FULL_MASK};

/// Largest number of vCPUs a VM may have in this model (fixed-size target arrays).
pub const MAX_VCPUS: usize = 8;

/// `OUTSIDE_GUEST_MODE` (`include/linux/kvm_host.h`).
pub const OUTSIDE_GUEST_MODE: u64 = 0;
/// `IN_GUEST_MODE`.
pub const IN_GUEST_MODE: u64 = 1;
/// `EXITING_GUEST_MODE` (set by a kicker's cmpxchg).
pub const EXITING_GUEST_MODE: u64 = 2;

/// `TASK_RUNNING` (`current->__state`).
pub const TASK_RUNNING: u64 = 0;
/// `TASK_INTERRUPTIBLE`.
pub const TASK_INTERRUPTIBLE: u64 = 1;

/// Bit of `KVM_REQ_EVENT` in `vcpu->requests`: `KVM_ARCH_REQ(6)` with
/// `KVM_REQUEST_ARCH_BASE` 8 (`arch/x86/include/asm/kvm_host.h`). Only its being a bit of
/// the word matters to the model.
pub const KVM_REQ_EVENT_BIT: u32 = 14;

/// ICR bit 12, "delivery status" / `APIC_ICR_BUSY`.
pub const APIC_ICR_BUSY: u32 = 1 << 12;
/// `KVM_REQ_APICV_UPDATE` = `KVM_ARCH_REQ_FLAGS(25, KVM_REQUEST_WAIT | KVM_REQUEST_NO_WAKEUP)`
/// (`arch/x86/include/asm/kvm_host.h`; arch requests start at bit 8): bit 33 of `requests`.
pub const KVM_REQ_APICV_UPDATE_BIT: u32 = 33;

const IR_MASK: u64 = 1 << PhysEntry::IS_RUNNING_BIT;
/// Byte mask of a 32-bit APIC register in the low half of its 64-bit word.
const REG32_MASK: u8 = 0x0F;

// ----------------------------------------------------------------------------------------
// Variants, traits, knobs
// ----------------------------------------------------------------------------------------

/// Generations of KVM's AVIC handling (`docs/kvm-model.md` §4). Each is a row of [`Traits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KvmVariant {
    /// 2016 logic: `18f40c53e10f` "svm: Add VMEXIT handlers for AVIC" (4.7), as read in
    /// `torvalds/linux@02ffbe63` ("KVM: SVM: fix doc warnings", 5.13-rc, whose `avic.c` still
    /// has the 2016 logic). ID=1 wakes matching vCPUs whose table entry shows IsRunning=0;
    /// `svm_deliver_avic_intr` keys on IsRunning; `avic_vcpu_load` copies
    /// `svm->avic_is_running`.
    V0,
    /// `bb218fbcfaaa` "svm: Fix AVIC incomplete IPI emulation" (5.0-rc4, shipped in v5.0),
    /// reverted by `4a58038b9e42` (5.1-rc6): TARGET_NOT_RUNNING re-emulates the ICR write
    /// (`kvm_lapic_reg_write(ICR2)`, `kvm_lapic_reg_write(ICR)`), which sets the IRR again.
    V1,
    /// V1 plus Suravee's March 2019 proposal (seed thread, never merged): the not-running
    /// branch of `svm_deliver_avic_intr` does `kvm_make_request(KVM_REQ_EVENT)` +
    /// `kvm_vcpu_kick` instead of `kvm_vcpu_wake_up`.
    V1b,
    /// Sean's APICv/halt overhaul (5.17): `31f251d4ddfa` (doorbell iff `vcpu->mode ==
    /// IN_GUEST_MODE`), `202470d536b2` (ID=1 wakes every matching vCPU), `af52f5aa5c1b` +
    /// `782f64558de7` (`avic_vcpu_load` skips while `kvm_vcpu_is_blocking`), `935a7333958e`
    /// (blocking = put, unblocking = load), `7cfc5c653b07`.
    V2,
    /// `66fa226c131f` "KVM: SVM: fix race between interrupt delivery and AVIC inhibition"
    /// (5.17-rc4, with `0a5f784273aa`, `30811174f0db`): `svm_deliver_interrupt` +
    /// `svm_complete_interrupt_delivery` (acquire `mode`, then `apicv_active`); ID=1 sets
    /// `irr_pending = true` and completes delivery per target.
    V3,
    /// `V3-fast`: Linux 5.18 as shipped. V3 plus `b51818afdc1d` (no ICR rewrite on ID 0) and
    /// `7223fd2d5338` "KVM: SVM: Use target APIC ID to complete AVIC IRQs when possible"
    /// (`avic_kick_target_vcpus_fast`, read in `torvalds/linux@36fb3cbb` `svm/avic.c`): for
    /// ID=1 without shorthand the exit's index names one vCPU (physical: the index itself;
    /// xAPIC logical: `avic_logical_id_table[index] & 0x1ff`, i.e. the index taken as a
    /// Logical APIC ID table index although the hardware reports a physical one), and if
    /// `kvm_apic_match_dest` accepts it that one vCPU is kicked and the others are not.
    /// Fixed by `603ccef42ce9` (5.19-rc3). The blocking hooks still run preemptible (C2b).
    V3Fast,
    /// V3 plus `b51818afdc1d` (no ICR rewrite on ID 0), `5aede752a839` (ID 2 emulated with
    /// `kvm_apic_send_ipi`), `dd4589eee99d`; runs after `18869f26df1a` (blocking hooks
    /// under `preempt_disable`).
    V4,
    /// Current protocol with `enable_ipiv = false`: `d921665e01ba` "never set IsRunning if
    /// disabled", `8de4a1c8164e` (erratum #1235), `9a12fa5213cf` (Hygon). The hardware table
    /// never shows IsRunning=1; the kernel keeps the real entry in a shadow copy.
    V5,
}

impl KvmVariant {
    /// Every variant, oldest first.
    pub const ALL: [KvmVariant; 8] = [
        KvmVariant::V0,
        KvmVariant::V1,
        KvmVariant::V1b,
        KvmVariant::V2,
        KvmVariant::V3,
        KvmVariant::V3Fast,
        KvmVariant::V4,
        KvmVariant::V5,
    ];

    /// Short name (`"V1b"`).
    pub fn name(self) -> &'static str {
        match self {
            KvmVariant::V0 => "V0",
            KvmVariant::V1 => "V1",
            KvmVariant::V1b => "V1b",
            KvmVariant::V2 => "V2",
            KvmVariant::V3 => "V3",
            KvmVariant::V3Fast => "V3-fast",
            KvmVariant::V4 => "V4",
            KvmVariant::V5 => "V5",
        }
    }

    /// The table of differences of this variant over the shared model.
    pub fn traits(self) -> Traits {
        use KvmVariant::*;
        let legacy = matches!(self, V0 | V1 | V1b | V2);
        let pre_v2 = matches!(self, V0 | V1 | V1b);
        Traits {
            not_running: match self {
                V0 => NotRunningHandler::WakeIfNotRunning,
                V1 | V1b => NotRunningHandler::ReEmulateIcr,
                V2 => NotRunningHandler::WakeAll,
                V3 | V3Fast | V4 | V5 => NotRunningHandler::KickWithIrrPending,
            },
            delivery: if legacy {
                DeliveryPath::Legacy
            } else {
                DeliveryPath::Complete
            },
            delivery_key: if pre_v2 {
                DeliveryKey::IsRunning
            } else {
                DeliveryKey::VcpuMode
            },
            not_running_delivery: if self == V1b {
                NotRunningDelivery::KickWithRequest
            } else {
                NotRunningDelivery::Wake
            },
            load_rule: if pre_v2 {
                LoadRule::AvicIsRunningFlag
            } else {
                LoadRule::SkipIfBlocking
            },
            put_skips_if_not_running: !pre_v2,
            shadow_entry: self == V5,
            rewrite_icr: matches!(self, V0 | V1 | V1b | V2 | V3),
            emulate_invalid_target: matches!(self, V4 | V5),
            enable_ipiv: self != V5,
            preemptible_block_hooks: matches!(self, V0 | V1 | V1b | V2 | V3 | V3Fast),
            stale_cpu_on_unblock: matches!(self, V0 | V1 | V1b),
            fast_path_518: self == V3Fast,
            inhibit_recomputes_irr_pending: legacy,
            refresh_loads_and_puts: !pre_v2,
            preemptible_refresh: matches!(self, V2 | V3),
            preemptible_update_apicv: matches!(self, V0 | V1 | V1b | V2 | V3 | V3Fast),
        }
    }
}

/// What `avic_incomplete_ipi_interception` does on `AVIC_IPI_FAILURE_TARGET_NOT_RUNNING`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotRunningHandler {
    /// V0: for each matching vCPU, `if (!avic_vcpu_is_running(v)) kvm_vcpu_wake_up(v)`
    /// (a load of the target's table entry).
    WakeIfNotRunning,
    /// V1/V1b: `kvm_lapic_reg_write(ICR2)` + `kvm_lapic_reg_write(ICR)`: full re-delivery,
    /// the IRR bit is set again (`bb218fbcfaaa`).
    ReEmulateIcr,
    /// V2: `kvm_vcpu_wake_up` every matching vCPU (`202470d536b2`).
    WakeAll,
    /// V3+: `irr_pending = true` then `svm_complete_interrupt_delivery` per target
    /// (`66fa226c131f`).
    KickWithIrrPending,
}

/// Which software delivery routine a KVM-originated interrupt goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryPath {
    /// V0-V2 `svm_deliver_avic_intr`: load `apicv_active` first (-1 fallback to set_irr +
    /// `KVM_REQ_EVENT` + kick), then `kvm_lapic_set_irr`, then the running check.
    Legacy,
    /// V3+ `svm_deliver_interrupt`: `kvm_lapic_set_irr`, then
    /// `svm_complete_interrupt_delivery` (acquire `mode` before loading `apicv_active`).
    Complete,
}

/// What the legacy delivery path reads to decide doorbell vs wake-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryKey {
    /// V0-V1b: `avic_vcpu_is_running()`, a `READ_ONCE` of the target's table entry.
    IsRunning,
    /// V2+: `vcpu->mode == IN_GUEST_MODE` (`31f251d4ddfa`; acquire in V3+).
    VcpuMode,
}

/// What the legacy delivery path does when the target is not running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotRunningDelivery {
    /// `kvm_vcpu_wake_up` (V0-V2 as merged).
    Wake,
    /// `kvm_make_request(KVM_REQ_EVENT)` + `kvm_vcpu_kick` (V1b proposal).
    KickWithRequest,
}

/// How `avic_vcpu_load` chooses the IsRunning bit it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoadRule {
    /// V0-V1b: IsRunning := `svm->avic_is_running` (false between `svm_vcpu_blocking` and
    /// `svm_vcpu_unblocking`).
    AvicIsRunningFlag,
    /// V2+: return early if `kvm_vcpu_is_blocking()` (load of `vcpu->wait.task`), else
    /// IsRunning := 1 (`af52f5aa5c1b`, `782f64558de7`).
    SkipIfBlocking,
}

/// The differences between variants; everything else is shared code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Traits {
    /// Handler of ID=1.
    pub not_running: NotRunningHandler,
    /// Software delivery routine.
    pub delivery: DeliveryPath,
    /// Running check of the legacy delivery path (unused by [`DeliveryPath::Complete`],
    /// which always keys on `vcpu->mode`).
    pub delivery_key: DeliveryKey,
    /// Legacy delivery's not-running branch.
    pub not_running_delivery: NotRunningDelivery,
    /// `avic_vcpu_load`'s IsRunning rule.
    pub load_rule: LoadRule,
    /// `avic_vcpu_put` returns early when the entry already has IsRunning=0 ("due to vCPU
    /// blocking"; V2+, K518).
    pub put_skips_if_not_running: bool,
    /// The kernel's copy of the entry is `svm->avic_physical_id_entry` (V5), not a load of
    /// the table.
    pub shadow_entry: bool,
    /// ID 0 (and V1's ID 1) rewrite ICR2/ICR with `kvm_lapic_reg_write`; false: V4+
    /// `kvm_apic_send_ipi(apic, icrl, icrh)` (`b51818afdc1d`).
    pub rewrite_icr: bool,
    /// ID 2 is emulated like ID 0 (`5aede752a839`); false: ignored.
    pub emulate_invalid_target: bool,
    /// `enable_ipiv`: false means the table never gets IsRunning=1 (`d921665e01ba`).
    pub enable_ipiv: bool,
    /// `kvm_arch_vcpu_{blocking,unblocking}` and `prepare_to_rcuwait` run preemptible
    /// (before `18869f26df1a`, June 2022): the C2b window.
    pub preemptible_block_hooks: bool,
    /// A3: the unblocking path's `avic_set_running(vcpu, true)` →
    /// `avic_vcpu_load(vcpu, vcpu->cpu)` runs preemptible, so a migration between the
    /// `vcpu->cpu` load and the entry store leaves the old host id in the table (V0-V1b,
    /// fixed by `7cfc5c653b07` "KVM: fix avic_set_running for preemptable kernels").
    pub stale_cpu_on_unblock: bool,
    /// ID=1 first tries 5.18's `avic_kick_target_vcpus_fast` as shipped by `7223fd2d5338`
    /// (see [`KvmVariant::V3Fast`]). V4 and V5 have the fast path as fixed by `603ccef42ce9`,
    /// which the model runs as the slow loop: the fixed code kicks exactly the vCPUs the loop
    /// matches (a physical unicast is its destination, a one-bit logical destination the vCPU
    /// of that Logical APIC ID table entry, anything else falls back to the loop), so the
    /// outcome and the order of the shared accesses are the same (`docs/kvm-model.md` §4).
    pub fast_path_518: bool,
    /// `kvm_apic_update_apicv` on deactivation recomputes `irr_pending =
    /// (apic_search_irr(apic) != -1)` (V0-V2, Suravee's 2019 helper); `755c2bf87860`
    /// (5.17-rc4, V3+) leaves it alone: "IRR bits can be set by the CPU after it is called".
    pub inhibit_recomputes_irr_pending: bool,
    /// `avic_refresh_apicv_exec_ctrl` runs `avic_vcpu_load(vcpu, vcpu->cpu)` on activation and
    /// `avic_vcpu_put(vcpu)` on deactivation (V2+; `df7e4827c549` "KVM: SVM: call
    /// avic_vcpu_load/avic_vcpu_put when enabling/disabling AVIC", 2021). V0's 5.10
    /// `svm_refresh_apicv_exec_ctrl` only flips the VMCB bit, so IsRunning stays as it was.
    pub refresh_loads_and_puts: bool,
    /// That load/put runs preemptible, so a migration between its `vcpu->cpu` load and the
    /// entry store leaves the old host id in the table (V2, V3; fixed by `b652de1e3dfb` "KVM:
    /// SVM: Disable preemption across AVIC load/put during APICv refresh", 5.18 merge window,
    /// so V3-fast has the fix).
    pub preemptible_refresh: bool,
    /// `kvm_vcpu_update_apicv` runs preemptible between the `apicv_active` store and the
    /// refresh (V0-V3-fast; `66c768d30e64` "KVM: x86: disable preemption while updating apicv
    /// inhibition", 5.19-rc, whose changelog names the outcome: a second load "will lead to a
    /// warning in __avic_vcpu_load, that the AVIC is already enabled").
    pub preemptible_update_apicv: bool,
}

/// Bug knobs and barrier removals. All false = the kernel as the variant has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Knobs {
    /// C2: `avic_vcpu_load` sets IsRunning=1 unconditionally (no `kvm_vcpu_is_blocking`
    /// check, no `avic_is_running` flag). The dropped v2 patch "KVM: SVM: Unconditionally
    /// mark AVIC as running on vCPU load (with APICv)" (`20211009021236.4122790-*`), replaced
    /// by `af52f5aa5c1b` + `782f64558de7`; Maxim: "That patch would set is_running right in
    /// the middle of schedule() and then no vIRR check would be done afterwards."
    pub unconditional_running_on_load: bool,
    /// C4: the ID=1 kick of V3+ does not store `irr_pending = true` (the pre-`66fa226c131f`
    /// behaviour; with `755c2bf87860` absent an inhibition leaves `irr_pending` false and
    /// `kvm_vcpu_check_block` never reads the IRR).
    pub no_irr_pending_update: bool,
    /// `no-block-fences`: removes every full fence between the blocking IsRunning=0 store and
    /// the vIRR read of `kvm_vcpu_check_block`: `set_current_state`'s `smp_store_mb` (x86
    /// `xchg`, here a plain store) and `__srcu_read_lock`'s `smp_mb(); /* B */` at the top of
    /// `kvm_vcpu_check_block` (kernel/rcu/srcutree.c). The kernel always had both; the
    /// `avic_vcpu_blocking` comment names only the first.
    pub no_block_fences: bool,
    /// `no-wake-up-mb`: `rcuwait_wake_up` without `smp_mb() /* (B) */` (`kernel/exit.c`),
    /// the barrier that pairs with `set_current_state` in the waiter.
    pub no_wake_up_mb: bool,
    /// `no-enter-mb`: `vcpu_enter_guest` without the full barrier after storing `mode =
    /// IN_GUEST_MODE`. That barrier is `smp_mb(); /* C */` inside `__srcu_read_unlock`
    /// (`kvm_vcpu_srcu_read_unlock`); the `smp_mb__after_srcu_read_unlock()` that follows is
    /// empty ("__srcu_read_unlock has smp_mb() internally so nothing to do here",
    /// include/linux/srcu.h). It orders the mode store before the `kvm_vcpu_exit_request()`
    /// loads and VMRUN's vIRR scan.
    pub no_enter_mb: bool,
    /// `no-sleep-put`: `schedule()` in `kvm_vcpu_block` does not run the preempt notifiers,
    /// i.e. no `kvm_sched_out` → `avic_vcpu_put` when the vCPU goes to sleep and no
    /// `kvm_sched_in` → `avic_vcpu_load` when it wakes (the model before issue 14: a vCPU
    /// that blocks with IsRunning=1 sleeps with IsRunning=1, the permanent C2b).
    pub no_sleep_put: bool,
    /// A3 in any variant: the unblocking `avic_vcpu_load` reads `vcpu->cpu` once and runs
    /// preemptible ([`Traits::stale_cpu_on_unblock`], which V0-V1b have anyway), i.e. without
    /// the `get_cpu()`/`put_cpu()` of `7cfc5c653b07`.
    pub stale_cpu_on_unblock: bool,
}

// ----------------------------------------------------------------------------------------
// Layout and configuration
// ----------------------------------------------------------------------------------------

/// Where the per-vCPU software state lives in simulated memory, plus the AVIC tables.
///
/// vCPU `v`'s block starts at `sw_base + sw_stride * v`; each field is one 64-bit word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KvmLayout {
    /// AVIC tables and backing pages.
    pub vm: VmLayout,
    /// Base of vCPU 0's software block.
    pub sw_base: u64,
    /// Distance between vCPU blocks (at least 0x38).
    pub sw_stride: u64,
}

impl Default for KvmLayout {
    /// `VmLayout::default()`, software blocks at `0x8000 + 0x40 * vcpu`.
    fn default() -> Self {
        KvmLayout {
            vm: VmLayout::default(),
            sw_base: 0x8000,
            sw_stride: 0x40,
        }
    }
}

impl KvmLayout {
    fn sw(&self, vcpu: u8, off: u64) -> u64 {
        self.sw_base + self.sw_stride * u64::from(vcpu) + off
    }

    /// `vcpu->mode` (`OUTSIDE_GUEST_MODE` / `IN_GUEST_MODE` / `EXITING_GUEST_MODE`).
    pub fn mode(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x00)
    }

    /// `vcpu->requests` bitmap (bit [`KVM_REQ_EVENT_BIT`]).
    pub fn requests(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x08)
    }

    /// `vcpu->wait.task` (rcuwait): 0 = NULL, else the task id `vcpu + 1`. Non-zero is
    /// `kvm_vcpu_is_blocking()`.
    pub fn wait_task(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x10)
    }

    /// `current->__state` of the vCPU thread ([`TASK_RUNNING`] / [`TASK_INTERRUPTIBLE`]).
    pub fn task_state(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x18)
    }

    /// `apic->irr_pending` (0 / 1).
    pub fn irr_pending(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x20)
    }

    /// `vcpu->arch.apicv_active` (0 / 1).
    pub fn apicv_active(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x28)
    }

    /// `vcpu->cpu` (host CPU the vCPU is loaded on).
    pub fn vcpu_cpu(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x30)
    }

    /// `kvm->arch.apicv_inhibit_reasons` (VM-wide; 0 = APICv allowed), the word after the
    /// last possible vCPU block.
    pub fn apicv_inhibit_reasons(&self) -> u64 {
        self.sw(MAX_VCPUS as u8, 0x00)
    }

    /// The task id stored in `wait.task` while `vcpu` blocks.
    pub fn task_id(vcpu: u8) -> u64 {
        u64::from(vcpu) + 1
    }

    /// Physical APIC ID table entry of `vcpu` as `avic_init_backing_page` leaves it:
    /// valid, backing page, IsRunning=0, host id 0.
    pub fn initial_entry(&self, vcpu: u8) -> u64 {
        PhysEntry {
            valid: true,
            is_running: false,
            backing: self.vm.backing(vcpu),
            host_id: 0,
        }
        .encode()
    }

    /// Bytes of memory needed for `n_vcpus` (tables, backing pages, software blocks, the
    /// VM-wide inhibit word).
    pub fn mem_size(&self, n_vcpus: u8) -> u64 {
        self.vm
            .mem_size(n_vcpus)
            .max(self.apicv_inhibit_reasons() + 8)
    }

    /// Initialises `vcpu`'s table entry ([`KvmLayout::initial_entry`]) and software block
    /// before a run (not logged): mode OUTSIDE, no requests, not blocking, TASK_RUNNING,
    /// `irr_pending = 1` (always true while APICv is active, §8.2), `apicv_active = 1`,
    /// `vcpu->cpu = vcpu`. The thread's first steps are `vcpu_load` (IsRunning:=1).
    pub fn init_vcpu(&self, mem: &mut Memory, vcpu: u8) -> Result<(), MemError> {
        self.init_vcpu_on(mem, vcpu, vcpu)
    }

    /// [`KvmLayout::init_vcpu`] for a vCPU whose thread starts on host CPU `cpu`
    /// (`vcpu->cpu = cpu`).
    pub fn init_vcpu_on(&self, mem: &mut Memory, vcpu: u8, cpu: u8) -> Result<(), MemError> {
        mem.poke(self.vm.phys_entry(vcpu), self.initial_entry(vcpu))?;
        mem.poke(self.mode(vcpu), OUTSIDE_GUEST_MODE)?;
        mem.poke(self.requests(vcpu), 0)?;
        mem.poke(self.wait_task(vcpu), 0)?;
        mem.poke(self.task_state(vcpu), TASK_RUNNING)?;
        mem.poke(self.irr_pending(vcpu), 1)?;
        mem.poke(self.apicv_active(vcpu), 1)?;
        mem.poke(self.vcpu_cpu(vcpu), u64::from(cpu))
    }
}

/// One VM's software configuration, shared by all its vCPU threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KvmConfig {
    /// Handler generation.
    pub variant: KvmVariant,
    /// Bug knobs.
    pub knobs: Knobs,
    /// Memory layout.
    pub layout: KvmLayout,
    /// Number of vCPUs (1..=[`MAX_VCPUS`]); vCPU `i` has APIC ID `i` and runs on host CPU `i`.
    pub n_vcpus: u8,
    /// Logical APIC ID (`LDR[31:24]`) of each vCPU, for logical destinations; 0 = matches no
    /// logical destination except broadcast. Flat model: a bit mask; cluster model: cluster
    /// in bits 7:4, a bit of the cluster in bits 3:0.
    pub logical_ids: [u8; MAX_VCPUS],
    /// The guests' DFR: cluster model (true) or flat model.
    pub logical_cluster: bool,
}

impl KvmConfig {
    /// `variant` with no knobs, the default layout, `n_vcpus` vCPUs and logical IDs
    /// `1 << i`.
    pub fn new(variant: KvmVariant, n_vcpus: u8) -> Self {
        let mut logical_ids = [0u8; MAX_VCPUS];
        for (i, id) in logical_ids.iter_mut().enumerate() {
            *id = 1 << i;
        }
        KvmConfig {
            variant,
            knobs: Knobs::default(),
            layout: KvmLayout::default(),
            n_vcpus,
            logical_ids,
            logical_cluster: false,
        }
    }

    /// The same configuration in the cluster model with every vCPU `i` in `cluster`, logical
    /// ID `cluster << 4 | 1 << i` (`i` < 4).
    pub fn with_cluster(mut self, cluster: u8) -> Self {
        self.logical_cluster = true;
        for (i, id) in self.logical_ids.iter_mut().enumerate() {
            *id = if i < 4 {
                (cluster & 0xF) << 4 | 1 << i
            } else {
                0
            };
        }
        self
    }

    /// Index of `vcpu`'s entry in the Logical APIC ID table (`avic_get_logical_id_entry`):
    /// the bit number in the flat model, `cluster * 4 + bit` in the cluster model.
    pub fn logical_index(&self, vcpu: u8) -> Option<u8> {
        let id = *self.logical_ids.get(usize::from(vcpu))?;
        let bits = if self.logical_cluster { id & 0xF } else { id };
        if bits == 0 {
            return None;
        }
        let bit = bits.trailing_zeros() as u8;
        Some(if self.logical_cluster {
            (id >> 4) * 4 + bit
        } else {
            bit
        })
    }

    /// The same configuration with `knobs`.
    pub fn with_knobs(mut self, knobs: Knobs) -> Self {
        self.knobs = knobs;
        self
    }
}

// ----------------------------------------------------------------------------------------
// Targets
// ----------------------------------------------------------------------------------------

/// A set of destination vCPUs, in vCPU order, without allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Targets {
    ids: [u8; MAX_VCPUS],
    len: u8,
}

impl Targets {
    /// The vCPU ids.
    pub fn as_slice(&self) -> &[u8] {
        &self.ids[..usize::from(self.len)]
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there is no target.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, v: u8) {
        if usize::from(self.len) < MAX_VCPUS {
            self.ids[usize::from(self.len)] = v;
            self.len += 1;
        }
    }

    fn truncate(&mut self, n: u8) {
        self.len = self.len.min(n);
    }
}

/// The vCPUs `kvm_apic_match_dest(v, source, shorthand, dest, dest_mode)` accepts for an
/// ICR sent by `sender`: shorthands; physical destination (APIC ID = vCPU id, 0xFF =
/// broadcast); logical flat model (`logical_ids[v] & dest != 0`, 0xFF = broadcast) and
/// cluster model (same cluster, a common bit).
/// Cluster mode and x2APIC are not modelled.
pub fn decode_targets(icr: &Icr, sender: u8, cfg: &KvmConfig) -> Targets {
    let mut t = Targets::default();
    let n = cfg.n_vcpus.min(MAX_VCPUS as u8);
    for v in 0..n {
        let m = match icr.shorthand {
            Shorthand::SelfOnly => v == sender,
            Shorthand::AllIncludingSelf => true,
            Shorthand::AllExcludingSelf => v != sender,
            Shorthand::None => {
                if icr.dest == DEST_BROADCAST {
                    true
                } else if icr.logical && cfg.logical_cluster {
                    // kvm_apic_match_logical_addr, APIC_DFR_CLUSTER.
                    let id = cfg.logical_ids[usize::from(v)];
                    id >> 4 == icr.dest >> 4 && id & icr.dest & 0xF != 0
                } else if icr.logical {
                    cfg.logical_ids[usize::from(v)] & icr.dest != 0
                } else {
                    v == icr.dest
                }
            }
        };
        if m {
            t.push(v);
        }
    }
    t
}

// ----------------------------------------------------------------------------------------
// Context, events, errors
// ----------------------------------------------------------------------------------------

/// Why the guest on a vCPU's core left guest mode (reported by the world).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GuestExit {
    /// The guest executed `sti; hlt` (HLT intercept).
    Hlt,
    /// #VMEXIT AVIC_INCOMPLETE_IPI (0x401) with EXITINFO1/EXITINFO2.
    IncompleteIpi {
        /// EXITINFO1: ICR high:low.
        info1: u64,
        /// EXITINFO2: cause << 32 | index.
        info2: u64,
    },
    /// Physical interrupt intercept, e.g. a reschedule IPI from `kvm_vcpu_kick`.
    External,
    /// #VMEXIT NPF (0x400) on the APIC page while AVIC is off for the entry: the guest's ICR
    /// write, which KVM emulates (`kvm_lapic_reg_write`, docs/port-contract.md "AVIC enable").
    ApicAccess {
        /// EXITINFO1: ICR high:low.
        info1: u64,
    },
    /// The guest's EOI of an interrupt KVM injected, which faults on the zapped APIC page and
    /// is emulated (`apic_set_eoi`).
    Eoi,
}

/// A named software event, for the log, the waveform and the oracles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KvmEvent {
    /// `avic_vcpu_load` wrote the table entry with this IsRunning.
    AvicLoad {
        /// vCPU.
        vcpu: u8,
        /// IsRunning as written to the table.
        is_running: bool,
    },
    /// `avic_vcpu_load` returned early because `kvm_vcpu_is_blocking()` (V2+).
    AvicLoadSkipped {
        /// vCPU.
        vcpu: u8,
    },
    /// `avic_vcpu_put` cleared IsRunning (buffered store issued, or shadow only in V5).
    AvicPut {
        /// vCPU.
        vcpu: u8,
    },
    /// The thread was preempted (sched-out/sched-in sequence starts).
    Preempted {
        /// vCPU.
        vcpu: u8,
    },
    /// The preempted thread was migrated to another host CPU (`__schedule` context switch).
    Migrated {
        /// vCPU.
        vcpu: u8,
        /// Host CPU it left.
        from: u8,
        /// Host CPU it runs on now.
        to: u8,
    },
    /// VMRUN issued.
    EnterGuest {
        /// vCPU.
        vcpu: u8,
    },
    /// `kvm_vcpu_exit_request()` cancelled the entry.
    EnterGuestAborted {
        /// vCPU.
        vcpu: u8,
    },
    /// `kvm_check_request(KVM_REQ_EVENT)` consumed a request.
    RequestConsumed {
        /// vCPU.
        vcpu: u8,
    },
    /// The guest exited.
    Exit {
        /// vCPU.
        vcpu: u8,
        /// Why.
        exit: GuestExit,
    },
    /// `kvm_vcpu_block` starts.
    Blocking {
        /// vCPU.
        vcpu: u8,
    },
    /// `kvm_vcpu_check_block` finished: whether it found a pending interrupt.
    CheckBlock {
        /// vCPU.
        vcpu: u8,
        /// An IRR bit was seen (false also when `irr_pending` was false).
        irr_seen: bool,
    },
    /// `schedule()` put the thread to sleep.
    Sleep {
        /// vCPU.
        vcpu: u8,
    },
    /// `schedule()` returned after a wake-up.
    Woken {
        /// vCPU.
        vcpu: u8,
    },
    /// `kvm_vcpu_block` returned (after `kvm_arch_vcpu_unblocking`).
    Unblocked {
        /// vCPU.
        vcpu: u8,
    },
    /// V0-V3 handler rewrote ICR2/ICR (`kvm_lapic_reg_write`).
    ReEmulatedIcr {
        /// Handling vCPU.
        vcpu: u8,
        /// ICR low as written (BUSY cleared).
        icr_lo: u32,
        /// ICR high.
        icr_hi: u32,
    },
    /// V4+ handler called `kvm_apic_send_ipi` (or `kvm_apic_write_nodecode` when BUSY).
    EmulatedIcr {
        /// Handling vCPU.
        vcpu: u8,
        /// ICR low.
        icr_lo: u32,
        /// ICR high.
        icr_hi: u32,
    },
    /// The handler did nothing for this cause (WARN or break in the kernel).
    IgnoredIncompleteIpi {
        /// Handling vCPU.
        vcpu: u8,
        /// `EXITINFO2[63:32]`.
        cause_id: u32,
    },
    /// An emulated ICR with a delivery mode other than Fixed/LowestPrio (NMI, INIT, ...):
    /// not modelled, nothing delivered.
    UnmodeledDelivery {
        /// Handling vCPU.
        vcpu: u8,
        /// `ICR[10:8]`.
        delivery_mode: u8,
    },
    /// `kvm_lapic_set_irr`: locked set of the IRR bit.
    SetIrr {
        /// Vcpu whose thread did it.
        from: u8,
        /// Target vCPU.
        target: u8,
        /// Vector.
        vector: u8,
    },
    /// V3+ kick stored `irr_pending = true`.
    IrrPending {
        /// Vcpu whose thread did it.
        from: u8,
        /// Target vCPU.
        target: u8,
    },
    /// `kvm_make_request(KVM_REQ_EVENT, target)`.
    Request {
        /// Vcpu whose thread did it.
        from: u8,
        /// Target vCPU.
        target: u8,
    },
    /// `kvm_vcpu_wake_up(target)` finished; `woken` is its return value.
    WakeUp {
        /// Vcpu whose thread did it.
        from: u8,
        /// Target vCPU.
        target: u8,
        /// A sleeping task was made runnable.
        woken: bool,
    },
    /// `kvm_vcpu_kick` sent a reschedule IPI.
    KickIpi {
        /// Vcpu whose thread did it.
        from: u8,
        /// Target vCPU.
        target: u8,
        /// Host CPU the IPI went to.
        host_cpu: u8,
    },
    /// `kvm_vcpu_update_apicv` changed `apicv_active`.
    ApicvUpdate {
        /// vCPU.
        vcpu: u8,
        /// The new `apicv_active`.
        active: bool,
    },
    /// `kvm_cpu_get_interrupt` moved a vector from the IRR to the ISR for injection at the
    /// next VMRUN (APICv inactive): the emulated LAPIC accepted it.
    Injected {
        /// vCPU.
        vcpu: u8,
        /// Vector.
        vector: u8,
    },
    /// `apic_set_eoi` cleared the ISR bit of an injected vector (emulated EOI).
    EmulatedEoi {
        /// vCPU.
        vcpu: u8,
        /// Vector.
        vector: u8,
    },
    /// Software doorbell (`wrmsr(MSR_AMD64_SVM_AVIC_DOORBELL, ...)`).
    Doorbell {
        /// Vcpu whose thread did it.
        from: u8,
        /// Target vCPU.
        target: u8,
        /// Host APIC ID written.
        host_id: u16,
    },
}

/// What a step can do besides memory. Implemented by the world (and by test fakes).
pub trait HostCtx {
    /// The shared memory. Accesses are made by the thread on its own host CPU.
    fn mem(&mut self) -> &mut Memory;
    /// Enter the guest on `vcpu`'s core: the world sets guest mode and pulses VMRUN. The
    /// thread's store buffer is left as it is (draining it here would model VMRUN as
    /// serializing; that is the world's choice). If a
    /// reschedule IPI ([`HostCtx::kick_ipi`]) reached this CPU after interrupts were
    /// disabled for the entry, the guest must exit with [`GuestExit::External`] at once.
    /// `avic` is the VMCB's `AVIC_ENABLE` (the RTL's `avic_en_i`); `inject` a vector KVM
    /// injects with this entry (EVENTINJ), which the guest takes at once.
    fn vmrun(&mut self, vcpu: u8, cpu: u8, avic: bool, inject: Option<u8>);
    /// Software WRMSR to the AVIC doorbell with `host_id`.
    fn ring_doorbell(&mut self, host_id: u16);
    /// The scheduler side of `wake_up_process`: make `vcpu`'s thread runnable if it sleeps
    /// (the world calls [`VcpuThread::on_wake`] on it). The task state was already set to
    /// `TASK_RUNNING` in memory by the calling step.
    fn wake_thread(&mut self, vcpu: u8);
    /// `smp_send_reschedule(host_cpu)`: forces the guest running there to exit
    /// ([`GuestExit::External`]).
    fn kick_ipi(&mut self, host_cpu: u8);
    /// Records a named event.
    fn note(&mut self, ev: KvmEvent);
}

/// Errors of a step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvmError {
    /// A memory access failed.
    #[error("vcpu {vcpu}: {step}: {source}")]
    Mem {
        /// vCPU whose thread stepped.
        vcpu: u8,
        /// Kernel-style name of the step.
        step: &'static str,
        /// The memory error.
        #[source]
        source: MemError,
    },
    /// `step()` on a thread that is in the guest or asleep.
    #[error("vcpu {vcpu}: not runnable at {step}")]
    NotRunnable {
        /// vCPU.
        vcpu: u8,
        /// Where it is.
        step: &'static str,
    },
    /// `on_exit()` while the thread was not in the guest.
    #[error("vcpu {vcpu}: guest exit {exit:?} while at {step}")]
    UnexpectedExit {
        /// vCPU.
        vcpu: u8,
        /// The exit.
        exit: GuestExit,
        /// Where the thread was.
        step: &'static str,
    },
    /// The configuration is unusable.
    #[error("bad configuration: {0}")]
    Config(&'static str),
}

// ----------------------------------------------------------------------------------------
// Program counter
// ----------------------------------------------------------------------------------------

/// Caller of `avic_vcpu_load`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoadVia {
    /// `vcpu_load` → `kvm_arch_vcpu_load` at the start of `KVM_RUN`.
    VcpuLoad,
    /// `kvm_arch_vcpu_unblocking` at the end of `kvm_vcpu_block`.
    Unblocking,
    /// `kvm_sched_in` after a preemption.
    SchedIn,
    /// `kvm_sched_in` when the sleeping thread is switched back in: `schedule()` in
    /// `kvm_vcpu_block` returns through `finish_task_switch` →
    /// `fire_sched_in_preempt_notifiers`. Returns early while `kvm_vcpu_is_blocking()` in
    /// V2+ (`af52f5aa5c1b`); V0-V1b write IsRunning := `svm->avic_is_running` (false).
    ScheduleWakeup,
    /// `avic_refresh_apicv_exec_ctrl` activating APICv: `avic_vcpu_load(vcpu, vcpu->cpu)`.
    Refresh,
}

/// Caller of `avic_vcpu_put`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PutVia {
    /// `kvm_arch_vcpu_blocking` at the start of `kvm_vcpu_block`.
    Blocking,
    /// `kvm_sched_out` on preemption.
    SchedOut,
    /// `kvm_sched_out` in the context switch of `schedule()` in `kvm_vcpu_block`, after the
    /// thread was dequeued (`prepare_task_switch` → `fire_sched_out_preempt_notifiers`).
    Schedule,
    /// `avic_refresh_apicv_exec_ctrl` deactivating APICv.
    Refresh,
}

/// The next step of a vCPU thread, named after the kernel code it stands for. Sub-routines
/// that run once per destination (delivery, wake-up, kick) act on the thread's current
/// target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pc {
    /// `vcpu_load` → `kvm_arch_vcpu_load` → `avic_vcpu_load`, first access: V2+ the
    /// `kvm_vcpu_is_blocking()` load of `wait.task` (`af52f5aa5c1b`); V0-V1b (and knob C2)
    /// the `READ_ONCE` of the table entry.
    KvmArchVcpuLoad,
    /// `avic_vcpu_load`: `READ_ONCE` of the table entry (V5: the shadow
    /// `svm->avic_physical_id_entry`, a local read; `d921665e01ba`).
    AvicVcpuLoadEntry {
        /// Caller.
        via: LoadVia,
    },
    /// `avic_vcpu_load`: `WRITE_ONCE` of the entry with host id = `vcpu->cpu` and IsRunning
    /// per [`LoadRule`] (masked to 0 when `!enable_ipiv`, V5).
    AvicVcpuLoadStoreEntry {
        /// Caller.
        via: LoadVia,
    },
    /// `vcpu_enter_guest`: `kvm_request_pending()` load of `vcpu->requests` at the top
    /// (`arch/x86/kvm/x86.c`). Also the point the `vcpu_run` loop returns to.
    VcpuEnterGuestRequests,
    /// `kvm_check_request(KVM_REQ_EVENT)`: locked `clear_bit` of the request.
    KvmClearRequest,
    /// `vcpu_enter_guest`: store `mode = IN_GUEST_MODE` (`smp_store_release` since
    /// `66fa226c131f`, plain before; the same `MOV` on x86).
    VcpuEnterGuestStoreMode,
    /// `vcpu_enter_guest`: `kvm_vcpu_srcu_read_unlock` → `__srcu_read_unlock`'s
    /// `smp_mb(); /* C */`, a full fence after the mode store (skipped with
    /// [`Knobs::no_enter_mb`]); the `smp_mb__after_srcu_read_unlock()` after it is empty.
    VcpuEnterGuestMb,
    /// `kvm_vcpu_exit_request()`: load `vcpu->mode`; `EXITING_GUEST_MODE` cancels entry.
    VcpuEnterGuestCheckMode,
    /// `kvm_vcpu_exit_request()`: `kvm_request_pending()` load; any request cancels entry.
    VcpuEnterGuestCheckRequests,
    /// Cancelled entry: store `mode = OUTSIDE_GUEST_MODE` (+ `smp_wmb`, compiler-only on
    /// x86), back to the `vcpu_run` loop.
    VcpuEnterGuestAbort,
    /// `svm_vcpu_run`: VMRUN (local action; the hardware scans the vIRR).
    Vmrun,
    /// The guest runs; the thread waits for [`VcpuThread::on_exit`]. Not runnable.
    InGuest,
    /// After #VMEXIT: store `mode = OUTSIDE_GUEST_MODE` (+ `smp_wmb`), then dispatch on
    /// the exit (`svm_handle_exit`).
    ExitStoreMode,
    /// `avic_incomplete_ipi_interception`: decode EXITINFO1/2 and dispatch on the cause
    /// (local; §4 per variant).
    AvicIncompleteIpiInterception,
    /// `kvm_arch_vcpu_blocking` → `avic_vcpu_blocking` (V0 `svm_vcpu_blocking`:
    /// `avic_is_running = false`) → `avic_vcpu_put`: `READ_ONCE` of the entry (V5 shadow).
    AvicVcpuBlocking,
    /// `avic_vcpu_put` / `__avic_vcpu_put`: `WRITE_ONCE` of the entry with IsRunning=0, host
    /// id kept (V5 with `!enable_ipiv`: never reached, only the shadow changes).
    AvicVcpuPutStoreEntry {
        /// Caller.
        via: PutVia,
    },
    /// `kvm_sched_out` → `kvm_arch_vcpu_put` → `avic_vcpu_put`: `READ_ONCE` of the entry.
    KvmSchedOut,
    /// `kvm_sched_in` → `kvm_arch_vcpu_load` → `avic_vcpu_load`, first access (as
    /// [`Pc::KvmArchVcpuLoad`]).
    KvmSchedIn,
    /// `prepare_to_rcuwait`: `rcu_assign_pointer(w->task, current)` (release store).
    PrepareToRcuwait,
    /// `set_current_state(TASK_INTERRUPTIBLE)`: `smp_store_mb` = `xchg` (drains the store
    /// buffer); a plain store with [`Knobs::no_block_fences`].
    SetCurrentState,
    /// `kvm_vcpu_check_block`: `srcu_read_lock` → `__srcu_read_lock`: `smp_mb(); /* B */`
    /// after the counter increment, before any vIRR access (skipped with
    /// [`Knobs::no_block_fences`]). The matching `srcu_read_unlock` (fence C) at the end of
    /// the check is not a step: it follows the last vIRR load and precedes `schedule()`'s own
    /// fence, so under TSO it only drains the buffer earlier than the schedule might.
    CheckBlockSrcuReadLock,
    /// `kvm_vcpu_check_block` → ... → `apic_find_highest_irr`: load `apic->irr_pending`;
    /// false returns -1 without reading the IRR (`lapic.c`).
    CheckBlockIrrPending,
    /// `apic_search_irr` → `find_highest_vector`: load IRR register `reg` (scanning 7 down
    /// to 0, stopping at the first non-zero one). PPR is taken as 0 and RFLAGS.IF as 1.
    CheckBlockSearchIrr {
        /// IRR register index, 0..=7.
        reg: u8,
    },
    /// `schedule()`: `rq_lock` + `smp_mb__after_spinlock()` (a fence), then
    /// `READ_ONCE(prev->__state)`: sleeps unless a waker already set `TASK_RUNNING`.
    Schedule,
    /// `schedule()` decided to sleep: the context switch's `kvm_sched_out` →
    /// `kvm_arch_vcpu_put` → `svm_vcpu_put` → `avic_vcpu_put`: `READ_ONCE` of the entry
    /// (V2+ returns if IsRunning is already 0; V0 always writes it back with IsRunning=0).
    /// Not with [`Knobs::no_sleep_put`].
    ScheduleKvmSchedOut,
    /// Asleep in `schedule()`; not runnable until [`VcpuThread::on_wake`].
    Sleeping,
    /// Woken: `kvm_sched_in` → `kvm_arch_vcpu_load` → `avic_vcpu_load`, first access (as
    /// [`Pc::KvmArchVcpuLoad`]), before `schedule()` returns. Not with
    /// [`Knobs::no_sleep_put`].
    ScheduleKvmSchedIn,
    /// `schedule()` returns after a wake-up (local); the loop goes back to
    /// `set_current_state`.
    ScheduleReturn,
    /// `finish_rcuwait`: `rcu_assign_pointer(w->task, NULL)`.
    FinishRcuwait,
    /// `finish_rcuwait`: `__set_current_state(TASK_RUNNING)` (plain store).
    FinishRcuwaitSetRunning,
    /// `kvm_arch_vcpu_unblocking` → `avic_vcpu_unblocking` (V0 `svm_vcpu_unblocking`:
    /// `avic_is_running = true`) → `avic_vcpu_load`, first access (as
    /// [`Pc::KvmArchVcpuLoad`]).
    AvicVcpuUnblocking,
    /// A3 ([`Traits::stale_cpu_on_unblock`]): `avic_set_running` → `avic_vcpu_load(vcpu,
    /// vcpu->cpu)`, first access of the load after the `vcpu->cpu` load of
    /// [`Pc::AvicVcpuUnblocking`]; preemptible, like the rest of this load.
    AvicSetRunningLoad,
    /// A migration's context switch (`__schedule`: `rq_lock` + `smp_mb__after_spinlock`,
    /// a full barrier on the old CPU), after `kvm_sched_out`; the thread continues on `to`.
    ContextSwitch {
        /// Host CPU the thread moves to.
        to: u8,
    },
    /// `kvm_arch_vcpu_load` after `avic_vcpu_load`: `vcpu->cpu = cpu` (only when the CPU
    /// changed).
    KvmArchVcpuLoadSetCpu {
        /// Caller of the load.
        via: LoadVia,
    },
    /// `kvm_lapic_reg_write(apic, APIC_ICR2, icrh)`: store ICR2 in the sender's page.
    KvmLapicRegWriteIcr2,
    /// `kvm_lapic_reg_write(apic, APIC_ICR, icrl)` → `kvm_apic_send_ipi(apic, val,
    /// kvm_lapic_get_reg(apic, APIC_ICR2))`: load ICR2, then deliver per target.
    KvmLapicRegWriteIcrLoadIcr2,
    /// `kvm_lapic_set_reg(apic, APIC_ICR, val)` after the send: store ICR (BUSY clear).
    KvmLapicRegWriteIcrStore,
    /// V0 handler, ID=1: `avic_vcpu_is_running(target)`, `READ_ONCE` of its entry.
    AvicVcpuIsRunning,
    /// V3-fast (5.18 `avic_kick_target_vcpus_fast`, `7223fd2d5338`), xAPIC logical
    /// destination: `apic_id = avic_logical_id_table[index] & 0x1ff`, a load of the Logical
    /// APIC ID table entry at the exit's index (a physical index, read as a logical one).
    AvicKickTargetVcpusFastLogicalId,
    /// V3+ `avic_kick_target_vcpus`: store `target->arch.apic->irr_pending = true`.
    AvicKickVcpuIrrPending,
    /// V0-V2 `svm_deliver_avic_intr`: `if (!vcpu->arch.apicv_active) return -1;` (load).
    SvmDeliverAvicIntrApicvActive,
    /// `kvm_lapic_set_irr`: `kvm_lapic_set_vector` = locked `set_bit` on the target IRR.
    KvmLapicSetIrr,
    /// `kvm_lapic_set_irr`: `apic->irr_pending = true` (plain store, after the IRR).
    KvmLapicSetIrrPending,
    /// V0-V2 `svm_deliver_avic_intr` after `smp_mb__after_atomic()`: V0-V1b
    /// `avic_vcpu_is_running()` (load entry), V2 `vcpu->mode == IN_GUEST_MODE` (load).
    SvmDeliverAvicIntrCheckRunning,
    /// V3+ `svm_complete_interrupt_delivery`: `smp_load_acquire(&vcpu->mode)`.
    SvmCompleteInterruptDeliveryMode,
    /// V3+ `svm_complete_interrupt_delivery`: `READ_ONCE(apicv_active)`; inactive →
    /// `KVM_REQ_EVENT` + kick.
    SvmCompleteInterruptDeliveryApicvActive,
    /// `avic_ring_doorbell` (V0-V2 inline): `READ_ONCE(vcpu->cpu)`; skip if it is this CPU.
    AvicRingDoorbellLoadCpu,
    /// `wrmsr(MSR_AMD64_SVM_AVIC_DOORBELL, kvm_cpu_get_apicid(cpu))` (local action).
    AvicRingDoorbellWrmsr,
    /// `kvm_make_request(KVM_REQ_EVENT, target)`: `smp_wmb` + locked `set_bit`; then kick.
    KvmMakeRequest,
    /// `kvm_vcpu_wake_up` → `rcuwait_wake_up`: `smp_mb() /* (B) */` (skipped with
    /// [`Knobs::no_wake_up_mb`]).
    RcuwaitWakeUpMb,
    /// `rcuwait_wake_up`: `rcu_dereference(w->task)` (load of the target's `wait.task`).
    RcuwaitWakeUpLoadTask,
    /// `wake_up_process(task)`: `ttwu` state match, modelled as a locked cmpxchg of the
    /// target's state `TASK_INTERRUPTIBLE → TASK_RUNNING`, plus [`HostCtx::wake_thread`].
    WakeUpProcess,
    /// `kvm_vcpu_kick` when nothing was woken: `smp_mb__before_atomic();
    /// cmpxchg(&vcpu->mode, IN_GUEST_MODE, EXITING_GUEST_MODE)` (self: load own mode).
    KvmVcpuKickCmpxchgMode,
    /// `kvm_vcpu_kick`: `READ_ONCE(vcpu->cpu)`; IPI only if it is not this CPU.
    KvmVcpuKickLoadCpu,
    /// `smp_send_reschedule(cpu)` (local action).
    SmpSendReschedule,

    // APICv inhibition (`kvm/apicv.rs`).
    /// `kvm_check_request(KVM_REQ_APICV_UPDATE)`: locked `clear_bit` of the request.
    KvmCheckRequestApicvUpdate,
    /// `kvm_vcpu_update_apicv`: `down_read(&apicv_update_lock)` (a locked RMW, a full
    /// fence) and `kvm_apicv_activated()`: load `kvm->arch.apicv_inhibit_reasons`.
    KvmVcpuUpdateApicvReasons,
    /// `kvm_vcpu_update_apicv`: `apic->apicv_active = activate` (store).
    KvmVcpuUpdateApicvStoreActive,
    /// `kvm_apic_update_apicv`: activation stores `irr_pending = true`; V0-V2 deactivation
    /// recomputes it (this step is then the first IRR load, register 7).
    KvmApicUpdateApicv,
    /// V0-V2 deactivation: `apic_search_irr`, IRR register `reg` (7 down to 0).
    KvmApicUpdateApicvSearchIrr {
        /// IRR register index, 0..=7.
        reg: u8,
    },
    /// V0-V2 deactivation: store `irr_pending = (apic_search_irr(apic) != -1)`.
    KvmApicUpdateApicvStoreIrrPending,
    /// `avic_refresh_apicv_exec_ctrl`: the VMCB's `AVIC_ENABLE` (local), then (V2+) the
    /// `vcpu->cpu` load of `avic_vcpu_load(vcpu, vcpu->cpu)` or the entry load of
    /// `avic_vcpu_put(vcpu)`.
    AvicRefreshApicvExecCtrl,
    /// The refresh's `avic_vcpu_load`, first access (as [`Pc::KvmArchVcpuLoad`]).
    AvicRefreshLoad,
    /// `kvm_vcpu_update_apicv` after deactivating: `kvm_make_request(KVM_REQ_EVENT, vcpu)`.
    KvmVcpuUpdateApicvRequestEvent,
    /// `kvm_check_and_inject_events` (APICv inactive) → `kvm_cpu_has_injectable_intr` →
    /// `apic_find_highest_irr`: load `irr_pending`.
    InjectIrrPending,
    /// `apic_find_highest_irr`: IRR register `reg` (7 down to 0).
    InjectSearchIrr {
        /// IRR register index, 0..=7.
        reg: u8,
    },
    /// `kvm_cpu_get_interrupt` → `apic_clear_irr` (APICv inactive): `irr_pending = false`.
    ApicClearIrrPendingFalse,
    /// `apic_clear_irr`: locked clear of the IRR bit, with `apic_set_isr`'s ISR bit (both on
    /// the vCPU's own page, one step): the emulated LAPIC accepts the vector.
    KvmCpuGetInterrupt,
    /// `apic_clear_irr`: `apic_search_irr`, IRR register `reg` (7 down to 0).
    ApicClearIrrSearchIrr {
        /// IRR register index, 0..=7.
        reg: u8,
    },
    /// `apic_clear_irr`: another vector is pending, `irr_pending = true`.
    ApicClearIrrPendingTrue,
    /// Emulated EOI (`apic_set_eoi`): locked clear of the injected vector's ISR bit.
    ApicSetEoi,
    /// `apic_set_eoi`: `kvm_make_request(KVM_REQ_EVENT, vcpu)`.
    ApicSetEoiRequestEvent,
}

impl Pc {
    /// Kernel-style name of the step.
    pub fn name(self) -> &'static str {
        match self {
            Pc::KvmArchVcpuLoad => "kvm_arch_vcpu_load:avic_vcpu_load",
            Pc::AvicVcpuLoadEntry { .. } => "avic_vcpu_load:READ_ONCE(entry)",
            Pc::AvicVcpuLoadStoreEntry { .. } => "avic_vcpu_load:WRITE_ONCE(entry)",
            Pc::VcpuEnterGuestRequests => "vcpu_enter_guest:kvm_request_pending",
            Pc::KvmClearRequest => "kvm_check_request(KVM_REQ_EVENT)",
            Pc::VcpuEnterGuestStoreMode => "vcpu_enter_guest:mode=IN_GUEST_MODE",
            Pc::VcpuEnterGuestMb => "vcpu_enter_guest:srcu_read_unlock:smp_mb(C)",
            Pc::VcpuEnterGuestCheckMode => "kvm_vcpu_exit_request:mode",
            Pc::VcpuEnterGuestCheckRequests => "kvm_vcpu_exit_request:kvm_request_pending",
            Pc::VcpuEnterGuestAbort => "vcpu_enter_guest:cancel:mode=OUTSIDE_GUEST_MODE",
            Pc::Vmrun => "svm_vcpu_run:VMRUN",
            Pc::InGuest => "guest",
            Pc::ExitStoreMode => "vcpu_enter_guest:mode=OUTSIDE_GUEST_MODE",
            Pc::AvicIncompleteIpiInterception => "avic_incomplete_ipi_interception",
            Pc::AvicVcpuBlocking => "avic_vcpu_blocking:avic_vcpu_put:READ_ONCE(entry)",
            Pc::AvicVcpuPutStoreEntry { .. } => "avic_vcpu_put:WRITE_ONCE(entry)",
            Pc::KvmSchedOut => "kvm_sched_out:avic_vcpu_put:READ_ONCE(entry)",
            Pc::KvmSchedIn => "kvm_sched_in:avic_vcpu_load",
            Pc::PrepareToRcuwait => "prepare_to_rcuwait",
            Pc::SetCurrentState => "set_current_state(TASK_INTERRUPTIBLE)",
            Pc::CheckBlockSrcuReadLock => "kvm_vcpu_check_block:srcu_read_lock:smp_mb(B)",
            Pc::CheckBlockIrrPending => "kvm_vcpu_check_block:irr_pending",
            Pc::CheckBlockSearchIrr { .. } => "kvm_vcpu_check_block:apic_search_irr",
            Pc::Schedule => "schedule",
            Pc::ScheduleKvmSchedOut => "schedule:kvm_sched_out:avic_vcpu_put:READ_ONCE(entry)",
            Pc::Sleeping => "schedule:sleeping",
            Pc::ScheduleKvmSchedIn => "schedule:kvm_sched_in:avic_vcpu_load",
            Pc::ScheduleReturn => "schedule:woken",
            Pc::FinishRcuwait => "finish_rcuwait:task=NULL",
            Pc::FinishRcuwaitSetRunning => "finish_rcuwait:TASK_RUNNING",
            Pc::AvicVcpuUnblocking => "avic_vcpu_unblocking:avic_vcpu_load",
            Pc::AvicSetRunningLoad => "avic_set_running:avic_vcpu_load(vcpu->cpu)",
            Pc::ContextSwitch { .. } => "__schedule:context_switch(migrate)",
            Pc::KvmArchVcpuLoadSetCpu { .. } => "kvm_arch_vcpu_load:vcpu->cpu=cpu",
            Pc::KvmLapicRegWriteIcr2 => "kvm_lapic_reg_write(APIC_ICR2)",
            Pc::KvmLapicRegWriteIcrLoadIcr2 => "kvm_lapic_reg_write(APIC_ICR):kvm_apic_send_ipi",
            Pc::KvmLapicRegWriteIcrStore => "kvm_lapic_reg_write(APIC_ICR):kvm_lapic_set_reg",
            Pc::AvicVcpuIsRunning => "avic_vcpu_is_running",
            Pc::AvicKickTargetVcpusFastLogicalId => {
                "avic_kick_target_vcpus_fast:avic_logical_id_table[index]"
            }
            Pc::AvicKickVcpuIrrPending => "avic_kick_target_vcpus:irr_pending=true",
            Pc::SvmDeliverAvicIntrApicvActive => "svm_deliver_avic_intr:apicv_active",
            Pc::KvmLapicSetIrr => "kvm_lapic_set_irr:set_bit",
            Pc::KvmLapicSetIrrPending => "kvm_lapic_set_irr:irr_pending=true",
            Pc::SvmDeliverAvicIntrCheckRunning => "svm_deliver_avic_intr:is_running",
            Pc::SvmCompleteInterruptDeliveryMode => {
                "svm_complete_interrupt_delivery:smp_load_acquire(mode)"
            }
            Pc::SvmCompleteInterruptDeliveryApicvActive => {
                "svm_complete_interrupt_delivery:apicv_active"
            }
            Pc::AvicRingDoorbellLoadCpu => "avic_ring_doorbell:READ_ONCE(vcpu->cpu)",
            Pc::AvicRingDoorbellWrmsr => "avic_ring_doorbell:wrmsr",
            Pc::KvmMakeRequest => "kvm_make_request(KVM_REQ_EVENT)",
            Pc::RcuwaitWakeUpMb => "kvm_vcpu_wake_up:rcuwait_wake_up:smp_mb",
            Pc::RcuwaitWakeUpLoadTask => "kvm_vcpu_wake_up:rcuwait_wake_up:w->task",
            Pc::WakeUpProcess => "kvm_vcpu_wake_up:wake_up_process",
            Pc::KvmVcpuKickCmpxchgMode => "kvm_vcpu_kick:cmpxchg(mode)",
            Pc::KvmVcpuKickLoadCpu => "kvm_vcpu_kick:READ_ONCE(vcpu->cpu)",
            Pc::SmpSendReschedule => "kvm_vcpu_kick:smp_send_reschedule",
            Pc::KvmCheckRequestApicvUpdate => "kvm_check_request(KVM_REQ_APICV_UPDATE)",
            Pc::KvmVcpuUpdateApicvReasons => "kvm_vcpu_update_apicv:apicv_inhibit_reasons",
            Pc::KvmVcpuUpdateApicvStoreActive => "kvm_vcpu_update_apicv:apicv_active=activate",
            Pc::KvmApicUpdateApicv => "kvm_apic_update_apicv",
            Pc::KvmApicUpdateApicvSearchIrr { .. } => "kvm_apic_update_apicv:apic_search_irr",
            Pc::KvmApicUpdateApicvStoreIrrPending => "kvm_apic_update_apicv:irr_pending",
            Pc::AvicRefreshApicvExecCtrl => "avic_refresh_apicv_exec_ctrl",
            Pc::AvicRefreshLoad => "avic_refresh_apicv_exec_ctrl:avic_vcpu_load(vcpu->cpu)",
            Pc::KvmVcpuUpdateApicvRequestEvent => {
                "kvm_vcpu_update_apicv:kvm_make_request(KVM_REQ_EVENT)"
            }
            Pc::InjectIrrPending => "kvm_check_and_inject_events:irr_pending",
            Pc::InjectSearchIrr { .. } => "kvm_check_and_inject_events:apic_search_irr",
            Pc::ApicClearIrrPendingFalse => "apic_clear_irr:irr_pending=false",
            Pc::KvmCpuGetInterrupt => "kvm_cpu_get_interrupt:apic_clear_irr+apic_set_isr",
            Pc::ApicClearIrrSearchIrr { .. } => "apic_clear_irr:apic_search_irr",
            Pc::ApicClearIrrPendingTrue => "apic_clear_irr:irr_pending=true",
            Pc::ApicSetEoi => "apic_set_eoi:apic_clear_isr",
            Pc::ApicSetEoiRequestEvent => "apic_set_eoi:kvm_make_request(KVM_REQ_EVENT)",
        }
    }
}

// ----------------------------------------------------------------------------------------
// The vCPU thread
// ----------------------------------------------------------------------------------------

/// What the handler's per-target loop does for each destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum TargetAction {
    /// V0 ID=1: wake if the entry shows IsRunning=0.
    WakeIfNotRunning,
    /// V2 ID=1: wake.
    WakeUp,
    /// V3+ ID=1: `irr_pending = true` + complete delivery.
    KickIrrPending,
    /// Emulated ICR: `__apic_accept_irq` → software delivery of `vector`.
    Deliver,
}

/// Where the per-target loop goes when it runs out of targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum AfterTargets {
    /// Back to the `vcpu_run` loop.
    Done,
    /// `kvm_lapic_set_reg(apic, APIC_ICR, val)` first.
    StoreIcr,
}

/// What follows `kvm_lapic_set_irr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum AfterSetIrr {
    /// V0-V2 with APICv active: the running check.
    LegacyCheckRunning,
    /// V0-V2 `-1` fallback in `__apic_accept_irq`: `KVM_REQ_EVENT` + kick.
    FallbackRequest,
    /// V3+: `svm_complete_interrupt_delivery`.
    Complete,
}

/// One vCPU thread of KVM, on host CPU = vCPU id, as a step machine.
#[derive(Clone, Debug)]
pub struct VcpuThread {
    cfg: KvmConfig,
    traits: Traits,
    vcpu: u8,
    cpu: u8,
    pc: Pc,
    /// V0-V1b `svm->avic_is_running`.
    avic_is_running: bool,
    /// The entry as the kernel last wrote it (V5 `svm->avic_physical_id_entry`, before the
    /// `enable_ipiv` mask).
    shadow: u64,
    /// Entry value read by the current load/put.
    entry: u64,
    /// Continuation of a preemption.
    preempt_ret: Pc,
    /// `entry` of the preempted load, restored when it resumes (a local of its frame).
    preempt_entry: u64,
    /// Host CPU a pending preemption migrates the thread to.
    migrate_to: Option<u8>,
    /// `vcpu->cpu` as this thread last stored it.
    published_cpu: u8,
    /// The `vcpu->cpu` the unblocking load read (A3), else the current CPU.
    load_cpu: u8,
    /// Exit being handled.
    exit: GuestExit,
    /// An exit reported while not in the guest; returned as an error by the next step.
    stray_exit: Option<GuestExit>,
    // Handler state.
    icr_lo: u32,
    icr_hi: u32,
    vector: u8,
    targets: Targets,
    next: u8,
    cur: u8,
    action: TargetAction,
    after_targets: AfterTargets,
    after_set_irr: AfterSetIrr,
    in_kick: bool,
    in_guest_seen: bool,
    remote_cpu: u8,
    /// A waker set TASK_RUNNING while the sleep-time `kvm_sched_out` ran: `try_to_wake_up`
    /// waits for the context switch (`p->on_cpu`) and then makes the thread runnable.
    wake_pending: bool,
    /// EXITINFO2's index of the exit being handled (`& 0x1FF`, K518).
    exit_index: u16,
    /// `vcpu->arch.apicv_active` as this thread last stored it (its own checks read this;
    /// other threads load it from memory).
    apicv_active: bool,
    /// The VMCB's `AVIC_ENABLE`, given to VMRUN.
    vmcb_avic: bool,
    /// What `kvm_vcpu_update_apicv` is switching to.
    activate: bool,
    /// A vector queued for injection at the next VMRUN (`vcpu->arch.interrupt`), 0 if none.
    inject: u8,
    /// The injected vector the guest serves until its emulated EOI, 0 if none.
    isr_vec: u8,
    /// A search of the IRR found a vector (its value), 0 if not (yet).
    found: u8,
}

impl VcpuThread {
    /// The thread of `vcpu`, about to `vcpu_load` ([`Pc::KvmArchVcpuLoad`]). Memory must
    /// have been set up with [`KvmLayout::init_vcpu`].
    pub fn new(cfg: KvmConfig, vcpu: u8) -> Result<Self, KvmError> {
        if cfg.n_vcpus == 0 || usize::from(cfg.n_vcpus) > MAX_VCPUS {
            return Err(KvmError::Config("n_vcpus must be 1..=MAX_VCPUS"));
        }
        if vcpu >= cfg.n_vcpus {
            return Err(KvmError::Config("vcpu id out of range"));
        }
        if cfg.layout.sw_stride < 0x38 {
            return Err(KvmError::Config("sw_stride below 0x38"));
        }
        Ok(VcpuThread {
            cfg,
            traits: cfg.variant.traits(),
            vcpu,
            cpu: vcpu,
            pc: Pc::KvmArchVcpuLoad,
            avic_is_running: true,
            shadow: cfg.layout.initial_entry(vcpu),
            entry: 0,
            preempt_ret: Pc::VcpuEnterGuestRequests,
            preempt_entry: 0,
            migrate_to: None,
            published_cpu: vcpu,
            load_cpu: vcpu,
            exit: GuestExit::External,
            stray_exit: None,
            icr_lo: 0,
            icr_hi: 0,
            vector: 0,
            targets: Targets::default(),
            next: 0,
            cur: 0,
            action: TargetAction::Deliver,
            after_targets: AfterTargets::Done,
            after_set_irr: AfterSetIrr::Complete,
            in_kick: false,
            in_guest_seen: false,
            remote_cpu: 0,
            wake_pending: false,
            exit_index: 0,
            apicv_active: true,
            vmcb_avic: true,
            activate: true,
            inject: 0,
            isr_vec: 0,
            found: 0,
        })
    }

    /// The vCPU id (= APIC ID).
    pub fn vcpu(&self) -> u8 {
        self.vcpu
    }

    /// The host CPU the thread runs on.
    pub fn cpu(&self) -> u8 {
        self.cpu
    }

    /// Places the thread on host CPU `cpu` before its first step; memory's `vcpu->cpu`
    /// must hold `cpu` ([`KvmLayout::init_vcpu_on`]).
    pub fn place(&mut self, cpu: u8) {
        self.cpu = cpu;
        self.published_cpu = cpu;
        self.load_cpu = cpu;
    }

    /// The configuration.
    pub fn config(&self) -> &KvmConfig {
        &self.cfg
    }

    /// The next step.
    pub fn pc(&self) -> Pc {
        self.pc
    }

    /// Kernel-style name of the next step, for waveforms and logs.
    pub fn step_name(&self) -> &'static str {
        self.pc.name()
    }

    /// Whether [`VcpuThread::step`] may be called (not in the guest, not asleep).
    pub fn runnable(&self) -> bool {
        !matches!(self.pc, Pc::InGuest | Pc::Sleeping)
    }

    /// The guest runs on this vCPU's core.
    pub fn in_guest(&self) -> bool {
        self.pc == Pc::InGuest
    }

    /// In `vcpu_enter_guest` between the `vcpu->mode` store and VMRUN, where interrupts are
    /// disabled: a reschedule IPI arriving now is taken right after VMRUN (an immediate exit).
    pub fn entering_guest(&self) -> bool {
        matches!(
            self.pc,
            Pc::VcpuEnterGuestStoreMode
                | Pc::VcpuEnterGuestMb
                | Pc::VcpuEnterGuestCheckMode
                | Pc::VcpuEnterGuestCheckRequests
                | Pc::Vmrun
        )
    }

    /// The VMCB's `AVIC_ENABLE` as KVM last set it (`avic_refresh_apicv_exec_ctrl`).
    pub fn avic_enabled(&self) -> bool {
        self.vmcb_avic
    }

    /// The guest serves a vector KVM injected: its EOI is emulated ([`GuestExit::Eoi`]).
    pub fn serving_injected(&self) -> bool {
        self.isr_vec != 0
    }

    /// Asleep in `schedule()`.
    pub fn sleeping(&self) -> bool {
        self.pc == Pc::Sleeping
    }

    /// Asleep, or in the sleep-time `kvm_sched_out` after `schedule()` dequeued the thread:
    /// a wake-up ([`VcpuThread::on_wake`]) changes what it does next.
    pub fn wakeable(&self) -> bool {
        matches!(
            self.pc,
            Pc::Sleeping
                | Pc::ScheduleKvmSchedOut
                | Pc::AvicVcpuPutStoreEntry {
                    via: PutVia::Schedule
                }
        )
    }

    /// The destination the handler is working on, while it runs its per-target loop.
    pub fn current_target(&self) -> Option<u8> {
        (self.next > 0 && usize::from(self.next) <= self.targets.len()).then_some(self.cur)
    }

    /// The guest exited (the world saw the core leave guest mode). Ignored with an error on
    /// the next step if the thread was not in the guest.
    pub fn on_exit(&mut self, exit: GuestExit) {
        if self.pc == Pc::InGuest {
            self.exit = exit;
            self.pc = Pc::ExitStoreMode;
        } else {
            self.stray_exit = Some(exit);
        }
    }

    /// The scheduler made this thread runnable (after another thread's
    /// [`HostCtx::wake_thread`]). No effect unless it sleeps.
    /// While the sleep-time `kvm_sched_out` still runs, the wake-up takes effect when it is
    /// done (the thread is switched out and at once back in).
    pub fn on_wake(&mut self) {
        match self.pc {
            Pc::Sleeping => {
                self.pc = if self.cfg.knobs.no_sleep_put {
                    Pc::ScheduleReturn
                } else {
                    Pc::ScheduleKvmSchedIn
                };
            }
            Pc::ScheduleKvmSchedOut
            | Pc::AvicVcpuPutStoreEntry {
                via: PutVia::Schedule,
            } => self.wake_pending = true,
            _ => {}
        }
    }

    /// Whether the thread may be preempted before its next step: the `vcpu_run` loop, the
    /// wait loop of `kvm_vcpu_block`, and (before `18869f26df1a`, V0-V3) the windows around
    /// the blocking hooks. Not inside `avic_vcpu_load/put` (preemption disabled), the entry
    /// sequence (IRQs off), handler sub-steps, or while in the guest or asleep.
    pub fn preemptible(&self) -> bool {
        match self.pc {
            Pc::VcpuEnterGuestRequests
            | Pc::SetCurrentState
            | Pc::CheckBlockSrcuReadLock
            | Pc::CheckBlockIrrPending
            | Pc::CheckBlockSearchIrr { .. }
            | Pc::Schedule
            | Pc::ScheduleReturn
            | Pc::FinishRcuwait => true,
            Pc::PrepareToRcuwait | Pc::FinishRcuwaitSetRunning | Pc::AvicVcpuUnblocking => {
                self.traits.preemptible_block_hooks
            }
            Pc::AvicSetRunningLoad
            | Pc::AvicVcpuLoadEntry {
                via: LoadVia::Unblocking,
            }
            | Pc::AvicVcpuLoadStoreEntry {
                via: LoadVia::Unblocking,
            } => self.stale_cpu(),
            Pc::KvmApicUpdateApicv
            | Pc::KvmApicUpdateApicvSearchIrr { .. }
            | Pc::KvmApicUpdateApicvStoreIrrPending
            | Pc::AvicRefreshApicvExecCtrl => self.traits.preemptible_update_apicv,
            Pc::AvicRefreshLoad
            | Pc::AvicVcpuLoadEntry {
                via: LoadVia::Refresh,
            }
            | Pc::AvicVcpuLoadStoreEntry {
                via: LoadVia::Refresh,
            }
            | Pc::AvicVcpuPutStoreEntry {
                via: PutVia::Refresh,
            } => self.traits.preemptible_refresh,
            _ => false,
        }
    }

    /// Preempts the thread before its next step: `kvm_sched_out` (`avic_vcpu_put`) then
    /// `kvm_sched_in` (`avic_vcpu_load`, where C2 and the C2b window act), then it resumes.
    /// Returns false (and does nothing) if not [`VcpuThread::preemptible`].
    pub fn preempt(&mut self) -> bool {
        if !self.preemptible() {
            return false;
        }
        self.preempt_ret = self.pc;
        self.preempt_entry = self.entry;
        self.pc = Pc::KvmSchedOut;
        true
    }

    /// [`VcpuThread::preempt`], and the scheduler moves the thread to host CPU `cpu`
    /// before `kvm_sched_in` ([`Pc::ContextSwitch`]). Returns false (and does nothing) if not
    /// preemptible or `cpu` is the current one.
    pub fn migrate(&mut self, cpu: u8) -> bool {
        if cpu == self.cpu || !self.preempt() {
            return false;
        }
        self.migrate_to = Some(cpu);
        true
    }

    /// A3 applies: [`Traits::stale_cpu_on_unblock`] or [`Knobs::stale_cpu_on_unblock`].
    fn stale_cpu(&self) -> bool {
        self.traits.stale_cpu_on_unblock || self.cfg.knobs.stale_cpu_on_unblock
    }

    /// Performs exactly one shared-memory access or one local action and advances the pc.
    pub fn step(&mut self, ctx: &mut dyn HostCtx) -> Result<(), KvmError> {
        let step = self.step_name();
        if let Some(exit) = self.stray_exit.take() {
            return Err(KvmError::UnexpectedExit {
                vcpu: self.vcpu,
                exit,
                step,
            });
        }
        if !self.runnable() {
            return Err(KvmError::NotRunnable {
                vcpu: self.vcpu,
                step,
            });
        }
        self.exec(ctx).map_err(|source| KvmError::Mem {
            vcpu: self.vcpu,
            step,
            source,
        })
    }

    // ------------------------------------------------------------------------------------
    // Memory helpers (on this thread's host CPU)
    // ------------------------------------------------------------------------------------

    fn ld(&self, ctx: &mut dyn HostCtx, addr: u64) -> Result<u64, MemError> {
        ctx.mem().host_load(self.cpu, addr)
    }

    fn st(&self, ctx: &mut dyn HostCtx, addr: u64, val: u64) -> Result<(), MemError> {
        ctx.mem().host_store(self.cpu, addr, val, FULL_MASK)
    }

    // ------------------------------------------------------------------------------------
    // The step
    // ------------------------------------------------------------------------------------

    fn exec(&mut self, ctx: &mut dyn HostCtx) -> Result<(), MemError> {
        let l = self.cfg.layout;
        let me = self.vcpu;
        let k = self.cfg.knobs;
        match self.pc {
            // ---------------- avic_vcpu_load ----------------
            Pc::KvmArchVcpuLoad => self.load_first(ctx, LoadVia::VcpuLoad)?,
            Pc::KvmSchedIn => self.load_first(ctx, LoadVia::SchedIn)?,
            Pc::ScheduleKvmSchedIn => self.load_first(ctx, LoadVia::ScheduleWakeup)?,
            Pc::AvicVcpuUnblocking => {
                if self.traits.load_rule == LoadRule::AvicIsRunningFlag {
                    self.avic_is_running = true;
                }
                if self.stale_cpu() && self.apicv_active {
                    // `avic_vcpu_load(vcpu, vcpu->cpu)`: the argument is loaded once.
                    self.load_cpu = self.ld(ctx, l.vcpu_cpu(me))? as u8;
                    self.pc = Pc::AvicSetRunningLoad;
                } else {
                    self.load_cpu = self.cpu;
                    self.load_first(ctx, LoadVia::Unblocking)?;
                }
            }
            Pc::AvicSetRunningLoad => self.load_first(ctx, LoadVia::Unblocking)?,
            Pc::ContextSwitch { to } => {
                ctx.mem().fence(self.cpu);
                ctx.note(KvmEvent::Migrated {
                    vcpu: me,
                    from: self.cpu,
                    to,
                });
                self.cpu = to;
                self.pc = Pc::KvmSchedIn;
            }
            Pc::KvmArchVcpuLoadSetCpu { via } => {
                self.st(ctx, l.vcpu_cpu(me), u64::from(self.cpu))?;
                self.published_cpu = self.cpu;
                self.load_done(ctx, via);
            }
            Pc::AvicVcpuLoadEntry { via } => self.load_entry(ctx, via)?,
            Pc::AvicVcpuLoadStoreEntry { via } => {
                let mut e = PhysEntry::decode(self.entry);
                e.host_id = u16::from(if matches!(via, LoadVia::Unblocking | LoadVia::Refresh) {
                    self.load_cpu
                } else {
                    self.cpu
                });
                e.is_running = k.unconditional_running_on_load
                    || match self.traits.load_rule {
                        LoadRule::AvicIsRunningFlag => self.avic_is_running,
                        LoadRule::SkipIfBlocking => true,
                    };
                self.shadow = e.encode();
                if !self.traits.enable_ipiv {
                    e.is_running = false;
                }
                self.st(ctx, l.vm.phys_entry(me), e.encode())?;
                ctx.note(KvmEvent::AvicLoad {
                    vcpu: me,
                    is_running: e.is_running,
                });
                self.load_done(ctx, via);
            }

            // ---------------- vcpu_enter_guest ----------------
            Pc::VcpuEnterGuestRequests => {
                let r = self.ld(ctx, l.requests(me))?;
                self.pc = if r & (1 << KVM_REQ_APICV_UPDATE_BIT) != 0 {
                    Pc::KvmCheckRequestApicvUpdate
                } else if r & (1 << KVM_REQ_EVENT_BIT) != 0 {
                    Pc::KvmClearRequest
                } else {
                    Pc::VcpuEnterGuestStoreMode
                };
            }
            Pc::KvmClearRequest => {
                ctx.mem()
                    .host_lock_and_not(self.cpu, l.requests(me), 1 << KVM_REQ_EVENT_BIT)?;
                ctx.note(KvmEvent::RequestConsumed { vcpu: me });
                self.pc = if !self.apicv_active && self.inject == 0 && self.isr_vec == 0 {
                    Pc::InjectIrrPending
                } else {
                    Pc::VcpuEnterGuestStoreMode
                };
            }
            Pc::VcpuEnterGuestStoreMode => {
                ctx.mem()
                    .store_release(self.cpu, l.mode(me), IN_GUEST_MODE, FULL_MASK)?;
                self.pc = if k.no_enter_mb {
                    Pc::VcpuEnterGuestCheckMode
                } else {
                    Pc::VcpuEnterGuestMb
                };
            }
            Pc::VcpuEnterGuestMb => {
                ctx.mem().fence(self.cpu);
                self.pc = Pc::VcpuEnterGuestCheckMode;
            }
            Pc::VcpuEnterGuestCheckMode => {
                let m = self.ld(ctx, l.mode(me))?;
                self.pc = if m == EXITING_GUEST_MODE {
                    Pc::VcpuEnterGuestAbort
                } else {
                    Pc::VcpuEnterGuestCheckRequests
                };
            }
            Pc::VcpuEnterGuestCheckRequests => {
                let r = self.ld(ctx, l.requests(me))?;
                self.pc = if r != 0 {
                    Pc::VcpuEnterGuestAbort
                } else {
                    Pc::Vmrun
                };
            }
            Pc::VcpuEnterGuestAbort => {
                self.st(ctx, l.mode(me), OUTSIDE_GUEST_MODE)?;
                ctx.note(KvmEvent::EnterGuestAborted { vcpu: me });
                self.pc = Pc::VcpuEnterGuestRequests;
            }
            Pc::Vmrun => {
                ctx.note(KvmEvent::EnterGuest { vcpu: me });
                let inject = std::mem::take(&mut self.inject);
                ctx.vmrun(
                    me,
                    self.cpu,
                    self.vmcb_avic,
                    (inject != 0).then_some(inject),
                );
                if inject != 0 {
                    self.isr_vec = inject;
                }
                self.pc = Pc::InGuest;
            }
            // Not runnable: `step()` refuses them before getting here.
            Pc::InGuest | Pc::Sleeping => {}
            Pc::ExitStoreMode => {
                self.st(ctx, l.mode(me), OUTSIDE_GUEST_MODE)?;
                ctx.note(KvmEvent::Exit {
                    vcpu: me,
                    exit: self.exit,
                });
                self.pc = match self.exit {
                    GuestExit::Hlt => {
                        ctx.note(KvmEvent::Blocking { vcpu: me });
                        Pc::AvicVcpuBlocking
                    }
                    GuestExit::IncompleteIpi { .. } => Pc::AvicIncompleteIpiInterception,
                    GuestExit::External => Pc::VcpuEnterGuestRequests,
                    GuestExit::ApicAccess { info1 } => {
                        // `kvm_mmu_page_fault` → emulation of the xAPIC stores: ICR2, then
                        // ICR (`kvm_lapic_reg_write`), as the V0-V3 rewrite does.
                        self.icr_lo = info1 as u32;
                        self.icr_hi = (info1 >> 32) as u32;
                        self.emulate_icr(ctx, true);
                        self.pc
                    }
                    GuestExit::Eoi => Pc::ApicSetEoi,
                };
            }

            // ---------------- handler ----------------
            Pc::AvicIncompleteIpiInterception => self.interception(ctx),
            Pc::KvmLapicRegWriteIcr2 => {
                let addr = l.vm.backing(me) + ICR_HI;
                ctx.mem().host_store(
                    self.cpu,
                    addr,
                    u64::from(self.icr_hi & 0xFF00_0000),
                    REG32_MASK,
                )?;
                ctx.note(KvmEvent::ReEmulatedIcr {
                    vcpu: me,
                    icr_lo: self.icr_lo,
                    icr_hi: self.icr_hi,
                });
                self.pc = Pc::KvmLapicRegWriteIcrLoadIcr2;
            }
            Pc::KvmLapicRegWriteIcrLoadIcr2 => {
                let hi = self.ld(ctx, l.vm.backing(me) + ICR_HI)? as u32;
                self.icr_hi = hi;
                self.start_send_ipi(ctx, AfterTargets::StoreIcr);
            }
            Pc::KvmLapicRegWriteIcrStore => {
                let addr = l.vm.backing(me) + ICR_LO;
                ctx.mem()
                    .host_store(self.cpu, addr, u64::from(self.icr_lo), REG32_MASK)?;
                self.pc = Pc::VcpuEnterGuestRequests;
            }
            Pc::AvicVcpuIsRunning => {
                let e = self.ld(ctx, l.vm.phys_entry(self.cur))?;
                if PhysEntry::decode(e).is_running {
                    self.next_target();
                } else {
                    self.start_wake(false);
                }
            }
            Pc::AvicKickTargetVcpusFastLogicalId => {
                let addr = l.vm.log_table + 4 * u64::from(self.exit_index);
                let w = self.ld(ctx, addr & !7)?;
                let entry = if addr & 4 != 0 { w >> 32 } else { w } as u32;
                self.kick_fast_target(entry & 0x1ff);
            }
            Pc::AvicKickVcpuIrrPending => {
                self.st(ctx, l.irr_pending(self.cur), 1)?;
                ctx.note(KvmEvent::IrrPending {
                    from: me,
                    target: self.cur,
                });
                self.pc = Pc::SvmCompleteInterruptDeliveryMode;
            }

            // ---------------- software delivery ----------------
            Pc::SvmDeliverAvicIntrApicvActive => {
                let a = self.ld(ctx, l.apicv_active(self.cur))?;
                self.after_set_irr = if a != 0 {
                    AfterSetIrr::LegacyCheckRunning
                } else {
                    AfterSetIrr::FallbackRequest
                };
                self.pc = Pc::KvmLapicSetIrr;
            }
            Pc::KvmLapicSetIrr => {
                let v = self.vector;
                let addr = irr_word(l.vm.backing(self.cur), v);
                ctx.mem().host_lock_or(self.cpu, addr, vector_bit(v))?;
                ctx.note(KvmEvent::SetIrr {
                    from: me,
                    target: self.cur,
                    vector: v,
                });
                self.pc = Pc::KvmLapicSetIrrPending;
            }
            Pc::KvmLapicSetIrrPending => {
                self.st(ctx, l.irr_pending(self.cur), 1)?;
                self.pc = match self.after_set_irr {
                    AfterSetIrr::LegacyCheckRunning => Pc::SvmDeliverAvicIntrCheckRunning,
                    AfterSetIrr::FallbackRequest => Pc::KvmMakeRequest,
                    AfterSetIrr::Complete => Pc::SvmCompleteInterruptDeliveryMode,
                };
            }
            Pc::SvmDeliverAvicIntrCheckRunning => {
                let running = match self.traits.delivery_key {
                    DeliveryKey::IsRunning => {
                        PhysEntry::decode(self.ld(ctx, l.vm.phys_entry(self.cur))?).is_running
                    }
                    DeliveryKey::VcpuMode => self.ld(ctx, l.mode(self.cur))? == IN_GUEST_MODE,
                };
                if running {
                    self.pc = Pc::AvicRingDoorbellLoadCpu;
                } else {
                    match self.traits.not_running_delivery {
                        NotRunningDelivery::Wake => self.start_wake(false),
                        NotRunningDelivery::KickWithRequest => self.pc = Pc::KvmMakeRequest,
                    }
                }
            }
            Pc::SvmCompleteInterruptDeliveryMode => {
                let m = ctx.mem().load_acquire(self.cpu, l.mode(self.cur))?;
                self.in_guest_seen = m == IN_GUEST_MODE;
                self.pc = Pc::SvmCompleteInterruptDeliveryApicvActive;
            }
            Pc::SvmCompleteInterruptDeliveryApicvActive => {
                let a = self.ld(ctx, l.apicv_active(self.cur))?;
                if a == 0 {
                    self.pc = Pc::KvmMakeRequest;
                } else if self.in_guest_seen {
                    self.pc = Pc::AvicRingDoorbellLoadCpu;
                } else {
                    self.start_wake(false);
                }
            }
            Pc::AvicRingDoorbellLoadCpu => {
                let c = self.ld(ctx, l.vcpu_cpu(self.cur))?;
                if c != u64::from(self.cpu) {
                    self.remote_cpu = c as u8;
                    self.pc = Pc::AvicRingDoorbellWrmsr;
                } else {
                    self.next_target();
                }
            }
            Pc::AvicRingDoorbellWrmsr => {
                let host_id = u16::from(self.remote_cpu);
                ctx.ring_doorbell(host_id);
                ctx.note(KvmEvent::Doorbell {
                    from: me,
                    target: self.cur,
                    host_id,
                });
                self.next_target();
            }
            Pc::KvmMakeRequest => {
                ctx.mem()
                    .host_lock_or(self.cpu, l.requests(self.cur), 1 << KVM_REQ_EVENT_BIT)?;
                ctx.note(KvmEvent::Request {
                    from: me,
                    target: self.cur,
                });
                self.start_wake(true);
            }

            // ---------------- kvm_vcpu_wake_up / kvm_vcpu_kick ----------------
            Pc::RcuwaitWakeUpMb => {
                ctx.mem().fence(self.cpu);
                self.pc = Pc::RcuwaitWakeUpLoadTask;
            }
            Pc::RcuwaitWakeUpLoadTask => {
                let t = self.ld(ctx, l.wait_task(self.cur))?;
                if t != 0 {
                    self.pc = Pc::WakeUpProcess;
                } else {
                    self.wake_done(ctx, false);
                }
            }
            Pc::WakeUpProcess => {
                let old = ctx.mem().host_cmpxchg(
                    self.cpu,
                    l.task_state(self.cur),
                    TASK_INTERRUPTIBLE,
                    TASK_RUNNING,
                )?;
                let woken = old == TASK_INTERRUPTIBLE;
                if woken {
                    ctx.wake_thread(self.cur);
                }
                self.wake_done(ctx, woken);
            }
            Pc::KvmVcpuKickCmpxchgMode => {
                if self.cur == me {
                    // vcpu == kvm_running_vcpu: `if (vcpu->mode == IN_GUEST_MODE)
                    // WRITE_ONCE(vcpu->mode, EXITING_GUEST_MODE)`; the handler runs outside
                    // guest mode, so this is only the load.
                    self.ld(ctx, l.mode(me))?;
                    self.next_target();
                } else {
                    let old = ctx.mem().host_cmpxchg(
                        self.cpu,
                        l.mode(self.cur),
                        IN_GUEST_MODE,
                        EXITING_GUEST_MODE,
                    )?;
                    if old == IN_GUEST_MODE {
                        self.pc = Pc::KvmVcpuKickLoadCpu;
                    } else {
                        self.next_target();
                    }
                }
            }
            Pc::KvmVcpuKickLoadCpu => {
                let c = self.ld(ctx, l.vcpu_cpu(self.cur))?;
                if c != u64::from(self.cpu) {
                    self.remote_cpu = c as u8;
                    self.pc = Pc::SmpSendReschedule;
                } else {
                    self.next_target();
                }
            }
            Pc::KvmCheckRequestApicvUpdate
            | Pc::KvmVcpuUpdateApicvReasons
            | Pc::KvmVcpuUpdateApicvStoreActive
            | Pc::KvmApicUpdateApicv
            | Pc::KvmApicUpdateApicvSearchIrr { .. }
            | Pc::KvmApicUpdateApicvStoreIrrPending
            | Pc::AvicRefreshApicvExecCtrl
            | Pc::AvicRefreshLoad
            | Pc::KvmVcpuUpdateApicvRequestEvent
            | Pc::InjectIrrPending
            | Pc::InjectSearchIrr { .. }
            | Pc::ApicClearIrrPendingFalse
            | Pc::KvmCpuGetInterrupt
            | Pc::ApicClearIrrSearchIrr { .. }
            | Pc::ApicClearIrrPendingTrue
            | Pc::ApicSetEoi
            | Pc::ApicSetEoiRequestEvent => self.exec_apicv(ctx)?,
            Pc::SmpSendReschedule => {
                ctx.kick_ipi(self.remote_cpu);
                ctx.note(KvmEvent::KickIpi {
                    from: me,
                    target: self.cur,
                    host_cpu: self.remote_cpu,
                });
                self.next_target();
            }

            // ---------------- kvm_vcpu_block ----------------
            Pc::AvicVcpuBlocking => {
                if self.traits.load_rule == LoadRule::AvicIsRunningFlag {
                    self.avic_is_running = false;
                }
                self.put_first(ctx, PutVia::Blocking)?;
            }
            Pc::KvmSchedOut => {
                ctx.note(KvmEvent::Preempted { vcpu: me });
                self.put_first(ctx, PutVia::SchedOut)?;
            }
            Pc::ScheduleKvmSchedOut => self.put_first(ctx, PutVia::Schedule)?,
            Pc::AvicVcpuPutStoreEntry { via } => {
                let e = self.entry & !IR_MASK;
                self.st(ctx, l.vm.phys_entry(me), e)?;
                self.shadow = e;
                ctx.note(KvmEvent::AvicPut { vcpu: me });
                self.put_done(ctx, via);
            }
            Pc::PrepareToRcuwait => {
                ctx.mem().store_release(
                    self.cpu,
                    l.wait_task(me),
                    KvmLayout::task_id(me),
                    FULL_MASK,
                )?;
                self.pc = Pc::SetCurrentState;
            }
            Pc::SetCurrentState => {
                if k.no_block_fences {
                    self.st(ctx, l.task_state(me), TASK_INTERRUPTIBLE)?;
                    self.pc = Pc::CheckBlockIrrPending;
                } else {
                    ctx.mem()
                        .host_xchg(self.cpu, l.task_state(me), TASK_INTERRUPTIBLE)?;
                    self.pc = Pc::CheckBlockSrcuReadLock;
                }
            }
            Pc::CheckBlockSrcuReadLock => {
                ctx.mem().fence(self.cpu);
                self.pc = Pc::CheckBlockIrrPending;
            }
            Pc::CheckBlockIrrPending => {
                if self.ld(ctx, l.irr_pending(me))? != 0 {
                    self.pc = Pc::CheckBlockSearchIrr { reg: 7 };
                } else {
                    ctx.note(KvmEvent::CheckBlock {
                        vcpu: me,
                        irr_seen: false,
                    });
                    self.pc = Pc::Schedule;
                }
            }
            Pc::CheckBlockSearchIrr { reg } => {
                let addr = l.vm.backing(me) + IRR + 0x10 * u64::from(reg);
                let w = self.ld(ctx, addr)? as u32;
                if w != 0 {
                    ctx.note(KvmEvent::CheckBlock {
                        vcpu: me,
                        irr_seen: true,
                    });
                    self.pc = Pc::FinishRcuwait;
                } else if reg == 0 {
                    ctx.note(KvmEvent::CheckBlock {
                        vcpu: me,
                        irr_seen: false,
                    });
                    self.pc = Pc::Schedule;
                } else {
                    self.pc = Pc::CheckBlockSearchIrr { reg: reg - 1 };
                }
            }
            Pc::Schedule => {
                ctx.mem().fence(self.cpu);
                if self.ld(ctx, l.task_state(me))? == TASK_RUNNING {
                    self.pc = Pc::SetCurrentState;
                } else if k.no_sleep_put {
                    ctx.note(KvmEvent::Sleep { vcpu: me });
                    self.pc = Pc::Sleeping;
                } else {
                    self.pc = Pc::ScheduleKvmSchedOut;
                }
            }
            Pc::ScheduleReturn => {
                ctx.note(KvmEvent::Woken { vcpu: me });
                self.pc = Pc::SetCurrentState;
            }
            Pc::FinishRcuwait => {
                ctx.mem()
                    .store_release(self.cpu, l.wait_task(me), 0, FULL_MASK)?;
                self.pc = Pc::FinishRcuwaitSetRunning;
            }
            Pc::FinishRcuwaitSetRunning => {
                self.st(ctx, l.task_state(me), TASK_RUNNING)?;
                self.pc = Pc::AvicVcpuUnblocking;
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------
    // avic_vcpu_load / avic_vcpu_put
    // ------------------------------------------------------------------------------------

    /// First access of `avic_vcpu_load`: the `kvm_vcpu_is_blocking()` load (V2+, unless C2),
    /// else the entry load.
    fn load_first(&mut self, ctx: &mut dyn HostCtx, via: LoadVia) -> Result<(), MemError> {
        if !self.apicv_active && via != LoadVia::Refresh {
            // `svm_vcpu_load` / `avic_vcpu_unblocking`: `if (kvm_vcpu_apicv_active(vcpu))`
            // (`bf5f6b9d7ad6` moved the check to the callers; V0 has it inside).
            self.load_done(ctx, via);
            return Ok(());
        }
        let checks = self.traits.load_rule == LoadRule::SkipIfBlocking
            && !self.cfg.knobs.unconditional_running_on_load;
        if !checks {
            return self.load_entry(ctx, via);
        }
        let t = self.ld(ctx, self.cfg.layout.wait_task(self.vcpu))?;
        if t != 0 {
            ctx.note(KvmEvent::AvicLoadSkipped { vcpu: self.vcpu });
            self.load_done(ctx, via);
        } else {
            self.pc = Pc::AvicVcpuLoadEntry { via };
        }
        Ok(())
    }

    fn load_entry(&mut self, ctx: &mut dyn HostCtx, via: LoadVia) -> Result<(), MemError> {
        self.entry = if self.traits.shadow_entry {
            self.shadow
        } else {
            self.ld(ctx, self.cfg.layout.vm.phys_entry(self.vcpu))?
        };
        self.pc = Pc::AvicVcpuLoadStoreEntry { via };
        Ok(())
    }

    fn load_done(&mut self, ctx: &mut dyn HostCtx, via: LoadVia) {
        if self.published_cpu != self.cpu {
            self.pc = Pc::KvmArchVcpuLoadSetCpu { via };
            return;
        }
        if via == LoadVia::SchedIn {
            self.entry = self.preempt_entry;
        }
        self.pc = match via {
            LoadVia::VcpuLoad => Pc::VcpuEnterGuestRequests,
            LoadVia::Unblocking => {
                ctx.note(KvmEvent::Unblocked { vcpu: self.vcpu });
                Pc::VcpuEnterGuestRequests
            }
            LoadVia::SchedIn => self.preempt_ret,
            LoadVia::ScheduleWakeup => Pc::ScheduleReturn,
            LoadVia::Refresh => Pc::VcpuEnterGuestRequests,
        };
    }

    /// First access of `avic_vcpu_put`: the entry load (V5: the shadow, local); returns early
    /// if IsRunning is already 0 (V2+); V5 `!enable_ipiv` changes only the shadow.
    fn put_first(&mut self, ctx: &mut dyn HostCtx, via: PutVia) -> Result<(), MemError> {
        if !self.apicv_active && via != PutVia::Refresh {
            // `svm_vcpu_put` / `avic_vcpu_blocking`: nothing while APICv is inactive.
            self.put_done(ctx, via);
            return Ok(());
        }
        let e = if self.traits.shadow_entry {
            self.shadow
        } else {
            self.ld(ctx, self.cfg.layout.vm.phys_entry(self.vcpu))?
        };
        self.entry = e;
        if self.traits.put_skips_if_not_running && e & IR_MASK == 0 {
            self.put_done(ctx, via);
        } else if !self.traits.enable_ipiv {
            self.shadow = e & !IR_MASK;
            ctx.note(KvmEvent::AvicPut { vcpu: self.vcpu });
            self.put_done(ctx, via);
        } else {
            self.pc = Pc::AvicVcpuPutStoreEntry { via };
        }
        Ok(())
    }

    fn put_done(&mut self, ctx: &mut dyn HostCtx, via: PutVia) {
        self.pc = match via {
            PutVia::Blocking => Pc::PrepareToRcuwait,
            PutVia::Schedule if std::mem::take(&mut self.wake_pending) => Pc::ScheduleKvmSchedIn,
            PutVia::Schedule => {
                ctx.note(KvmEvent::Sleep { vcpu: self.vcpu });
                Pc::Sleeping
            }
            PutVia::SchedOut => match self.migrate_to.take() {
                Some(to) => Pc::ContextSwitch { to },
                None => Pc::KvmSchedIn,
            },
            PutVia::Refresh => Pc::KvmVcpuUpdateApicvRequestEvent,
        };
    }

    // ------------------------------------------------------------------------------------
    // Handler dispatch and the per-target loop
    // ------------------------------------------------------------------------------------

    /// `avic_incomplete_ipi_interception` (local): decode and dispatch per [`Traits`].
    fn interception(&mut self, ctx: &mut dyn HostCtx) {
        let GuestExit::IncompleteIpi { info1, info2 } = self.exit else {
            self.pc = Pc::VcpuEnterGuestRequests;
            return;
        };
        let x = ExitInfo::decode(info1, info2);
        self.icr_lo = x.icr_lo;
        self.icr_hi = x.icr_hi;
        let t = self.traits;
        match x.cause() {
            Some(Cause::InvalidIntType) => self.emulate_icr(ctx, t.rewrite_icr),
            Some(Cause::TargetNotRunning) => match t.not_running {
                NotRunningHandler::WakeIfNotRunning => {
                    self.start_targets(TargetAction::WakeIfNotRunning)
                }
                NotRunningHandler::ReEmulateIcr => self.emulate_icr(ctx, true),
                NotRunningHandler::WakeAll => self.start_targets(TargetAction::WakeUp),
                NotRunningHandler::KickWithIrrPending if t.fast_path_518 => {
                    self.kick_fast_518(x.index & 0x1FF)
                }
                NotRunningHandler::KickWithIrrPending => {
                    self.start_targets(TargetAction::KickIrrPending)
                }
            },
            Some(Cause::InvalidTarget) if t.emulate_invalid_target => self.emulate_icr(ctx, false),
            _ => {
                ctx.note(KvmEvent::IgnoredIncompleteIpi {
                    vcpu: self.vcpu,
                    cause_id: x.cause_id,
                });
                self.pc = Pc::VcpuEnterGuestRequests;
            }
        }
    }

    /// V0-V3 `kvm_lapic_reg_write(ICR2); kvm_lapic_reg_write(ICR)` (`rewrite`), or V4+
    /// `kvm_apic_send_ipi(apic, icrl, icrh)` (BUSY: `kvm_apic_write_nodecode`, which sends
    /// the same value: the trap already wrote it to the page).
    fn emulate_icr(&mut self, ctx: &mut dyn HostCtx, rewrite: bool) {
        self.icr_lo &= !APIC_ICR_BUSY;
        if rewrite {
            self.pc = Pc::KvmLapicRegWriteIcr2;
        } else {
            ctx.note(KvmEvent::EmulatedIcr {
                vcpu: self.vcpu,
                icr_lo: self.icr_lo,
                icr_hi: self.icr_hi,
            });
            self.start_send_ipi(ctx, AfterTargets::Done);
        }
    }

    /// `kvm_apic_send_ipi` → `kvm_irq_delivery_to_apic` → `__apic_accept_irq` per target.
    fn start_send_ipi(&mut self, ctx: &mut dyn HostCtx, after: AfterTargets) {
        let icr = Icr::decode(self.icr_lo, self.icr_hi);
        self.vector = icr.vector;
        self.targets = decode_targets(&icr, self.vcpu, &self.cfg);
        match icr.delivery_mode {
            0 => {}
            // APIC_DM_LOWEST: one target (arbitration; the first here).
            1 => self.targets.truncate(1),
            m => {
                ctx.note(KvmEvent::UnmodeledDelivery {
                    vcpu: self.vcpu,
                    delivery_mode: m,
                });
                self.targets = Targets::default();
            }
        }
        // APIC_DM_FIXED: `if (unlikely(trig_mode && !level)) break;`
        if icr.trigger_level && !icr.level {
            self.targets = Targets::default();
        }
        self.action = TargetAction::Deliver;
        self.after_targets = after;
        self.next = 0;
        self.next_target();
    }

    /// The `kvm_for_each_vcpu` + `kvm_apic_match_dest` loop of the ID=1 handlers.
    fn start_targets(&mut self, action: TargetAction) {
        let icr = Icr::decode(self.icr_lo, self.icr_hi);
        self.vector = icr.vector;
        self.targets = decode_targets(&icr, self.vcpu, &self.cfg);
        self.action = action;
        self.after_targets = AfterTargets::Done;
        self.next = 0;
        self.next_target();
    }

    /// 5.18's `avic_kick_target_vcpus_fast` as shipped (`7223fd2d5338`, read in
    /// `torvalds/linux@36fb3cbb`): a shorthand takes the slow loop; a physical destination
    /// takes `apic_id = index`; an xAPIC logical one reads `avic_logical_id_table[index]`
    /// ([`Pc::AvicKickTargetVcpusFastLogicalId`]). Then [`VcpuThread::kick_fast_target`].
    fn kick_fast_518(&mut self, index: u16) {
        let icr = Icr::decode(self.icr_lo, self.icr_hi);
        if icr.shorthand != Shorthand::None {
            return self.start_targets(TargetAction::KickIrrPending);
        }
        if icr.logical {
            self.exit_index = index;
            self.pc = Pc::AvicKickTargetVcpusFastLogicalId;
        } else {
            self.kick_fast_target(u32::from(index));
        }
    }

    /// The rest of the 5.18 fast path: `kvm_get_vcpu_by_id(kvm, apic_id)` (none: slow loop),
    /// then `if (kvm_apic_match_dest(vcpu, source, shorthand, dest, dest_mode))` that one
    /// vCPU gets `irr_pending = true` + `svm_complete_interrupt_delivery` and the function
    /// returns 0, so no other target is kicked; no match: the slow loop.
    fn kick_fast_target(&mut self, apic_id: u32) {
        let icr = Icr::decode(self.icr_lo, self.icr_hi);
        let all = decode_targets(&icr, self.vcpu, &self.cfg);
        match u8::try_from(apic_id) {
            Ok(id) if id < self.cfg.n_vcpus && all.as_slice().contains(&id) => {
                self.vector = icr.vector;
                let mut one = Targets::default();
                one.push(id);
                self.targets = one;
                self.action = TargetAction::KickIrrPending;
                self.after_targets = AfterTargets::Done;
                self.next = 0;
                self.next_target();
            }
            _ => self.start_targets(TargetAction::KickIrrPending),
        }
    }

    /// Moves to the first step for the next target, or past the loop.
    fn next_target(&mut self) {
        if usize::from(self.next) < self.targets.len() {
            self.cur = self.targets.as_slice()[usize::from(self.next)];
            self.next += 1;
            match self.action {
                TargetAction::WakeIfNotRunning => self.pc = Pc::AvicVcpuIsRunning,
                TargetAction::WakeUp => self.start_wake(false),
                TargetAction::KickIrrPending => {
                    self.pc = if self.cfg.knobs.no_irr_pending_update {
                        Pc::SvmCompleteInterruptDeliveryMode
                    } else {
                        Pc::AvicKickVcpuIrrPending
                    };
                }
                TargetAction::Deliver => match self.traits.delivery {
                    DeliveryPath::Legacy => self.pc = Pc::SvmDeliverAvicIntrApicvActive,
                    DeliveryPath::Complete => {
                        self.after_set_irr = AfterSetIrr::Complete;
                        self.pc = Pc::KvmLapicSetIrr;
                    }
                },
            }
        } else {
            self.next = self.targets.len() as u8 + 1;
            self.pc = match self.after_targets {
                AfterTargets::Done => Pc::VcpuEnterGuestRequests,
                AfterTargets::StoreIcr => Pc::KvmLapicRegWriteIcrStore,
            };
        }
    }

    /// `kvm_vcpu_wake_up(cur)`; `kick`: as the first half of `kvm_vcpu_kick`.
    fn start_wake(&mut self, kick: bool) {
        self.in_kick = kick;
        self.pc = if self.cfg.knobs.no_wake_up_mb {
            Pc::RcuwaitWakeUpLoadTask
        } else {
            Pc::RcuwaitWakeUpMb
        };
    }

    fn wake_done(&mut self, ctx: &mut dyn HostCtx, woken: bool) {
        ctx.note(KvmEvent::WakeUp {
            from: self.vcpu,
            target: self.cur,
            woken,
        });
        if self.in_kick && !woken {
            self.pc = Pc::KvmVcpuKickCmpxchgMode;
        } else {
            self.next_target();
        }
    }
}

// ----------------------------------------------------------------------------------------
// Tests
// ----------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// A host context over a bare memory that records everything.
    #[derive(Clone)]
    struct Fake {
        mem: Memory,
        events: Vec<KvmEvent>,
        vmruns: Vec<u8>,
        doorbells: Vec<u16>,
        wakes: Vec<u8>,
        kicks: Vec<u8>,
        /// Address whose global value is recorded at every `wake_thread`.
        watch: u64,
        watched: Vec<u64>,
    }

    impl Fake {
        fn new(cfg: &KvmConfig) -> Self {
            let mut mem = Memory::new(cfg.layout.mem_size(cfg.n_vcpus), cfg.n_vcpus);
            for v in 0..cfg.n_vcpus {
                cfg.layout.init_vcpu(&mut mem, v).unwrap();
            }
            Fake {
                mem,
                events: Vec::new(),
                vmruns: Vec::new(),
                doorbells: Vec::new(),
                wakes: Vec::new(),
                kicks: Vec::new(),
                watch: 0,
                watched: Vec::new(),
            }
        }

        fn drain(&mut self, cpu: u8) {
            while self.mem.drain_one(cpu) {}
        }
    }

    impl HostCtx for Fake {
        fn mem(&mut self) -> &mut Memory {
            &mut self.mem
        }
        fn vmrun(&mut self, vcpu: u8, _cpu: u8, _avic: bool, _inject: Option<u8>) {
            self.vmruns.push(vcpu);
        }
        fn ring_doorbell(&mut self, host_id: u16) {
            self.doorbells.push(host_id);
        }
        fn wake_thread(&mut self, vcpu: u8) {
            self.wakes.push(vcpu);
            let w = self.mem.peek(self.watch).unwrap();
            self.watched.push(w);
        }
        fn kick_ipi(&mut self, host_cpu: u8) {
            self.kicks.push(host_cpu);
        }
        fn note(&mut self, ev: KvmEvent) {
            self.events.push(ev);
        }
    }

    /// Steps `th` until `stop(pc)` holds (checked after each step), at most 200 steps.
    fn run_until(th: &mut VcpuThread, ctx: &mut Fake, stop: impl Fn(Pc) -> bool) {
        for _ in 0..200 {
            th.step(ctx).unwrap();
            if stop(th.pc()) {
                return;
            }
        }
        panic!("no stop after 200 steps, at {}", th.step_name());
    }

    fn entry(cfg: &KvmConfig, vcpu: u8, running: bool, host: u16) -> u64 {
        PhysEntry {
            valid: true,
            is_running: running,
            backing: cfg.layout.vm.backing(vcpu),
            host_id: host,
        }
        .encode()
    }

    /// A thread of `vcpu` loaded and in the guest, with its stores drained.
    fn in_guest(cfg: &KvmConfig, ctx: &mut Fake, vcpu: u8) -> VcpuThread {
        let mut th = VcpuThread::new(*cfg, vcpu).unwrap();
        run_until(&mut th, ctx, |pc| pc == Pc::InGuest);
        ctx.drain(vcpu);
        let ir = cfg.variant != KvmVariant::V5;
        assert_eq!(
            ctx.mem.peek(cfg.layout.vm.phys_entry(vcpu)).unwrap(),
            entry(cfg, vcpu, ir, u16::from(vcpu))
        );
        th
    }

    #[test]
    fn block_without_interrupt_sleeps_with_is_running_clear() {
        for v in KvmVariant::ALL {
            let cfg = KvmConfig::new(v, 2);
            let mut ctx = Fake::new(&cfg);
            let mut th = in_guest(&cfg, &mut ctx, 0);
            assert_eq!(ctx.vmruns, vec![0]);
            assert!(!th.runnable());
            th.on_exit(GuestExit::Hlt);
            run_until(&mut th, &mut ctx, |pc| pc == Pc::Sleeping);
            assert!(!th.runnable(), "{v:?}");
            assert_eq!(th.step_name(), "schedule:sleeping");
            // The fences of set_current_state / SRCU / schedule made the blocking IR=0 global.
            // V0-V1b's sleep-time avic_vcpu_put writes the entry once more (it has no
            // early return); V2+ return early because IsRunning is already 0.
            let again = matches!(v, KvmVariant::V0 | KvmVariant::V1 | KvmVariant::V1b);
            assert_eq!(ctx.mem.sb_len(0), usize::from(again), "{v:?}");
            ctx.drain(0);
            let l = cfg.layout;
            assert_eq!(
                ctx.mem.peek(l.vm.phys_entry(0)).unwrap(),
                entry(&cfg, 0, false, 0)
            );
            assert_eq!(ctx.mem.peek(l.wait_task(0)).unwrap(), 1);
            assert_eq!(ctx.mem.peek(l.task_state(0)).unwrap(), TASK_INTERRUPTIBLE);
            assert_eq!(ctx.mem.peek(l.mode(0)).unwrap(), OUTSIDE_GUEST_MODE);
            let tail: Vec<_> = ctx
                .events
                .iter()
                .rev()
                .filter(|e| !matches!(e, KvmEvent::AvicPut { .. }))
                .take(2)
                .copied()
                .collect();
            assert_eq!(
                tail,
                vec![
                    KvmEvent::Sleep { vcpu: 0 },
                    KvmEvent::CheckBlock {
                        vcpu: 0,
                        irr_seen: false
                    }
                ],
                "{v:?}"
            );
            assert!(matches!(
                th.step(&mut ctx),
                Err(KvmError::NotRunnable { vcpu: 0, .. })
            ));
            // A wake-up brings it back to set_current_state.
            th.on_wake();
            assert_eq!(th.pc(), Pc::ScheduleKvmSchedIn);
        }
    }

    #[test]
    fn block_with_irr_set_does_not_sleep() {
        for v in KvmVariant::ALL {
            let cfg = KvmConfig::new(v, 2);
            let mut ctx = Fake::new(&cfg);
            let l = cfg.layout;
            let mut th = in_guest(&cfg, &mut ctx, 0);
            ctx.mem
                .poke(irr_word(l.vm.backing(0), 0x41), vector_bit(0x41))
                .unwrap();
            th.on_exit(GuestExit::Hlt);
            run_until(&mut th, &mut ctx, |pc| pc == Pc::VcpuEnterGuestRequests);
            ctx.drain(0);
            let ir = v != KvmVariant::V5;
            assert_eq!(
                ctx.mem.peek(l.vm.phys_entry(0)).unwrap(),
                entry(&cfg, 0, ir, 0),
                "{v:?}"
            );
            assert_eq!(ctx.mem.peek(l.wait_task(0)).unwrap(), 0);
            assert_eq!(ctx.mem.peek(l.task_state(0)).unwrap(), TASK_RUNNING);
            assert!(!ctx.events.contains(&KvmEvent::Sleep { vcpu: 0 }));
            assert!(ctx.events.contains(&KvmEvent::CheckBlock {
                vcpu: 0,
                irr_seen: true
            }));
            assert_eq!(ctx.events.last(), Some(&KvmEvent::Unblocked { vcpu: 0 }));
            // It goes on into the guest.
            run_until(&mut th, &mut ctx, |pc| pc == Pc::InGuest);
            assert_eq!(ctx.vmruns, vec![0, 0]);
        }
    }

    /// Explores every interleaving of the blocking thread's steps with drains of its store
    /// buffer, from the HLT exit to `schedule()`. Returns whether some order has an IRR
    /// register load happen while the table entry in global memory still says IsRunning=1.
    /// `plain_scs`: `set_current_state` as a plain store, SRCU's fence B kept (no knob does
    /// that; it isolates what fence B does).
    fn irr_read_before_ir_clear_visible(knobs: Knobs, plain_scs: bool) -> bool {
        fn go(
            th: &VcpuThread,
            ctx: &Fake,
            cfg: &KvmConfig,
            plain_scs: bool,
            paths: &mut usize,
        ) -> bool {
            if matches!(th.pc(), Pc::Sleeping | Pc::FinishRcuwait) {
                *paths += 1;
                return false;
            }
            let entry_addr = cfg.layout.vm.phys_entry(0);
            let mut found = false;
            if ctx.mem.sb_len(0) > 0 {
                let mut c = ctx.clone();
                c.mem.drain_one(0);
                found |= go(th, &c, cfg, plain_scs, paths);
            }
            let mut t = th.clone();
            let mut c = ctx.clone();
            if let Pc::CheckBlockSearchIrr { .. } = t.pc() {
                let global = PhysEntry::decode(c.mem.peek(entry_addr).unwrap());
                let seen = c.mem.visible_to(0, entry_addr).unwrap();
                assert!(!PhysEntry::decode(seen).is_running);
                if global.is_running {
                    found = true;
                }
            }
            if plain_scs && t.pc() == Pc::SetCurrentState {
                let a = cfg.layout.task_state(0);
                c.mem
                    .host_store(0, a, TASK_INTERRUPTIBLE, FULL_MASK)
                    .unwrap();
                t.pc = Pc::CheckBlockSrcuReadLock;
            } else {
                t.step(&mut c).unwrap();
            }
            found |= go(&t, &c, cfg, plain_scs, paths);
            found
        }
        let cfg = KvmConfig::new(KvmVariant::V2, 1).with_knobs(knobs);
        let mut ctx = Fake::new(&cfg);
        ctx.mem.set_logging(false);
        let mut th = in_guest(&cfg, &mut ctx, 0);
        th.on_exit(GuestExit::Hlt);
        th.step(&mut ctx).unwrap(); // mode = OUTSIDE_GUEST_MODE
        ctx.drain(0);
        assert_eq!(th.pc(), Pc::AvicVcpuBlocking);
        let mut paths = 0;
        let found = go(&th, &ctx, &cfg, plain_scs, &mut paths);
        assert!(paths > 1);
        found
    }

    #[test]
    fn litmus_set_current_state_mb_orders_ir_clear_before_irr_read() {
        let knob = Knobs {
            no_block_fences: true,
            ..Knobs::default()
        };
        assert!(irr_read_before_ir_clear_visible(knob, false));
        assert!(!irr_read_before_ir_clear_visible(Knobs::default(), false));
    }

    /// SRCU's `smp_mb(); /* B */` in `kvm_vcpu_check_block`'s `srcu_read_lock` alone orders
    /// the blocking IsRunning=0 store before the vIRR read: with `set_current_state` as a plain
    /// store the store-buffering outcome is still impossible; with `no-block-fences` (both
    /// fences gone) it is possible.
    #[test]
    fn litmus_srcu_read_lock_mb_orders_ir_clear_before_irr_read() {
        assert!(!irr_read_before_ir_clear_visible(Knobs::default(), true));
        let knob = Knobs {
            no_block_fences: true,
            ..Knobs::default()
        };
        // The knob makes set_current_state plain and skips B.
        assert!(irr_read_before_ir_clear_visible(knob, false));
    }

    /// vCPU 1 blocked (IR=0, waiting, TASK_INTERRUPTIBLE, `irr_pending` as given); vCPU 0
    /// handles ID=1 for a fixed IPI of 0x41 to vCPU 1. Returns the context afterwards.
    fn not_running_handler(cfg: &KvmConfig, irr_pending: u64) -> Fake {
        let l = cfg.layout;
        let mut ctx = Fake::new(cfg);
        ctx.watch = l.irr_pending(1);
        ctx.mem.poke(l.wait_task(1), 2).unwrap();
        ctx.mem.poke(l.task_state(1), TASK_INTERRUPTIBLE).unwrap();
        ctx.mem.poke(l.irr_pending(1), irr_pending).unwrap();
        let mut th = in_guest(cfg, &mut ctx, 0);
        let icr = Icr::fixed_physical(0x41, 1);
        let x = ExitInfo {
            icr_lo: icr.lo(),
            icr_hi: icr.hi(),
            cause_id: Cause::TargetNotRunning.id(),
            index: 1,
        };
        th.on_exit(GuestExit::IncompleteIpi {
            info1: x.info1(),
            info2: x.info2(),
        });
        run_until(&mut th, &mut ctx, |pc| pc == Pc::VcpuEnterGuestRequests);
        ctx.drain(0);
        ctx
    }

    #[test]
    fn target_not_running_handlers_differ_as_the_history_says() {
        let irr1 = |cfg: &KvmConfig, ctx: &Fake| {
            ctx.mem
                .peek(irr_word(cfg.layout.vm.backing(1), 0x41))
                .unwrap()
        };
        let woken = KvmEvent::WakeUp {
            from: 0,
            target: 1,
            woken: true,
        };

        // V1: re-emulation sets the IRR bit again (hardware's bit was already taken).
        let cfg = KvmConfig::new(KvmVariant::V1, 2);
        let ctx = not_running_handler(&cfg, 1);
        assert_eq!(irr1(&cfg, &ctx), 1 << 1);
        assert!(ctx.events.contains(&KvmEvent::SetIrr {
            from: 0,
            target: 1,
            vector: 0x41
        }));
        assert!(ctx.events.contains(&KvmEvent::ReEmulatedIcr {
            vcpu: 0,
            icr_lo: 0x41,
            icr_hi: 0x0100_0000
        }));
        assert!(ctx.events.contains(&woken));
        assert_eq!(ctx.wakes, vec![1]);
        let b0 = cfg.layout.vm.backing(0);
        assert_eq!(ctx.mem.peek(b0 + ICR_LO).unwrap(), 0x41);
        assert_eq!(ctx.mem.peek(b0 + ICR_HI).unwrap(), 0x0100_0000);
        assert_eq!(
            ctx.mem.peek(cfg.layout.task_state(1)).unwrap(),
            TASK_RUNNING
        );

        // V4: no IRR write at all; irr_pending set, target woken.
        let cfg = KvmConfig::new(KvmVariant::V4, 2);
        let ctx = not_running_handler(&cfg, 1);
        assert_eq!(irr1(&cfg, &ctx), 0);
        assert!(!ctx
            .events
            .iter()
            .any(|e| matches!(e, KvmEvent::SetIrr { .. })));
        assert_eq!(ctx.wakes, vec![1]);
        assert!(ctx.events.contains(&woken));

        // V3: irr_pending = true is globally visible before the wake-up.
        let cfg = KvmConfig::new(KvmVariant::V3, 2);
        let ctx = not_running_handler(&cfg, 0);
        assert_eq!(ctx.wakes, vec![1]);
        assert_eq!(ctx.watched, vec![1]);
        assert_eq!(ctx.mem.peek(cfg.layout.irr_pending(1)).unwrap(), 1);
        assert_eq!(irr1(&cfg, &ctx), 0);
        let ip = ctx
            .events
            .iter()
            .position(|e| *e == KvmEvent::IrrPending { from: 0, target: 1 })
            .unwrap();
        let wk = ctx.events.iter().position(|e| *e == woken).unwrap();
        assert!(ip < wk);

        // V3 with C4: the wake-up happens with irr_pending still false.
        let cfg = KvmConfig::new(KvmVariant::V3, 2).with_knobs(Knobs {
            no_irr_pending_update: true,
            ..Knobs::default()
        });
        let ctx = not_running_handler(&cfg, 0);
        assert_eq!(ctx.wakes, vec![1]);
        assert_eq!(ctx.watched, vec![0]);
        assert_eq!(ctx.mem.peek(cfg.layout.irr_pending(1)).unwrap(), 0);
        assert!(!ctx
            .events
            .iter()
            .any(|e| matches!(e, KvmEvent::IrrPending { .. })));
    }

    fn preempted_in_wait_loop(knobs: Knobs) -> (u64, Fake, VcpuThread) {
        let cfg = KvmConfig::new(KvmVariant::V2, 1).with_knobs(knobs);
        let mut ctx = Fake::new(&cfg);
        let mut th = in_guest(&cfg, &mut ctx, 0);
        th.on_exit(GuestExit::Hlt);
        run_until(&mut th, &mut ctx, |pc| pc == Pc::Schedule);
        assert!(th.preempt());
        assert_eq!(th.pc(), Pc::KvmSchedOut);
        assert!(!th.preempt());
        run_until(&mut th, &mut ctx, |pc| pc == Pc::Schedule);
        ctx.drain(0);
        let e = ctx.mem.peek(cfg.layout.vm.phys_entry(0)).unwrap();
        run_until(&mut th, &mut ctx, |pc| pc == Pc::Sleeping);
        (e, ctx, th)
    }

    #[test]
    fn sched_in_while_blocking_keeps_is_running_clear_unless_c2() {
        let cfg = KvmConfig::new(KvmVariant::V2, 1);
        let (e, ctx, th) = preempted_in_wait_loop(Knobs::default());
        assert_eq!(e, entry(&cfg, 0, false, 0));
        assert!(ctx.events.contains(&KvmEvent::AvicLoadSkipped { vcpu: 0 }));
        assert!(th.sleeping());

        let (e, ctx, th) = preempted_in_wait_loop(Knobs {
            unconditional_running_on_load: true,
            ..Knobs::default()
        });
        assert_eq!(e, entry(&cfg, 0, true, 0));
        assert!(ctx.events.contains(&KvmEvent::AvicLoad {
            vcpu: 0,
            is_running: true
        }));
        // The C2 bug: IsRunning=1 after the last vIRR check, until schedule()'s
        // kvm_sched_out clears it again (through the store buffer).
        assert!(th.sleeping());
        assert_eq!(ctx.mem.sb_len(0), 1);
        let mut ctx = ctx;
        ctx.drain(0);
        let l = cfg.layout;
        assert_eq!(
            ctx.mem.peek(l.vm.phys_entry(0)).unwrap(),
            entry(&cfg, 0, false, 0)
        );

        // Without the sleep-time put (the model before issue 14): asleep with IsRunning=1.
        let (_, mut ctx, th) = preempted_in_wait_loop(Knobs {
            unconditional_running_on_load: true,
            no_sleep_put: true,
            ..Knobs::default()
        });
        assert!(th.sleeping());
        ctx.drain(0);
        assert_eq!(
            ctx.mem.peek(l.vm.phys_entry(0)).unwrap(),
            entry(&cfg, 0, true, 0)
        );
    }

    /// C2b at the step level (V2, V3, V3-fast): preempted right after `avic_vcpu_blocking`,
    /// `kvm_sched_in` finds `wait.task` still NULL and sets IsRunning=1; the vIRR check finds
    /// nothing; `schedule()`'s `kvm_sched_out` → `avic_vcpu_put` clears IsRunning again (a
    /// buffered store), so the vCPU sleeps with IsRunning=0 once it drains. With
    /// [`Knobs::no_sleep_put`] it sleeps with IsRunning=1. The wake-up runs `kvm_sched_in`,
    /// which returns early while blocking (`af52f5aa5c1b`).
    #[test]
    fn sleep_time_put_clears_is_running_after_the_c2b_preemption() {
        for (v, no_sleep_put) in [
            (KvmVariant::V2, false),
            (KvmVariant::V3, false),
            (KvmVariant::V3Fast, false),
            (KvmVariant::V3, true),
        ] {
            let knobs = Knobs {
                no_sleep_put,
                ..Knobs::default()
            };
            let cfg = KvmConfig::new(v, 1).with_knobs(knobs);
            let l = cfg.layout;
            let mut ctx = Fake::new(&cfg);
            let mut th = in_guest(&cfg, &mut ctx, 0);
            th.on_exit(GuestExit::Hlt);
            run_until(&mut th, &mut ctx, |pc| pc == Pc::PrepareToRcuwait);
            assert!(th.preemptible(), "{v:?}: the C2b window");
            assert!(th.preempt());
            run_until(&mut th, &mut ctx, |pc| pc == Pc::PrepareToRcuwait);
            ctx.drain(0);
            assert_eq!(
                ctx.mem.peek(l.vm.phys_entry(0)).unwrap(),
                entry(&cfg, 0, true, 0)
            );
            run_until(&mut th, &mut ctx, |pc| pc == Pc::Sleeping);
            ctx.drain(0);
            assert_eq!(
                ctx.mem.peek(l.vm.phys_entry(0)).unwrap(),
                entry(&cfg, 0, no_sleep_put, 0),
                "{v:?} no_sleep_put={no_sleep_put}"
            );
            // Woken: kvm_sched_in returns early (blocking), the loop re-checks.
            ctx.mem.poke(l.task_state(0), TASK_RUNNING).unwrap();
            th.on_wake();
            let want = if no_sleep_put {
                Pc::ScheduleReturn
            } else {
                Pc::ScheduleKvmSchedIn
            };
            assert_eq!(th.pc(), want);
            run_until(&mut th, &mut ctx, |pc| pc == Pc::SetCurrentState);
            if !no_sleep_put {
                assert_eq!(
                    ctx.events.last(),
                    Some(&KvmEvent::Woken { vcpu: 0 }),
                    "{v:?}"
                );
                assert!(ctx.events.contains(&KvmEvent::AvicLoadSkipped { vcpu: 0 }));
            }
        }
        // V4: not preemptible there (18869f26df1a).
        let cfg = KvmConfig::new(KvmVariant::V4, 1);
        let mut ctx = Fake::new(&cfg);
        let mut th = in_guest(&cfg, &mut ctx, 0);
        th.on_exit(GuestExit::Hlt);
        run_until(&mut th, &mut ctx, |pc| pc == Pc::PrepareToRcuwait);
        assert!(!th.preemptible());
    }

    /// A wake-up that lands while the sleep-time `kvm_sched_out` runs is not lost.
    #[test]
    fn wake_during_the_sleep_time_sched_out_is_kept() {
        let cfg = KvmConfig::new(KvmVariant::V0, 1);
        let l = cfg.layout;
        let mut ctx = Fake::new(&cfg);
        let mut th = in_guest(&cfg, &mut ctx, 0);
        th.on_exit(GuestExit::Hlt);
        run_until(&mut th, &mut ctx, |pc| pc == Pc::ScheduleKvmSchedOut);
        assert!(th.wakeable() && !th.sleeping());
        ctx.mem.poke(l.task_state(0), TASK_RUNNING).unwrap();
        th.on_wake();
        run_until(&mut th, &mut ctx, |pc| {
            pc != Pc::AvicVcpuPutStoreEntry {
                via: PutVia::Schedule,
            }
        });
        run_until(&mut th, &mut ctx, |pc| pc == Pc::SetCurrentState);
        assert!(!ctx.events.contains(&KvmEvent::Sleep { vcpu: 0 }));
    }

    #[test]
    fn traits_table_and_target_decoding() {
        use KvmVariant::*;
        let t: Vec<_> = KvmVariant::ALL
            .iter()
            .map(|v| v.traits().not_running)
            .collect();
        assert_eq!(
            t,
            vec![
                NotRunningHandler::WakeIfNotRunning,
                NotRunningHandler::ReEmulateIcr,
                NotRunningHandler::ReEmulateIcr,
                NotRunningHandler::WakeAll,
                NotRunningHandler::KickWithIrrPending,
                NotRunningHandler::KickWithIrrPending,
                NotRunningHandler::KickWithIrrPending,
                NotRunningHandler::KickWithIrrPending,
            ]
        );
        assert!(V3Fast.traits().fast_path_518 && !V3.traits().fast_path_518);
        assert!(!V4.traits().fast_path_518 && !V3Fast.traits().rewrite_icr);
        assert!(V3Fast.traits().preemptible_block_hooks);
        assert_eq!(
            V1b.traits().not_running_delivery,
            NotRunningDelivery::KickWithRequest
        );
        assert!(!V5.traits().enable_ipiv && V4.traits().enable_ipiv);
        assert_eq!(V2.traits().delivery_key, DeliveryKey::VcpuMode);

        let cfg = KvmConfig::new(V0, 4);
        let d = |icr: Icr, s| decode_targets(&icr, s, &cfg).as_slice().to_vec();
        assert_eq!(d(Icr::fixed_physical(0x30, 2), 0), vec![2]);
        assert_eq!(d(Icr::fixed_physical(0x30, 9), 0), Vec::<u8>::new());
        assert_eq!(d(Icr::fixed_physical(0x30, 0xFF), 1), vec![0, 1, 2, 3]);
        assert_eq!(d(Icr::fixed_logical(0x30, 0b1010), 0), vec![1, 3]);
        let all_but = Icr {
            shorthand: Shorthand::AllExcludingSelf,
            ..Icr::fixed_physical(0x30, 0)
        };
        assert_eq!(d(all_but, 2), vec![0, 1, 3]);
    }

    #[test]
    fn v1b_kicks_a_vcpu_in_guest_and_v2_rings_its_doorbell() {
        // vCPU 0 re-emulates (V1b, ID=0 path) a fixed IPI to vCPU 1, which is in the guest.
        let run = |v: KvmVariant, cause: Cause| {
            let cfg = KvmConfig::new(v, 2);
            let l = cfg.layout;
            let mut ctx = Fake::new(&cfg);
            let _t1 = in_guest(&cfg, &mut ctx, 1);
            ctx.mem.poke(l.mode(1), IN_GUEST_MODE).unwrap();
            let mut th = in_guest(&cfg, &mut ctx, 0);
            let icr = Icr::fixed_physical(0x50, 1);
            let x = ExitInfo {
                icr_lo: icr.lo(),
                icr_hi: icr.hi(),
                cause_id: cause.id(),
                index: 1,
            };
            th.on_exit(GuestExit::IncompleteIpi {
                info1: x.info1(),
                info2: x.info2(),
            });
            run_until(&mut th, &mut ctx, |pc| pc == Pc::VcpuEnterGuestRequests);
            ctx
        };
        // V2, ID 0: delivered in software; target in guest -> doorbell to host 1.
        let ctx = run(KvmVariant::V2, Cause::InvalidIntType);
        assert_eq!(ctx.doorbells, vec![1]);
        assert!(ctx.kicks.is_empty());
        // V1b with the target's entry showing IsRunning=0 takes the request + kick path.
        let cfg = KvmConfig::new(KvmVariant::V1b, 2);
        let mut ctx = Fake::new(&cfg);
        let l = cfg.layout;
        ctx.mem.poke(l.mode(1), IN_GUEST_MODE).unwrap();
        let mut th = in_guest(&cfg, &mut ctx, 0);
        let icr = Icr::fixed_physical(0x50, 1);
        th.on_exit(GuestExit::IncompleteIpi {
            info1: u64::from(icr.hi()) << 32 | u64::from(icr.lo()),
            info2: 1 << 32 | 1,
        });
        run_until(&mut th, &mut ctx, |pc| pc == Pc::VcpuEnterGuestRequests);
        assert_eq!(ctx.kicks, vec![1]);
        assert_eq!(ctx.mem.peek(l.mode(1)).unwrap(), EXITING_GUEST_MODE);
        assert_eq!(ctx.mem.peek(l.requests(1)).unwrap(), 1 << KVM_REQ_EVENT_BIT);
        // V0 ignores INVALID_TARGET; V4 emulates it.
        let ctx = run(KvmVariant::V0, Cause::InvalidTarget);
        assert!(ctx.events.contains(&KvmEvent::IgnoredIncompleteIpi {
            vcpu: 0,
            cause_id: 2
        }));
        let ctx = run(KvmVariant::V4, Cause::InvalidTarget);
        assert_eq!(ctx.doorbells, vec![1]);
    }
}
