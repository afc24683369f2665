//! One cycle's action, the RTL's outputs routed to the software and the oracles.

use super::*;
use crate::apic::{irr_word, Icr, IRR};
use crate::dut::{DutError, DutEvent, MAX_CORES, PORT_IRR};
use crate::guest::GuestOp;
use crate::kvm::{
    decode_targets, GuestExit, Pc, VcpuThread, EXITING_GUEST_MODE, IN_GUEST_MODE,
    KVM_REQ_APICV_UPDATE_BIT, OUTSIDE_GUEST_MODE, TASK_RUNNING,
};
use crate::mem::{AccessKind, Agent, NO_ACTOR};
use crate::oracle::{Doorbell, Obs, View, Violation, TIMER_SENDER};

impl World {
    /// Whether this run recorded steps (the outcome then carries the access log).
    pub(super) fn steps_recorded(&self) -> bool {
        self.dut.mem.logging()
    }

    /// What `a` would touch if taken now (see [`Step::pending`]); `None` for thread steps and
    /// idling.
    pub(super) fn predicted(&self, a: Action) -> Option<Vec<Touch>> {
        let w = |res| Touch {
            res,
            host: None,
            write: true,
        };
        let layout = self.sc.kvm.layout;
        Some(match a {
            Action::Thread(_) | Action::Idle => return None,
            Action::Drain(c) => {
                let e = self.dut.mem.sb_entries(c).next()?;
                vec![
                    Touch {
                        res: Res::Addr(e.addr),
                        host: Some(c),
                        write: true,
                    },
                    w(Res::Sb(c, e.addr)),
                ]
            }
            Action::Preempt(v) => vec![w(Res::Vcpu(v))],
            Action::Migrate(v, c) => vec![
                w(Res::Vcpu(v)),
                w(Res::Core(c)),
                w(Res::Core(self.state.threads[usize::from(v)].cpu())),
            ],
            Action::Apicv => {
                let mut t = vec![w(Res::Addr(layout.apicv_inhibit_reasons()))];
                for v in 0..self.sc.kvm.n_vcpus {
                    t.push(w(Res::Vcpu(v)));
                    t.push(w(Res::Addr(layout.requests(v))));
                    t.push(w(Res::Addr(layout.mode(v))));
                    t.push(w(Res::Core(self.core_of(usize::from(v)) as u8)));
                }
                t
            }
            Action::Timer(v) => vec![
                w(Res::Vcpu(v)),
                w(Res::Ledger(v)),
                w(Res::Addr(irr_word(layout.vm.backing(v), TIMER_VECTOR))),
                w(Res::Addr(layout.irr_pending(v))),
                w(Res::Addr(layout.task_state(v))),
                w(Res::Core(self.core_of(usize::from(v)) as u8)),
            ],
            Action::Guest(v) => {
                let mut t = vec![
                    w(Res::Vcpu(v)),
                    w(Res::Guest(v)),
                    w(Res::Core(self.core_of(usize::from(v)) as u8)),
                ];
                t.extend((0..self.sc.kvm.n_vcpus).map(|x| w(Res::Ledger(x))));
                t
            }
            Action::Complete(c, p) => {
                let mut t = vec![w(Res::Core(c))];
                if let Some(r) = self.dut.request(usize::from(c), usize::from(p)) {
                    t.push(w(Res::Addr(r.addr)));
                }
                t
            }
        })
    }

    /// Notes a write of every core whose inputs differ from `before`.
    pub(super) fn touch_changed_inputs(
        &mut self,
        before: Option<&[crate::ffi::CoreIn; MAX_CORES]>,
    ) {
        for (c, b) in before.into_iter().flatten().enumerate() {
            if self.dut.inp.core[c] != *b {
                self.touch(Res::Core(c as u8), true);
            }
        }
    }

