//! Building a world, snapshots, and the cycle loop.

use super::*;
use crate::apic::LogEntry;
use crate::coverage::OrderWatch;
use crate::dut::{refill, Dut, NUM_CORES, PORT_IRR, PORT_TBL};
use crate::ffi::ModelKind;
use crate::guest::{Guest, GuestOp};
use crate::kvm::{KvmError, VcpuThread};
use crate::mem::Memory;
use crate::oracle::{Ledger, Oracles};
use crate::wave::Lanes;

impl World {
    /// Builds the world of `sc`: memory initialised, RTL reset, threads about to `vcpu_load`.
    pub fn new(sc: &Scenario, kind: ModelKind) -> Result<Self, WorldError> {
        sc.validate()?;
        let n = sc.n();
        let layout = sc.kvm.layout;
        let mut mem = Memory::with_capacity(layout.mem_size(n as u8), NUM_CORES as u8 + 1, 8, 0);
        mem.set_logging(false);
        mem.watch_orders(OrderWatch::new(&layout, n as u8));
        // The oracles watch every write to the backing pages.
        mem.tap(layout.vm.backing(0)..layout.vm.backing(n as u8));
        for v in 0..n as u8 {
            layout
                .init_vcpu_on(&mut mem, v, sc.placement[usize::from(v)])
                .map_err(|e| WorldError::Scenario(e.to_string()))?;
            let pending = u64::from(sc.irr_pending[usize::from(v)]);
            mem.poke(layout.irr_pending(v), pending)
                .map_err(|e| WorldError::Scenario(e.to_string()))?;
        }
        // Logical APIC ID table: vCPU v's entry at the index its logical ID selects.
        for v in 0..n as u8 {
            let Some(idx) = sc.kvm.logical_index(v) else {
                continue;
            };
            let entry = LogEntry {
                valid: sc.logical_valid[usize::from(v)],
                phys_id: v,
            }
            .encode();
            let (addr, upper) = layout.vm.log_entry(idx);
            let word = mem
                .peek(addr)
                .map_err(|e| WorldError::Scenario(e.to_string()))?;
            let word = if upper {
                word & 0xFFFF_FFFF | u64::from(entry) << 32
            } else {
                word & !0xFFFF_FFFF | u64::from(entry)
            };
            mem.poke(addr, word)
                .map_err(|e| WorldError::Scenario(e.to_string()))?;
        }
        if kind == ModelKind::Savable {
            // Snapshots copy only the chunks written since this image.
            mem.set_base();
        }
        let mut dut = Dut::with_rtl(&sc.rtl, kind, sc.hw, mem)?;
        dut.inp.phys_base = layout.vm.phys_table;
        dut.inp.phys_max_idx = (n - 1) as u8;
        dut.inp.log_base = layout.vm.log_table;
        let mut vcpu_on = [NO_VCPU; NUM_CORES];
        for v in 0..n {
            vcpu_on[usize::from(sc.placement[v])] = v as u8;
        }
        for (c, &v) in vcpu_on.iter().enumerate() {
            let ci = dut.core(c);
            // Until a VMRUN on it sets them: its vCPU's, or none.
            ci.self_idx = if v == NO_VCPU { c as u8 } else { v };
            ci.backing = if v == NO_VCPU {
                0
            } else {
                layout.vm.backing(v)
            };
            ci.intr_ready = true;
            ci.ldr_cluster = sc.kvm.logical_cluster;
            // Sender transactions complete only when the schedule says.
            dut.hold(c, PORT_IRR, true);
            dut.hold(c, PORT_TBL, true);
        }
        let threads = (0..n as u8)
            .map(|v| {
                let mut t = VcpuThread::new(sc.kvm, v)?;
                t.place(sc.placement[usize::from(v)]);
                Ok(t)
            })
            .collect::<Result<Vec<_>, KvmError>>()?;
        let mut guests = [Guest::default(); MAX_VCPUS];
        for (g, p) in guests.iter_mut().zip(sc.programs) {
            *g = Guest::new(p);
        }
        Ok(World {
            sc: sc.clone(),
            dut,
            threads,
            guests,
            kick: [false; NUM_CORES],
            wake: [false; MAX_VCPUS],
            timer_fired: [false; MAX_VCPUS],
            apicv: Apicv::default(),
            preempted: [false; MAX_VCPUS],
            migrated: [false; MAX_VCPUS],
            vcpu_on,
            irr_write: [(NO_VCPU, 0); NUM_CORES],
            set_irr_at: [0; MAX_VCPUS],
            last_icr: [0; MAX_VCPUS],
            icr_from: [NO_VCPU; NUM_CORES],
            oracles: Oracles::new(n, sc.max_sends(), sc.max_cycles / 4),
            log: Vec::with_capacity(LOG_CAPACITY),
            choices: Vec::with_capacity(CHOICE_CAPACITY),
            choice_cycles: Vec::with_capacity(CHOICE_CAPACITY),
            current: None,
            acted_at: Vec::with_capacity(CHOICE_CAPACITY),
            rtl_seen: 0,
            violation: None,
            timer_cpu: NUM_CORES as u8,
            lanes: None,
            steps: None,
            touched: Vec::new(),
            action_end: (0, 0),
            accesses: Vec::new(),
            pending: Vec::new(),
            ran: 0,
        })
    }

