//! One vCPU thread of KVM as a step machine ([`VcpuThread`]): its state, what the world may
//! ask of it, and the memory helpers of its steps. The steps themselves: `thread/exec.rs`
//! (the `vcpu_run` loop and blocking), `thread/avic.rs` (`avic_vcpu_load` / `avic_vcpu_put`),
//! `thread/handler.rs` (the exit handler and its per-target loop), `thread/apicv.rs` (APICv
//! inhibition).

mod apicv;
mod avic;
mod exec;
mod handler;

use super::*;
use crate::apic::IRR;
use crate::mem::{MemError, FULL_MASK};

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

/// One vCPU thread of KVM as a step machine: on host CPU = vCPU id unless placed elsewhere
/// ([`VcpuThread::place`]), and moved to another host CPU by a migrating preemption.
#[derive(Clone, Debug)]
pub struct VcpuThread {
    cfg: KvmConfig,
    traits: Traits,
    vcpu: u8,
    cpu: u8,
    pub(super) pc: Pc,
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
}
