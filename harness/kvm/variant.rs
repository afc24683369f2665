//! The handler generations ([`KvmVariant`]), the table of their differences ([`Traits`])
//! and the bug knobs and barrier removals ([`Knobs`]).

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