    /// A world of `sc` on the Savable model, in the state `s` holds (a snapshot of a world of
    /// the same scenario).
    pub fn from_snapshot(sc: &Scenario, s: &Snapshot) -> Result<Self, WorldError> {
        let mut w = World::new(sc, ModelKind::Savable)?;
        w.restore(s)?;
        Ok(w)
    }

    /// Saves the world where it stands: between runs, or at a choice point seen by the
    /// observer of [`World::run_observed`]. Needs the bundled RTL's [`ModelKind::Savable`]
    /// build, and no recording of lanes or steps (their buffers are not saved).
    pub fn snapshot(&self) -> Result<Snapshot, WorldError> {
        let World {
            sc: _,
            dut,
            threads,
            guests,
            kick,
            wake,
            timer_fired,
            apicv,
            preempted,
            migrated,
            vcpu_on,
            irr_write,
            set_irr_at,
            last_icr,
            icr_from,
            oracles,
            log,
            choices,
            choice_cycles,
            current,
            acted_at,
            rtl_seen,
            violation,
            timer_cpu,
            lanes,
            steps,
            touched: _,
            accesses: _,
            pending: _,
            action_end: _,
            ran,
        } = self;
        if lanes.is_some() || steps.is_some() {
            return Err(WorldError::Scenario(
                "a world recording waveform lanes or steps cannot be saved".into(),
            ));
        }
        Ok(Snapshot {
            dut: dut.snapshot()?,
            threads: threads.clone(),
            guests: *guests,
            kick: *kick,
            wake: *wake,
            timer_fired: *timer_fired,
            apicv: *apicv,
            preempted: *preempted,
            migrated: *migrated,
            vcpu_on: *vcpu_on,
            irr_write: *irr_write,
            set_irr_at: *set_irr_at,
            last_icr: *last_icr,
            icr_from: *icr_from,
            oracles: oracles.clone(),
            log: log.clone(),
            choices: choices.clone(),
            choice_cycles: choice_cycles.clone(),
            current: *current,
            acted_at: acted_at.clone(),
            rtl_seen: *rtl_seen,
            violation: violation.clone(),
            timer_cpu: *timer_cpu,
            ran: *ran,
        })
    }

    /// Puts the world back in the state `s` holds, whatever it did since (a finished run
    /// included). `s` must come from a world of the same scenario on the Savable model; the
    /// loop that follows allocates no more than after [`World::new`].
    pub fn restore(&mut self, s: &Snapshot) -> Result<(), WorldError> {
        let n = self.sc.n();
        if s.threads.len() != n {
            return Err(WorldError::Scenario(format!(
                "a snapshot of {} vCPUs cannot restore a world of {n}",
                s.threads.len()
            )));
        }
        if self.lanes.is_some() || self.steps.is_some() {
            return Err(WorldError::Scenario(
                "a world recording waveform lanes or steps cannot be restored".into(),
            ));
        }
        self.dut.restore(&s.dut)?;
        let World {
            sc: _,
            dut: _,
            threads,
            guests,
            kick,
            wake,
            timer_fired,
            apicv,
            preempted,
            migrated,
            vcpu_on,
            irr_write,
            set_irr_at,
            last_icr,
            icr_from,
            oracles,
            log,
            choices,
            choice_cycles,
            current,
            acted_at,
            rtl_seen,
            violation,
            timer_cpu,
            lanes: _,
            steps: _,
            touched: _,
            accesses: _,
            pending: _,
            action_end: _,
            ran,
        } = self;
        threads.clone_from(&s.threads);
        *guests = s.guests;
        *kick = s.kick;
        *wake = s.wake;
        *timer_fired = s.timer_fired;
        *apicv = s.apicv;
        *preempted = s.preempted;
        *migrated = s.migrated;
        *vcpu_on = s.vcpu_on;
        *irr_write = s.irr_write;
        *set_irr_at = s.set_irr_at;
        *last_icr = s.last_icr;
        *icr_from = s.icr_from;
        oracles.copy_from(&s.oracles);
        refill(log, &s.log, LOG_CAPACITY);
        refill(choices, &s.choices, CHOICE_CAPACITY);
        refill(choice_cycles, &s.choice_cycles, CHOICE_CAPACITY);
        *current = s.current;
        refill(acted_at, &s.acted_at, CHOICE_CAPACITY);
        *rtl_seen = s.rtl_seen;
        violation.clone_from(&s.violation);
        *timer_cpu = s.timer_cpu;
        *ran = s.ran;
        Ok(())
    }

