//! `avic_vcpu_load` and `avic_vcpu_put`, shared by their callers ([`LoadVia`], [`PutVia`]).

use super::super::*;
use super::*;

impl VcpuThread {
    // ------------------------------------------------------------------------------------
    // avic_vcpu_load / avic_vcpu_put
    // ------------------------------------------------------------------------------------

    /// First access of `avic_vcpu_load`: the `kvm_vcpu_is_blocking()` load (V2+, unless C2),
    /// else the entry load.
    pub(super) fn load_first(
        &mut self,
        ctx: &mut dyn HostCtx,
        via: LoadVia,
    ) -> Result<(), MemError> {
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

    pub(super) fn load_entry(
        &mut self,
        ctx: &mut dyn HostCtx,
        via: LoadVia,
    ) -> Result<(), MemError> {
        self.entry = if self.traits.shadow_entry {
            self.shadow
        } else {
            self.ld(ctx, self.cfg.layout.vm.phys_entry(self.vcpu))?
        };
        self.pc = Pc::AvicVcpuLoadStoreEntry { via };
        Ok(())
    }

    pub(super) fn load_done(&mut self, ctx: &mut dyn HostCtx, via: LoadVia) {
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
    pub(super) fn put_first(&mut self, ctx: &mut dyn HostCtx, via: PutVia) -> Result<(), MemError> {
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

    pub(super) fn put_done(&mut self, ctx: &mut dyn HostCtx, via: PutVia) {
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
}
