//! The steps of a vCPU thread ([`Pc`]), named after the kernel code they stand for, and the
//! callers of `avic_vcpu_load` / `avic_vcpu_put`.

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
    /// per [`LoadRule`](crate::kvm::LoadRule) (masked to 0 when `!enable_ipiv`, V5).
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
    /// [`Knobs::no_enter_mb`](crate::kvm::Knobs::no_enter_mb)); the `smp_mb__after_srcu_read_unlock()` after it is empty.
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
    /// The guest runs; the thread waits for [`VcpuThread::on_exit`](crate::kvm::VcpuThread::on_exit). Not runnable.
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
    /// buffer); a plain store with [`Knobs::no_block_fences`](crate::kvm::Knobs::no_block_fences).
    SetCurrentState,
    /// `kvm_vcpu_check_block`: `srcu_read_lock` → `__srcu_read_lock`: `smp_mb(); /* B */`
    /// after the counter increment, before any vIRR access (skipped with
    /// [`Knobs::no_block_fences`](crate::kvm::Knobs::no_block_fences)). The matching `srcu_read_unlock` (fence C) at the end of
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
    /// Not with [`Knobs::no_sleep_put`](crate::kvm::Knobs::no_sleep_put).
    ScheduleKvmSchedOut,
    /// Asleep in `schedule()`; not runnable until [`VcpuThread::on_wake`](crate::kvm::VcpuThread::on_wake).
    Sleeping,
    /// Woken: `kvm_sched_in` → `kvm_arch_vcpu_load` → `avic_vcpu_load`, first access (as
    /// [`Pc::KvmArchVcpuLoad`]), before `schedule()` returns. Not with
    /// [`Knobs::no_sleep_put`](crate::kvm::Knobs::no_sleep_put).
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
    /// A3 ([`Traits::stale_cpu_on_unblock`](crate::kvm::Traits::stale_cpu_on_unblock)): `avic_set_running` → `avic_vcpu_load(vcpu,
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
    /// [`Knobs::no_wake_up_mb`](crate::kvm::Knobs::no_wake_up_mb)).
    RcuwaitWakeUpMb,
    /// `rcuwait_wake_up`: `rcu_dereference(w->task)` (load of the target's `wait.task`).
    RcuwaitWakeUpLoadTask,
    /// `wake_up_process(task)`: `ttwu` state match, modelled as a locked cmpxchg of the
    /// target's state `TASK_INTERRUPTIBLE → TASK_RUNNING`, plus [`HostCtx::wake_thread`](crate::kvm::HostCtx::wake_thread).
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