    /// Choice points passed so far (the index of the next one).
    pub fn choice_point(&self) -> usize {
        self.choices.len()
    }

    /// The RTL and its memory.
    pub fn dut(&self) -> &Dut {
        &self.dut
    }

    /// vCPU threads.
    pub fn threads(&self) -> &[VcpuThread] {
        &self.threads
    }

    /// Guests.
    pub fn guests(&self) -> &[Guest] {
        &self.guests[..self.sc.n()]
    }

    /// Writes a waveform of the RTL (the model must be a VCD or FST build).
    pub fn open_trace(&mut self, path: &str) -> Result<(), WorldError> {
        Ok(self.dut.open_trace(path)?)
    }

    /// Records the software lanes of a waveform (KVM step, `vcpu->mode`, store buffers,
    /// IsRunning, sleep, interrupts, event markers: [`crate::wave::Lanes`]) during
    /// [`World::run_traced`]. Their buffers are reserved here, so the loop still allocates
    /// nothing. [`crate::wave::record`] merges them with the RTL's trace.
    pub fn record_lanes(&mut self) {
        self.lanes = Some(Box::new(Lanes::new(&self.sc, self.dut.cycle())));
    }

    /// Records every cycle's [`Step`] (enabled actions, action taken, footprint) and the
    /// memory access log into the [`Outcome`], for partial-order reduction. Allocates per
    /// cycle; the ordinary loop (without this call) records nothing.
    pub fn record_steps(&mut self) {
        self.steps = Some(Vec::with_capacity(256));
        self.dut.mem.set_logging(true);
    }

    /// Notes a touch of the current cycle (recording mode only).
    pub(super) fn touch(&mut self, res: Res, write: bool) {
        if self.steps.is_some() {
            self.touched.push(Touch {
                res,
                host: None,
                write,
            });
        }
    }

    pub(super) fn enabled(&self, out: &mut [Action; MAX_ENABLED]) -> usize {
        let mut k = 0;
        let mut push = |a: Action| {
            if k < MAX_ENABLED {
                out[k] = a;
                k += 1;
            }
        };
        let n = self.sc.n();
        for (v, t) in self.threads.iter().enumerate() {
            if t.runnable() {
                push(Action::Thread(v as u8));
            }
        }
        for v in 0..n {
            if self.guest_can_run(v) {
                push(Action::Guest(v as u8));
            }
        }
        for c in 0..NUM_CORES {
            for p in [PORT_IRR, PORT_TBL] {
                if self.dut.completable(c, p) {
                    push(Action::Complete(c as u8, p as u8));
                }
            }
        }
        for c in 0..=NUM_CORES {
            if self.dut.mem.sb_len(c as u8) > 0 {
                push(Action::Drain(c as u8));
            }
        }
        for v in 0..n {
            if self.sc.timers[v] && !self.timer_fired[v] {
                push(Action::Timer(v as u8));
            }
            if self.sc.preemptible[v] && !self.preempted[v] && self.threads[v].preemptible() {
                push(Action::Preempt(v as u8));
            }
            if let Some(c) = self.sc.migrate_to[v] {
                if !self.migrated[v] && self.threads[v].preemptible() {
                    push(Action::Migrate(v as u8, c));
                }
            }
        }
        if self.sc.apicv_toggle && self.apicv.toggles < 2 {
            push(Action::Apicv);
        }
        let idle = self.rtl_progressing();
        if idle {
            push(Action::Idle);
        }
        // Idle alone is no choice: the cycle just passes.
        if k == 1 && idle {
            return 0;
        }
        k
    }