    /// Closes the current cycle's [`Step`]: the explicit touches and the memory log.
    pub(super) fn end_step(
        &mut self,
        enabled: &[Action],
        acted: Option<Action>,
        default: usize,
        choice: Option<usize>,
    ) {
        let mut touches = std::mem::take(&mut self.touched);
        let mut rtl = touches.split_off(self.action_end.0.min(touches.len()));
        for (k, a) in self.dut.mem.log().iter().enumerate() {
            use crate::mem::{AccessKind as K, Agent};
            let host = match a.agent {
                Agent::Host(c) => Some(c),
                Agent::Rtl { .. } => None,
            };
            // The action's part: its own accesses, and the transaction it completed.
            let part = match a.agent {
                Agent::Rtl { core, port } if acted == Some(Action::Complete(core, port)) => {
                    &mut touches
                }
                Agent::Rtl { core, .. } => {
                    rtl.push(Touch {
                        res: Res::Core(core),
                        host: None,
                        write: false,
                    });
                    &mut rtl
                }
                _ if k >= self.action_end.1 => &mut rtl,
                _ => &mut touches,
            };
            // (word touched, written, host tag), store-buffer entry written.
            let (word, sb) = match a.kind {
                K::Load | K::LoadForwarded => (Some((false, host)), false),
                K::Store => (None, true),
                K::Commit => (Some((true, host)), true),
                K::LockedRmw | K::RtlWrite | K::RtlLockSet | K::RtlLockClear => {
                    (Some((true, None)), false)
                }
                K::RtlRead => (Some((false, None)), false),
                // A fence's effect is the commits logged before it.
                K::Fence => (None, false),
            };
            if let Some((write, host)) = word {
                part.push(Touch {
                    res: Res::Addr(a.addr),
                    host,
                    write,
                });
            }
            if let (true, Some(c)) = (sb, host) {
                part.push(Touch {
                    res: Res::Sb(c, a.addr),
                    host: None,
                    write: true,
                });
            }
        }
        self.accesses.extend_from_slice(self.dut.mem.log());
        self.dut.mem.clear_log();
        self.action_end = (0, 0);
        normalize(&mut touches);
        normalize(&mut rtl);
        if let Some(steps) = self.steps.as_mut() {
            steps.push(Step {
                enabled: if enabled.len() > 1 || acted.is_some() {
                    enabled.to_vec()
                } else {
                    Vec::new()
                },
                acted,
                default,
                choice,
                touches,
                rtl,
                pending: std::mem::take(&mut self.pending),
            });
        }
    }

