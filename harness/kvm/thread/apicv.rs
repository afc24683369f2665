//! APICv inhibition on the vCPU side (`docs/kvm-model.md` §9): the `KVM_REQ_APICV_UPDATE`
//! request at `vcpu_enter_guest`, the emulated LAPIC's injection while APICv is inactive, and
//! the emulated EOI of an injected vector.
//!
//! The inhibiting side (`kvm_set_or_clear_apicv_inhibit`: the request to every vCPU, the
//! kicks, the inhibit word, the zap of the APIC page) is one action of the world
//! (`sim/step.rs`, `Action::Apicv`): it holds `apicv_update_lock` for write throughout, and the
//! vCPUs' `down_read` in [`Pc::KvmVcpuUpdateApicvReasons`] cannot get in between.
//!
//! Per generation ([`super::Traits`]): V0-V2 recompute `irr_pending` when deactivating
//! (`755c2bf87860` stops it in V3+); V2+ move IsRunning in `avic_refresh_apicv_exec_ctrl`
//! (`df7e4827c549`), preemptible in V2 and V3 (`b652de1e3dfb`, 5.18); the window between the
//! `apicv_active` store and the refresh is preemptible up to V3-fast (`66c768d30e64`, 5.19).
//! Not modelled: 5.10's `svm_vcpu_unblocking`, which also handled the request (V0 handles it
//! at its next `vcpu_enter_guest`), and `d3ddef46f22e` (2024), which sets `irr_pending` on
//! deactivation too: in every state reachable without userspace's `KVM_SET_LAPIC`,
//! `irr_pending` is already true while APICv is active, so leaving it and setting it agree.

use super::{HostCtx, KvmEvent, LoadVia, Pc, PutVia, VcpuThread, IRR, KVM_REQ_EVENT_BIT};
use super::{MemError, KVM_REQ_APICV_UPDATE_BIT};
use crate::apic::{irr_word, isr_word, vector_bit};

impl VcpuThread {
    /// The steps of [`Pc::KvmCheckRequestApicvUpdate`] to [`Pc::ApicSetEoiRequestEvent`].
    pub(super) fn exec_apicv(&mut self, ctx: &mut dyn HostCtx) -> Result<(), MemError> {
        let l = self.cfg.layout;
        let me = self.vcpu;
        let page = l.vm.backing(me);
        match self.pc {
            Pc::KvmCheckRequestApicvUpdate => {
                ctx.mem().host_lock_and_not(
                    self.cpu,
                    l.requests(me),
                    1 << KVM_REQ_APICV_UPDATE_BIT,
                )?;
                self.pc = Pc::KvmVcpuUpdateApicvReasons;
            }
            Pc::KvmVcpuUpdateApicvReasons => {
                ctx.mem().fence(self.cpu);
                self.activate = self.ld(ctx, l.apicv_inhibit_reasons())? == 0;
                self.pc = if self.activate == self.apicv_active {
                    Pc::VcpuEnterGuestRequests
                } else {
                    Pc::KvmVcpuUpdateApicvStoreActive
                };
            }
            Pc::KvmVcpuUpdateApicvStoreActive => {
                self.st(ctx, l.apicv_active(me), u64::from(self.activate))?;
                self.apicv_active = self.activate;
                ctx.note(KvmEvent::ApicvUpdate {
                    vcpu: me,
                    active: self.activate,
                });
                self.pc = if self.activate || self.traits.inhibit_recomputes_irr_pending {
                    Pc::KvmApicUpdateApicv
                } else {
                    Pc::AvicRefreshApicvExecCtrl
                };
            }
            Pc::KvmApicUpdateApicv if self.activate => {
                self.st(ctx, l.irr_pending(me), 1)?;
                self.pc = Pc::AvicRefreshApicvExecCtrl;
            }
            Pc::KvmApicUpdateApicv => self.search_irr(ctx, 7, SearchFor::UpdateApicv)?,
            Pc::KvmApicUpdateApicvSearchIrr { reg } => {
                self.search_irr(ctx, reg, SearchFor::UpdateApicv)?
            }
            Pc::KvmApicUpdateApicvStoreIrrPending => {
                self.st(ctx, l.irr_pending(me), u64::from(self.found != 0))?;
                self.pc = Pc::AvicRefreshApicvExecCtrl;
            }
            Pc::AvicRefreshApicvExecCtrl => {
                self.vmcb_avic = self.activate;
                if !self.traits.refresh_loads_and_puts {
                    self.pc = if self.activate {
                        Pc::VcpuEnterGuestRequests
                    } else {
                        Pc::KvmVcpuUpdateApicvRequestEvent
                    };
                } else if self.activate {
                    // `avic_vcpu_load(vcpu, vcpu->cpu)`: the argument is loaded once.
                    self.load_cpu = self.ld(ctx, l.vcpu_cpu(me))? as u8;
                    self.pc = Pc::AvicRefreshLoad;
                } else {
                    self.put_first(ctx, PutVia::Refresh)?;
                }
            }
            Pc::AvicRefreshLoad => self.load_first(ctx, LoadVia::Refresh)?,
            Pc::KvmVcpuUpdateApicvRequestEvent => {
                ctx.mem()
                    .host_lock_or(self.cpu, l.requests(me), 1 << KVM_REQ_EVENT_BIT)?;
                self.pc = Pc::VcpuEnterGuestRequests;
            }
            Pc::InjectIrrPending => {
                self.pc = if self.ld(ctx, l.irr_pending(me))? != 0 {
                    Pc::InjectSearchIrr { reg: 7 }
                } else {
                    Pc::VcpuEnterGuestStoreMode
                };
            }
            Pc::InjectSearchIrr { reg } => self.search_irr(ctx, reg, SearchFor::Inject)?,
            Pc::ApicClearIrrPendingFalse => {
                self.st(ctx, l.irr_pending(me), 0)?;
                self.pc = Pc::KvmCpuGetInterrupt;
            }
            Pc::KvmCpuGetInterrupt => {
                let v = self.found;
                ctx.mem()
                    .host_lock_and_not(self.cpu, irr_word(page, v), vector_bit(v))?;
                ctx.mem()
                    .host_lock_or(self.cpu, isr_word(page, v), vector_bit(v))?;
                ctx.note(KvmEvent::Injected {
                    vcpu: me,
                    vector: v,
                });
                self.inject = v;
                self.pc = Pc::ApicClearIrrSearchIrr { reg: 7 };
            }
            Pc::ApicClearIrrSearchIrr { reg } => self.search_irr(ctx, reg, SearchFor::ClearIrr)?,
            Pc::ApicClearIrrPendingTrue => {
                self.st(ctx, l.irr_pending(me), 1)?;
                self.pc = Pc::VcpuEnterGuestStoreMode;
            }
            Pc::ApicSetEoi => {
                let v = std::mem::take(&mut self.isr_vec);
                if v != 0 {
                    ctx.mem()
                        .host_lock_and_not(self.cpu, isr_word(page, v), vector_bit(v))?;
                    ctx.note(KvmEvent::EmulatedEoi {
                        vcpu: me,
                        vector: v,
                    });
                }
                self.pc = Pc::ApicSetEoiRequestEvent;
            }
            Pc::ApicSetEoiRequestEvent => {
                ctx.mem()
                    .host_lock_or(self.cpu, l.requests(me), 1 << KVM_REQ_EVENT_BIT)?;
                self.pc = Pc::VcpuEnterGuestRequests;
            }
            _ => unreachable!("exec_apicv called at {:?}", self.pc),
        }
        Ok(())
    }