    /// Some RTL work advances without any schedule decision.
    pub(super) fn rtl_progressing(&self) -> bool {
        (0..NUM_CORES).any(|c| {
            let o = &self.dut.out.core[c];
            let waits_on_schedule = [PORT_IRR, PORT_TBL]
                .iter()
                .any(|&p| self.dut.in_flight(c, p));
            o.eval_busy || o.in_service || (o.busy && !waits_on_schedule)
        })
    }

    /// The core `v`'s thread runs on.
    pub(super) fn core_of(&self, v: usize) -> usize {
        usize::from(self.threads[v].cpu())
    }

    /// The core where `v` runs in guest mode, if it does.
    pub(super) fn guest_core(&self, v: usize) -> Option<u8> {
        let c = self.core_of(v);
        (self.threads[v].in_guest() && self.dut.inp.core[c].guest_mode).then_some(c as u8)
    }

    pub(super) fn guest_can_run(&self, v: usize) -> bool {
        let c = self.core_of(v);
        let o = &self.dut.out.core[c];
        let i = &self.dut.inp.core[c];
        self.guests[v].next_op() != GuestOp::Loop
            && self.threads[v].in_guest()
            && i.guest_mode
            && !i.vmrun
            && !o.busy
            && !o.eval_busy
            && !o.in_service
            && !self.guests[v].eoi_due
            && !i.eoi
    }

    pub(super) fn rtl_quiet(&self) -> bool {
        (0..NUM_CORES).all(|c| {
            let o = &self.dut.out.core[c];
            !o.busy
                && !o.eval_busy
                && !o.in_service
                && !o.port.iter().any(|p| p.valid)
                && !(0..3).any(|p| self.dut.in_flight(c, p))
        })
    }

    pub(super) fn choose(&mut self, policy: &Policy, prefix: &[u16], enabled: &[Action]) -> usize {
        let n = enabled.len();
        let default = self
            .current
            .and_then(|c| enabled.iter().position(|&a| a == c))
            .unwrap_or(0);
        let point = self.choices.len();
        let idx = if n == 1 {
            return 0;
        } else if let Some(&r) = prefix.get(point) {
            rank_to_index(r, default, n)
        } else {
            match *policy {
                Policy::Continue => default,
                Policy::Random(seed) => (mix(seed ^ mix(point as u64)) % n as u64) as usize,
                Policy::Pct { seed, depth, steps } => {
                    let prio = |a: Action| -> u64 {
                        let base = mix(seed ^ mix(agent_id(a))) | 1 << 63;
                        // Change points: the acting agent at point p drops below all others.
                        let mut pr = base;
                        for d in 1..u64::from(depth) {
                            let cp = mix(seed ^ 0xC0FFEE ^ d) % u64::from(steps.max(1));
                            if point as u64 > cp && self.demoted(cp as usize, a) {
                                pr = d;
                            }
                        }
                        pr
                    };
                    (0..n)
                        .max_by_key(|&i| (prio(enabled[i]), std::cmp::Reverse(i)))
                        .unwrap_or(0)
                }
            }
        };
        let rank = index_to_rank(idx, default);
        self.choices.push((rank as u16, n as u16));
        self.choice_cycles.push(self.dut.cycle() as u32);
        idx
    }

    /// Whether `a` acted at choice point `cp` (PCT demotion).
    pub(super) fn demoted(&self, cp: usize, a: Action) -> bool {
        self.choices.get(cp).is_some() && self.acted_at.get(cp).copied() == Some(agent_id(a))
    }

    /// Runs to quiescence, a violation or the cycle bound.
    pub fn run(self, sched: &Schedule) -> Result<Outcome, WorldError> {
        self.run_traced(sched).map(|(o, _)| o)
    }

    /// [`World::run`], also returning the lanes if [`World::record_lanes`] was called.
    pub fn run_traced(
        mut self,
        sched: &Schedule,
    ) -> Result<(Outcome, Option<Box<Lanes>>), WorldError> {
        let verdict = self.advance(sched, &mut |_: &World| Ok(()))?;
        let outcome = self.finish(verdict);
        Ok((outcome, self.lanes.take()))
    }