    pub(super) fn act(&mut self, a: Action, cycle: u64) -> Result<(), WorldError> {
        self.state.current = Some(a);
        let actor = if let Action::Thread(v) = a {
            v
        } else {
            NO_ACTOR
        };
        self.dut.mem.set_actor(actor);
        match a {
            Action::Thread(v) | Action::Timer(v) => self.touch(Res::Vcpu(v), false),
            Action::Guest(v) => {
                self.touch(Res::Vcpu(v), false);
                self.touch(Res::Guest(v), true);
            }
            Action::Preempt(v) | Action::Migrate(v, _) => self.touch(Res::Vcpu(v), true),
            Action::Complete(c, _) => self.touch(Res::Core(c), true),
            Action::Drain(_) | Action::Idle | Action::Apicv => {}
        }
        if let Action::Migrate(v, c) = a {
            let from = self.state.threads[usize::from(v)].cpu();
            self.touch(Res::Core(from), true);
            self.touch(Res::Core(c), true);
        }
        let kicks = self.state.kick;
        match a {
            Action::Thread(v) => {
                let t = &mut self.state.threads[usize::from(v)];
                self.state.log.push(Event::Act {
                    cycle,
                    action: a,
                    step: t.step_name(),
                });
                match t.pc() {
                    Pc::CheckBlockSearchIrr { .. } => {
                        self.state.oracles.observe(&Obs::Rescan { cycle, vcpu: v });
                    }
                    Pc::KvmLapicSetIrr => self.state.set_irr_at[usize::from(v)] = cycle,
                    _ => {}
                }
                let mut ctx = Ctx {
                    dut: &mut self.dut,
                    wake: &mut self.state.wake,
                    kick: &mut self.state.kick,
                    log: &mut self.state.log,
                    layout: self.sc.kvm.layout,
                    vcpu_on: &mut self.state.vcpu_on,
                    oracles: &mut self.state.oracles,
                    sw_doorbell: None,
                    entered: None,
                    found: None,
                    cycle,
                };
                let seen = |t: &VcpuThread| {
                    (
                        t.runnable(),
                        t.in_guest(),
                        t.entering_guest(),
                        t.sleeping(),
                        t.preemptible(),
                        t.cpu(),
                    )
                };
                let view = seen(t);
                t.step(&mut ctx)?;
                let changed = seen(t) != view;
                let sw = ctx.sw_doorbell;
                let (entered, found) = (ctx.entered, ctx.found.take());
                self.note_violation(found);
                if let Some((ev, avic, inject)) = entered {
                    self.state.apicv.avic_on[usize::from(ev)] = avic;
                    if let Some(x) = inject {
                        // EVENTINJ: the guest takes the vector on entry.
                        self.touch(Res::Guest(ev), true);
                        self.touch(Res::Ledger(ev), true);
                        self.state.guests[usize::from(ev)].take(x);
                    }
                }
                if changed {
                    self.touch(Res::Vcpu(v), true);
                }
                if let Some((target, _)) = sw {
                    self.touch(Res::Vcpu(target), true);
                }
                for (cpu, was) in kicks.iter().enumerate() {
                    if self.state.kick[cpu] && !was {
                        self.touch(Res::Core(cpu as u8), true);
                    }
                }
                if let Some((target, host_id)) = sw {
                    self.doorbell_for(
                        target,
                        Doorbell {
                            cycle,
                            host_id,
                            irr_cycle: self.state.set_irr_at[usize::from(v)],
                            vector: 0,
                            hardware: false,
                        },
                    );
                }
                for w in 0..self.state.threads.len() {
                    if std::mem::take(&mut self.state.wake[w]) {
                        if self.state.threads[w].wakeable() {
                            self.touch(Res::Vcpu(w as u8), true);
                        }
                        self.state.threads[w].on_wake();
                    }
                }
            }
            Action::Guest(v) => {
                self.state.log.push(Event::Act {
                    cycle,
                    action: a,
                    step: "",
                });
                let vi = usize::from(v);
                match self.state.guests[vi].retire() {
                    GuestOp::SendIpi(icr) => {
                        let core = self.core_of(vi);
                        self.dut.write_icr(core, icr.lo(), icr.hi());
                        let raw = u64::from(icr.hi()) << 32 | u64::from(icr.lo());
                        self.state.last_icr[vi] = raw;
                        self.state.icr_from[core] = v;
                        self.state.log.push(Event::Send {
                            cycle,
                            from: v,
                            icr,
                        });
                        self.record_sends(cycle, v, &icr, raw);
                    }
                    GuestOp::Halt => self.exit_guest(vi, GuestExit::Hlt),
                    GuestOp::Spin(_) | GuestOp::Loop => {}
                }
            }
            Action::Complete(c, p) => {
                self.state.log.push(Event::Act {
                    cycle,
                    action: a,
                    step: "",
                });
                let (c, p) = (usize::from(c), usize::from(p));
                if p == PORT_IRR {
                    if let Some(r) = self.dut.request(c, p).filter(|r| r.op != 0) {
                        if let Some(t) = self.vcpu_of_page(r.addr) {
                            self.state.irr_write[c] = (t, cycle);
                        }
                    }
                }
                self.dut.release(c, p);
            }
            Action::Drain(c) => {
                self.state.log.push(Event::Act {
                    cycle,
                    action: a,
                    step: "",
                });
                self.dut.mem.drain_one(c);
            }
            Action::Timer(v) => self.fire_timer(v, cycle)?,
            Action::Apicv => self.toggle_apicv(cycle)?,
            Action::Preempt(v) => {
                self.state.log.push(Event::Act {
                    cycle,
                    action: a,
                    step: "",
                });
                self.state.preempted[usize::from(v)] = true;
                self.state.threads[usize::from(v)].preempt();
            }
            Action::Migrate(v, c) => {
                self.state.log.push(Event::Act {
                    cycle,
                    action: a,
                    step: "",
                });
                self.state.migrated[usize::from(v)] = true;
                self.state.threads[usize::from(v)].migrate(c);
            }
            Action::Idle => {}
        }
        Ok(())
    }

