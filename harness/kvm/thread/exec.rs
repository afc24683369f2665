//! The step: one shared-memory access or one local action, per [`Pc`].

use super::super::*;
use super::*;
use crate::apic::{irr_word, vector_bit, PhysEntry, ICR_HI, ICR_LO, IRR};
use crate::mem::{MemError, FULL_MASK};

impl VcpuThread {
    // ------------------------------------------------------------------------------------
    // The step
    // ------------------------------------------------------------------------------------

    pub(super) fn exec(&mut self, ctx: &mut dyn HostCtx) -> Result<(), MemError> {
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
}
