//! `avic_incomplete_ipi_interception` and its per-target loop: delivery, wake-up, kick.

use super::super::*;
use super::*;
use crate::apic::{Cause, ExitInfo, Icr, Shorthand};

impl VcpuThread {
    // ------------------------------------------------------------------------------------
    // Handler dispatch and the per-target loop
    // ------------------------------------------------------------------------------------

    /// `avic_incomplete_ipi_interception` (local): decode and dispatch per [`Traits`].
    pub(super) fn interception(&mut self, ctx: &mut dyn HostCtx) {
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
    pub(super) fn emulate_icr(&mut self, ctx: &mut dyn HostCtx, rewrite: bool) {
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
    pub(super) fn start_send_ipi(&mut self, ctx: &mut dyn HostCtx, after: AfterTargets) {
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
    pub(super) fn start_targets(&mut self, action: TargetAction) {
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
    pub(super) fn kick_fast_518(&mut self, index: u16) {
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
    pub(super) fn kick_fast_target(&mut self, apic_id: u32) {
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
    pub(super) fn next_target(&mut self) {
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
    pub(super) fn start_wake(&mut self, kick: bool) {
        self.in_kick = kick;
        self.pc = if self.cfg.knobs.no_wake_up_mb {
            Pc::RcuwaitWakeUpLoadTask
        } else {
            Pc::RcuwaitWakeUpMb
        };
    }

    pub(super) fn wake_done(&mut self, ctx: &mut dyn HostCtx, woken: bool) {
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