    /// The LAPIC timer of `v` fires: `kvm_apic_inject_timer` sets the timer vector in the IRR
    /// (and `irr_pending`), then delivers as KVM does for a vCPU in guest mode (doorbell) or
    /// not (`kvm_vcpu_wake_up`). One atomic action: the timer is the trigger of a scenario,
    /// not the race under study.
    pub(super) fn fire_timer(&mut self, v: u8, cycle: u64) -> Result<(), WorldError> {
        let vi = usize::from(v);
        self.state.timer_fired[vi] = true;
        self.touch(Res::Ledger(v), true);
        self.state.log.push(Event::TimerFired { cycle, vcpu: v });
        self.state.oracles.observe(&Obs::Send {
            cycle,
            sender: TIMER_SENDER,
            icr: 0,
            vector: TIMER_VECTOR,
            candidates: 1 << v,
        });
        let layout = self.sc.kvm.layout;
        let cpu = self.state.timer_cpu;
        let mem = &mut self.dut.mem;
        let err = |e: crate::mem::MemError| WorldError::Scenario(e.to_string());
        mem.host_lock_or(
            cpu,
            irr_word(layout.vm.backing(v), TIMER_VECTOR),
            1 << (TIMER_VECTOR & 31),
        )
        .map_err(err)?;
        mem.host_lock_or(cpu, layout.irr_pending(v), 1)
            .map_err(err)?;
        if self.state.threads[vi].in_guest() {
            let core = self.core_of(vi);
            self.dut.core(core).sw_doorbell = true;
        } else {
            mem.host_xchg(cpu, layout.task_state(v), TASK_RUNNING)
                .map_err(err)?;
            if self.state.threads[vi].wakeable() {
                self.touch(Res::Vcpu(v), true);
            }
            self.state.threads[vi].on_wake();
        }
        Ok(())
    }

    /// `kvm_set_or_clear_apicv_inhibit` (`__kvm_set_or_clear_apicv_inhibit`, x86.c) on the
    /// timer's CPU, under `down_write(&kvm->arch.apicv_update_lock)`, as one action (the
    /// vCPUs' `down_read` cannot interleave): `kvm_make_all_cpus_request(kvm,
    /// KVM_REQ_APICV_UPDATE)` (per vCPU a locked `set_bit`, then `kvm_request_needs_ipi`'s
    /// cmpxchg of `mode` IN_GUEST → EXITING, an IPI unless the mode was OUTSIDE: the request
    /// has `KVM_REQUEST_WAIT`, and `KVM_REQUEST_NO_WAKEUP`, so a sleeping vCPU is not woken),
    /// then `apicv_inhibit_reasons = new`. The zap of the APIC page is the RTL's `avic_en_i`
    /// = 0 at the vCPUs' next VMRUN (a guest still running with AVIC on was kicked out).
    pub(super) fn toggle_apicv(&mut self, cycle: u64) -> Result<(), WorldError> {
        let inhibit = self.state.apicv.toggles == 0;
        self.state.apicv.toggles += 1;
        self.state.log.push(Event::Act {
            cycle,
            action: Action::Apicv,
            step: if inhibit {
                "kvm_set_or_clear_apicv_inhibit(set)"
            } else {
                "kvm_set_or_clear_apicv_inhibit(clear)"
            },
        });
        let layout = self.sc.kvm.layout;
        let cpu = self.state.timer_cpu;
        let err = |e: crate::mem::MemError| WorldError::Scenario(e.to_string());
        for v in 0..self.sc.kvm.n_vcpus {
            self.touch(Res::Vcpu(v), true);
            let mem = &mut self.dut.mem;
            mem.host_lock_or(cpu, layout.requests(v), 1 << KVM_REQ_APICV_UPDATE_BIT)
                .map_err(err)?;
            let old = mem
                .host_cmpxchg(cpu, layout.mode(v), IN_GUEST_MODE, EXITING_GUEST_MODE)
                .map_err(err)?;
            if old != OUTSIDE_GUEST_MODE {
                let c = self.state.threads[usize::from(v)].cpu();
                self.touch(Res::Core(c), true);
                self.state.kick[usize::from(c)] = true;
            }
        }
        self.dut
            .mem
            .host_xchg(cpu, layout.apicv_inhibit_reasons(), u64::from(inhibit))
            .map_err(err)?;
        Ok(())
    }