    /// Runs like [`World::run`] without consuming the world, calling `at_choice` at every
    /// choice point, at the start of its cycle before the schedule chooses (where
    /// [`World::snapshot`] saves a state to branch from: [`World::choice_point`] says which).
    /// The outcome takes the world's log and choices: restore a snapshot before running the
    /// world again.
    pub fn run_observed(
        &mut self,
        sched: &Schedule,
        mut at_choice: impl FnMut(&World) -> Result<(), WorldError>,
    ) -> Result<Outcome, WorldError> {
        let verdict = self.advance(sched, &mut at_choice)?;
        Ok(self.finish(verdict))
    }

    /// The outcome of a run that ended with `verdict`; takes the run's buffers.
    pub(super) fn finish(&mut self, verdict: Verdict) -> Outcome {
        if let Some(l) = self.lanes.as_deref_mut() {
            l.finish(&verdict, self.dut.cycle());
        }
        let recorded = self.steps_recorded();
        let accesses = recorded.then(|| std::mem::take(&mut self.accesses));
        Outcome {
            verdict,
            cycles: self.ran,
            choices: std::mem::take(&mut self.choices),
            choice_cycles: std::mem::take(&mut self.choice_cycles),
            log: std::mem::take(&mut self.log),
            // An empty ledger of no vCPUs allocates nothing.
            ledger: std::mem::replace(&mut self.oracles.ledger, Ledger::new(0)),
            orders: self.dut.mem.orders(),
            steps: self.steps.take(),
            accesses,
        }
    }

    /// The cycle loop, from wherever the world stands to a verdict.
    pub(super) fn advance<F>(
        &mut self,
        sched: &Schedule,
        at_choice: &mut F,
    ) -> Result<Verdict, WorldError>
    where
        F: FnMut(&World) -> Result<(), WorldError>,
    {
        let mut enabled = [Action::Thread(0); MAX_ENABLED];
        let verdict = loop {
            if let Some(v) = self.violation.take() {
                break Verdict::Violated(v);
            }
            let cycle = self.dut.cycle();
            self.dut.mem.set_cycle(cycle);
            let k = self.enabled(&mut enabled);
            if k == 0 && self.rtl_quiet() {
                break self.quiescent_verdict(cycle);
            }
            for &a in &enabled[..k] {
                if a != Action::Idle {
                    self.oracles.progress.enabled(slot(a), self.ran);
                }
            }
            if self.ran >= self.sc.max_cycles {
                break match self.oracles.at_cycle_limit(self, cycle) {
                    Some(v) => Verdict::Violated(v),
                    None => Verdict::Bound,
                };
            }
            if k > 1 {
                at_choice(self)?;
            }
            if let Some(l) = self.lanes.as_deref_mut() {
                l.begin(&self.threads, self.log.len(), &self.dut);
            }
            let mut acted = None;
            let recording = self.steps.is_some();
            let before = recording.then_some(self.dut.inp.core);
            if recording {
                self.pending = enabled[..k]
                    .iter()
                    .filter_map(|&a| self.predicted(a).map(|t| (a, t)))
                    .collect();
            }
            let default = self
                .current
                .and_then(|c| enabled[..k].iter().position(|&a| a == c))
                .unwrap_or(0);
            let choice = (k > 1).then_some(self.choices.len());
            if k > 0 {
                let i = self.choose(&sched.policy, &sched.prefix, &enabled[..k]);
                if k > 1 {
                    self.acted_at.push(agent_id(enabled[i]));
                }
                acted = Some(enabled[i]);
                self.oracles.progress.taken(slot(enabled[i]));
                self.act(enabled[i], cycle)?;
            }
            if recording {
                self.touch_changed_inputs(before.as_ref());
                self.action_end = (self.touched.len(), self.dut.mem.log().len());
            }
            self.dut.step()?;
            let stepped = recording.then_some(self.dut.inp.core);
            self.observe_writes();
            self.after_edge()?;
            if recording {
                self.touch_changed_inputs(stepped.as_ref());
                self.end_step(&enabled[..k], acted, default, choice);
            }
            if let Some(l) = self.lanes.as_deref_mut() {
                l.end(&self.sc, acted, &self.dut, &self.threads, &self.log);
            }
            self.ran += 1;
        };
        Ok(verdict)
    }
}

/// Sorts and deduplicates a footprint; a write subsumes a read of the same resource by the
/// same host.
pub(super) fn normalize(touches: &mut Vec<Touch>) {
    touches.sort();
    touches.dedup();
    touches.dedup_by(|b, a| {
        if a.res == b.res && a.host == b.host {
            a.write |= b.write;
            true
        } else {
            false
        }
    });
}
