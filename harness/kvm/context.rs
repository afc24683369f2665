//! What a step does besides memory ([`HostCtx`]), the exits the world reports
//! ([`GuestExit`]), the named events ([`KvmEvent`]) and the errors ([`KvmError`]).

use crate::mem::{MemError, Memory};

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
    /// (the world calls [`VcpuThread::on_wake`](crate::kvm::VcpuThread::on_wake) on it). The task state was already set to
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