    pub(super) fn exit_guest(&mut self, v: usize, exit: GuestExit) {
        let core = self.core_of(v);
        self.touch(Res::Vcpu(v as u8), true);
        self.touch(Res::Core(core as u8), true);
        self.dut.core(core).guest_mode = false;
        self.state.threads[v].on_exit(exit);
    }

    /// Doorbell-target bookkeeping of a doorbell rung for `target`.
    pub(super) fn doorbell_for(&mut self, target: u8, d: Doorbell) {
        let runs_on = self.guest_core(usize::from(target));
        self.state.oracles.observe(&Obs::Doorbell {
            target,
            runs_on,
            doorbell: d,
        });
    }

    /// The vCPU whose backing page holds `addr`.
    pub(super) fn vcpu_of_page(&self, addr: u64) -> Option<u8> {
        let vm = self.sc.kvm.layout.vm;
        (0..self.sc.kvm.n_vcpus).find(|&v| (vm.backing(v)..vm.backing(v) + 0x1000).contains(&addr))
    }

    /// The vCPU whose guest core `core` runs, for an RTL output `signal` at `cycle`: a port
    /// contract error when the core has run no guest.
    pub(super) fn guest_on(
        &self,
        core: usize,
        signal: &'static str,
        cycle: u64,
    ) -> Result<usize, DutError> {
        match self.state.vcpu_on.get(core) {
            Some(&v) if v != NO_VCPU && usize::from(v) < self.sc.n() => Ok(usize::from(v)),
            _ => Err(DutError::Contract {
                cycle,
                core,
                signal,
                what: "pulsed on a core that runs no vCPU".into(),
            }),
        }
    }