    /// One IRR register load of an `apic_search_irr` (register `reg`, scanning 7 down to 0):
    /// on a hit or after register 0, continues as `what` requires.
    fn search_irr(
        &mut self,
        ctx: &mut dyn HostCtx,
        reg: u8,
        what: SearchFor,
    ) -> Result<(), MemError> {
        let addr = self.cfg.layout.vm.backing(self.vcpu) + IRR + 0x10 * u64::from(reg);
        let w = self.ld(ctx, addr)? as u32;
        let hit = (w != 0).then(|| reg << 5 | (31 - w.leading_zeros()) as u8);
        if hit.is_none() && reg > 0 {
            self.pc = match what {
                SearchFor::UpdateApicv => Pc::KvmApicUpdateApicvSearchIrr { reg: reg - 1 },
                SearchFor::Inject => Pc::InjectSearchIrr { reg: reg - 1 },
                SearchFor::ClearIrr => Pc::ApicClearIrrSearchIrr { reg: reg - 1 },
            };
            return Ok(());
        }
        self.pc = match (what, hit) {
            (SearchFor::UpdateApicv, h) => {
                self.found = h.unwrap_or(0);
                Pc::KvmApicUpdateApicvStoreIrrPending
            }
            (SearchFor::Inject, Some(v)) => {
                self.found = v;
                Pc::ApicClearIrrPendingFalse
            }
            (SearchFor::Inject, None) | (SearchFor::ClearIrr, None) => Pc::VcpuEnterGuestStoreMode,
            (SearchFor::ClearIrr, Some(_)) => Pc::ApicClearIrrPendingTrue,
        };
        Ok(())
    }
}

/// Which `apic_search_irr` a [`VcpuThread::search_irr`] step belongs to.
#[derive(Clone, Copy)]
enum SearchFor {
    /// `kvm_apic_update_apicv` (V0-V2 deactivation).
    UpdateApicv,
    /// `kvm_check_and_inject_events`: the highest pending vector.
    Inject,
    /// `apic_clear_irr`'s recompute of `irr_pending`.
    ClearIrr,
}