    /// Routes the RTL's outputs of this cycle; a [`DutError::Contract`] when they break the
    /// port contract (docs/port-contract.md).
    pub(super) fn after_edge(&mut self) -> Result<(), WorldError> {
        let n = self.dut.events().len();
        for i in self.state.rtl_seen..n {
            let e = self.dut.events()[i];
            self.state.log.push(Event::Rtl(e));
            let (DutEvent::Exit { core, .. }
            | DutEvent::Interrupt { core, .. }
            | DutEvent::Doorbell { core, .. }
            | DutEvent::DoorbellDropped { core, .. }) = e;
            self.touch(Res::Core(core as u8), true);
            if let DutEvent::Doorbell { .. } = e {
                let (target, _) = self.state.irr_write[core];
                if target != NO_VCPU {
                    self.touch(Res::Vcpu(target), true);
                }
            }
            match e {
                DutEvent::Exit {
                    cycle,
                    core,
                    code,
                    info1,
                    info2,
                } => {
                    let v = self.guest_on(core, "exit_valid_o", cycle)?;
                    if !self.state.threads[v].in_guest() {
                        return Err(DutError::Contract {
                            cycle,
                            core,
                            signal: "exit_valid_o",
                            what: format!("#VMEXIT while vCPU {v} is not in guest mode"),
                        }
                        .into());
                    }
                    let x = self.state.oracles.observe(&Obs::Exit {
                        cycle,
                        vcpu: v as u8,
                        code: u32::from(code),
                        info1,
                        info2,
                        icr: self.state.last_icr[v],
                        avic: self.state.apicv.avic_on[v],
                    });
                    self.note_violation(x);
                    let exit = if code == crate::apic::EXIT_NPF {
                        GuestExit::ApicAccess { info1 }
                    } else {
                        GuestExit::IncompleteIpi { info1, info2 }
                    };
                    self.exit_guest(v, exit);
                }
                DutEvent::Interrupt {
                    cycle,
                    core,
                    vector,
                } => {
                    let v = self.guest_on(core, "intr_valid_o", cycle)?;
                    if vector < 16 {
                        return Err(DutError::Contract {
                            cycle,
                            core,
                            signal: "intr_vec_o",
                            what: format!("vector {vector:#04x} is reserved (below 16)"),
                        }
                        .into());
                    }
                    let v = v as u8;
                    self.touch(Res::Guest(v), true);
                    self.touch(Res::Ledger(v), true);
                    self.state.guests[usize::from(v)].take(vector);
                    let x = self.state.oracles.observe(&Obs::Accepted {
                        cycle,
                        vcpu: v,
                        vector,
                    });
                    self.note_violation(x);
                }
                DutEvent::Doorbell {
                    cycle,
                    core,
                    host_id,
                } => {
                    self.guest_on(core, "doorbell_valid_o", cycle)?;
                    if usize::from(host_id) >= self.dut.cores() {
                        return Err(DutError::Contract {
                            cycle,
                            core,
                            signal: "doorbell_host_id_o",
                            what: format!(
                                "host APIC ID {host_id} names no host CPU (0..{})",
                                self.dut.cores()
                            ),
                        }
                        .into());
                    }
                    let (target, irr_cycle) = self.state.irr_write[core];
                    if target != NO_VCPU {
                        let vector = self
                            .state
                            .last_icr
                            .get(usize::from(self.state.vcpu_on[core]))
                            .map_or(0, |&icr| icr as u8);
                        self.doorbell_for(
                            target,
                            Doorbell {
                                cycle,
                                host_id,
                                irr_cycle,
                                vector,
                                hardware: true,
                            },
                        );
                    }
                }
                DutEvent::DoorbellDropped { .. } => {}
            }
        }
        self.state.rtl_seen = n;
        let cycle = self.dut.cycle();
        for v in 0..self.sc.n() {
            if self.state.guests[v].eoi_due && self.state.threads[v].serving_injected() {
                // The EOI store faults on the zapped APIC page: emulated (`apic_set_eoi`).
                self.touch(Res::Guest(v as u8), true);
                self.state.guests[v].eoi_due = false;
                self.exit_guest(v, GuestExit::Eoi);
            } else if self.state.guests[v].eoi_due {
                self.touch(Res::Guest(v as u8), true);
                self.state.guests[v].eoi_due = false;
                let core = self.core_of(v);
                self.dut.core(core).eoi = true;
                self.state.oracles.observe(&Obs::Eoi {
                    cycle,
                    vcpu: v as u8,
                });
            }
        }
        for cpu in 0..self.dut.cores() {
            if !self.state.kick[cpu] {
                continue;
            }
            self.touch(Res::Core(cpu as u8), true);
            let Some(v) = (0..self.sc.n()).find(|&v| self.core_of(v) == cpu) else {
                // No vCPU thread on that CPU (any more): the IPI interrupts nothing of ours.
                self.state.kick[cpu] = false;
                continue;
            };
            if self.guest_core(v).is_some() && self.dut.out.core[cpu].busy {
                // The ICR store in progress retires first: an interrupt is taken at an
                // instruction boundary (the AVIC's IPI is part of the store).
            } else if self.guest_core(v).is_some() {
                self.state.kick[cpu] = false;
                self.exit_guest(v, GuestExit::External);
            } else if !self.state.threads[v].entering_guest() {
                // The reschedule IPI interrupted host code: nothing to force out.
                self.state.kick[cpu] = false;
            }
        }
        self.judge_idle(cycle);
        Ok(())
    }

    /// Keeps the first violation of the run.
    pub(super) fn note_violation(&mut self, v: Option<Violation>) {
        if let Some(v) = v {
            self.state.violation.get_or_insert(v);
        }
    }

    /// The sends of a guest ICR write ([`crate::oracle::ipi`]): Fixed, edge, vector >= 16,
    /// one per target; lowest priority one send to the whole set. NMI, INIT, SMI and the
    /// rest never reach the IRR.
    pub(super) fn record_sends(&mut self, cycle: u64, from: u8, icr: &Icr, raw: u64) {
        if icr.trigger_level || icr.vector < 16 || !matches!(icr.delivery_mode, 0 | 1) {
            return;
        }
        let targets = decode_targets(icr, from, &self.sc.kvm);
        let send = |w: &mut World, candidates: u8| {
            w.state.oracles.observe(&Obs::Send {
                cycle,
                sender: from,
                icr: raw,
                vector: icr.vector,
                candidates,
            });
        };
        if icr.delivery_mode == 1 {
            let set = targets.as_slice().iter().fold(0u8, |m, &t| m | 1 << t);
            if set != 0 {
                send(self, set);
            }
        } else {
            for &t in targets.as_slice() {
                send(self, 1 << t);
            }
        }
        for &t in targets.as_slice() {
            self.touch(Res::Ledger(t), true);
        }
    }

    /// Turns this cycle's writes to the backing pages into postings for the oracles
    /// ([`crate::oracle::ipi`]): whose send each IRR bit carries, and bits that turned on
    /// with no send (a sender's stale write-back).
    pub(super) fn observe_writes(&mut self) {
        let vm = self.sc.kvm.layout.vm;
        let cycle = self.dut.mem.cycle();
        for i in 0..self.dut.mem.tapped().len() {
            let w = self.dut.mem.tapped()[i];
            let Some(t) = self.vcpu_of_page(w.addr) else {
                continue;
            };
            let off = w.addr - vm.backing(t);
            if !(IRR..IRR + 0x80).contains(&off) {
                continue;
            }
            let reg = ((off - IRR) / 0x10) as u8;
            let (old, new) = (w.old as u32, w.new as u32);
            // (the send's owner, the bits the write posts)
            let (sender, posts) = match w.agent {
                Agent::Rtl { core, port } if usize::from(port) == PORT_IRR => {
                    let s = self.state.icr_from[usize::from(core)];
                    let x = self
                        .state
                        .last_icr
                        .get(usize::from(s))
                        .map_or(0, |&i| i as u8);
                    let bit = if x >> 5 == reg { 1u32 << (x & 31) } else { 0 };
                    (Some(s), bit & w.data as u32)
                }
                Agent::Host(cpu) if w.kind == AccessKind::LockedRmw => {
                    let s = if w.actor != NO_ACTOR {
                        Some(w.actor)
                    } else {
                        (cpu == self.state.timer_cpu).then_some(TIMER_SENDER)
                    };
                    (s, (w.data & w.new) as u32)
                }
                _ => (None, new & !old),
            };
            let stray = new & !old & !posts;
            for b in 0..32u8 {
                let vector = reg << 5 | b;
                let ev = if posts & 1 << b != 0 {
                    Obs::Posted {
                        cycle,
                        target: t,
                        vector,
                        sender,
                        was_set: old & 1 << b != 0,
                        by: w.agent,
                    }
                } else if stray & 1 << b != 0 {
                    Obs::Stray {
                        cycle,
                        target: t,
                        vector,
                        by: w.agent,
                    }
                } else {
                    continue;
                };
                self.touch(Res::Ledger(t), true);
                let x = self.state.oracles.observe(&ev);
                self.note_violation(x);
            }
        }
        self.dut.mem.clear_tapped();
    }

    /// Judges the APIC state of every vCPU whose receiver is idle and whose registers changed.
    pub(super) fn judge_idle(&mut self, cycle: u64) {
        for v in 0..self.sc.n() as u8 {
            if self.state.oracles.apic.dirty(v) && self.receiver_idle(v) {
                self.state.oracles.apic.clean(v);
                let x = self.state.oracles.at_idle(self, v, cycle);
                self.note_violation(x);
            }
        }
    }

    /// The core whose receiver serves `v`'s backing page: the one its thread runs on, if
    /// `v` ran VMRUN there last.
    pub(super) fn receiver_of(&self, v: u8) -> Option<usize> {
        let c = self.core_of(usize::from(v));
        (self.state.vcpu_on[c] == v).then_some(c)
    }

    pub(super) fn quiescent_verdict(&self, cycle: u64) -> Verdict {
        match self.state.oracles.at_quiescence(self, cycle) {
            Some(v) => Verdict::Violated(v),
            None => Verdict::Holds,
        }
    }
}
