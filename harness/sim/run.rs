//! Building a world, snapshots, and the cycle loop.

use super::*;
use crate::apic::LogEntry;
use crate::coverage::{OrderWatch, Orders};
use crate::dut::{Dut, MAX_CORES, PORT_IRR, PORT_TBL};
use crate::ffi::ModelKind;
use crate::guest::{Guest, GuestOp};
use crate::kvm::{KvmError, VcpuThread};
use crate::mem::Memory;
use crate::oracle::{Ledger, Oracles};

impl World {
    /// Builds the world of `sc`: memory initialised, RTL reset, threads about to `vcpu_load`.
    pub fn new(sc: &Scenario, kind: ModelKind) -> Result<Self, WorldError> {
        sc.validate().map_err(WorldError::Scenario)?;
        let n = sc.n();
        let layout = sc.kvm.layout;
        let mut mem = Memory::with_capacity(layout.mem_size(n as u8), sc.cores + 1, 8, 0);
        mem.set_logging(false);
        mem.observe(OrderWatch::new(&layout, n as u8));
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
        if dut.cores() != usize::from(sc.cores) {
            return Err(WorldError::Scenario(format!(
                "the scenario has {} cores but the model {} (the RTL's NumCores)",
                sc.cores,
                dut.cores()
            )));
        }
        dut.inp.phys_base = layout.vm.phys_table;
        dut.inp.phys_max_idx = (n - 1) as u8;
        dut.inp.log_base = layout.vm.log_table;
        let mut vcpu_on = [NO_VCPU; MAX_CORES];
        for v in 0..n {
            vcpu_on[usize::from(sc.placement[v])] = v as u8;
        }
        for (c, &v) in vcpu_on.iter().enumerate().take(usize::from(sc.cores)) {
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
        let oracles = Oracles::new(n, sc.max_sends(), sc.max_cycles / 4);
        Ok(World {
            sc: sc.clone(),
            dut,
            state: RunState::new(threads, guests, vcpu_on, sc.cores, oracles),
            steps: None,
            touched: Vec::new(),
            action_end: (0, 0),
            accesses: Vec::new(),
            pending: Vec::new(),
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
        if self.steps.is_some() {
            return Err(WorldError::Scenario(
                "a world recording steps cannot be saved".into(),
            ));
        }
        Ok(Snapshot {
            dut: self.dut.snapshot()?,
            state: self.state.clone(),
        })
    }

    /// Puts the world back in the state `s` holds, whatever it did since (a finished run
    /// included). `s` must come from a world of the same scenario on the Savable model; the
    /// loop that follows allocates no more than after [`World::new`].
    pub fn restore(&mut self, s: &Snapshot) -> Result<(), WorldError> {
        let n = self.sc.n();
        if s.state.threads.len() != n {
            return Err(WorldError::Scenario(format!(
                "a snapshot of {} vCPUs cannot restore a world of {n}",
                s.state.threads.len()
            )));
        }
        if self.steps.is_some() {
            return Err(WorldError::Scenario(
                "a world recording steps cannot be restored".into(),
            ));
        }
        self.dut.restore(&s.dut)?;
        self.state.restore(&s.state);
        Ok(())
    }

    /// Choice points passed so far (the index of the next one).
    pub fn choice_point(&self) -> usize {
        self.state.choices.len()
    }

    /// The RTL and its memory.
    pub fn dut(&self) -> &Dut {
        &self.dut
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.sc
    }

    /// The events of the run so far.
    pub fn log(&self) -> &[Event] {
        &self.state.log
    }

    /// vCPU threads.
    pub fn threads(&self) -> &[VcpuThread] {
        &self.state.threads
    }

    /// Guests.
    pub fn guests(&self) -> &[Guest] {
        &self.state.guests[..self.sc.n()]
    }

    /// Writes a waveform of the RTL (the model must be a VCD or FST build).
    pub fn open_trace(&mut self, path: &str) -> Result<(), WorldError> {
        Ok(self.dut.open_trace(path)?)
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
        for (v, t) in self.state.threads.iter().enumerate() {
            if t.runnable() {
                push(Action::Thread(v as u8));
            }
        }
        for v in 0..n {
            if self.guest_can_run(v) {
                push(Action::Guest(v as u8));
            }
        }
        for c in 0..self.dut.cores() {
            for p in [PORT_IRR, PORT_TBL] {
                if self.dut.completable(c, p) {
                    push(Action::Complete(c as u8, p as u8));
                }
            }
        }
        for c in 0..=self.dut.cores() {
            if self.dut.mem.sb_len(c as u8) > 0 {
                push(Action::Drain(c as u8));
            }
        }
        for v in 0..n {
            if self.sc.timers[v] && !self.state.timer_fired[v] {
                push(Action::Timer(v as u8));
            }
            if self.sc.preemptible[v]
                && !self.state.preempted[v]
                && self.state.threads[v].preemptible()
            {
                push(Action::Preempt(v as u8));
            }
            if let Some(c) = self.sc.migrate_to[v] {
                if !self.state.migrated[v] && self.state.threads[v].preemptible() {
                    push(Action::Migrate(v as u8, c));
                }
            }
        }
        if self.sc.apicv_toggle && self.state.apicv.toggles < 2 {
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
        (0..self.dut.cores()).any(|c| {
            let o = &self.dut.out.core[c];
            let waits_on_schedule = [PORT_IRR, PORT_TBL]
                .iter()
                .any(|&p| self.dut.in_flight(c, p));
            o.eval_busy || o.in_service || (o.busy && !waits_on_schedule)
        })
    }

    /// The core `v`'s thread runs on.
    pub(super) fn core_of(&self, v: usize) -> usize {
        usize::from(self.state.threads[v].cpu())
    }

    /// The core where `v` runs in guest mode, if it does.
    pub(super) fn guest_core(&self, v: usize) -> Option<u8> {
        let c = self.core_of(v);
        (self.state.threads[v].in_guest() && self.dut.inp.core[c].guest_mode).then_some(c as u8)
    }

    pub(super) fn guest_can_run(&self, v: usize) -> bool {
        let c = self.core_of(v);
        let o = &self.dut.out.core[c];
        let i = &self.dut.inp.core[c];
        self.state.guests[v].next_op() != GuestOp::Loop
            && self.state.threads[v].in_guest()
            && i.guest_mode
            && !i.vmrun
            && !o.busy
            && !o.eval_busy
            && !o.in_service
            && !self.state.guests[v].eoi_due
            && !i.eoi
    }

    pub(super) fn rtl_quiet(&self) -> bool {
        (0..self.dut.cores()).all(|c| {
            let o = &self.dut.out.core[c];
            !o.busy
                && !o.eval_busy
                && !o.in_service
                && !o.port.iter().any(|p| p.valid)
                && !(0..3).any(|p| self.dut.in_flight(c, p))
        })
    }

    /// Asks `sched` which of the `enabled` actions to take and records the choice.
    pub(super) fn choose(&mut self, sched: &Schedule, enabled: &[Action]) -> usize {
        let n = enabled.len();
        if n == 1 {
            return 0;
        }
        let default = self
            .state
            .current
            .and_then(|c| enabled.iter().position(|&a| a == c))
            .unwrap_or(0);
        let mut agents = [0u64; MAX_ENABLED];
        for (id, &a) in agents.iter_mut().zip(enabled) {
            *id = agent_id(a);
        }
        let idx = sched.choose(&ChoicePoint {
            point: self.state.choices.len(),
            agents: &agents[..n],
            default,
            acted: &self.state.acted_at,
        });
        let rank = index_to_rank(idx, default);
        self.state.choices.push((rank as u16, n as u16));
        self.state.choice_cycles.push(self.dut.cycle() as u32);
        idx
    }

    /// Runs to quiescence, a violation or the cycle bound.
    pub fn run(self, sched: &Schedule) -> Result<Outcome, WorldError> {
        self.run_with(sched, &mut ())
    }

    /// [`World::run`] with `obs` seeing every cycle (the waveform's software lanes:
    /// [`crate::wave::record`]).
    pub fn run_with(
        mut self,
        sched: &Schedule,
        obs: &mut impl Observer,
    ) -> Result<Outcome, WorldError> {
        let verdict = self.advance(sched, &mut |_: &World| Ok(()), obs)?;
        obs.finish(&verdict, self.dut.cycle());
        Ok(self.finish(verdict))
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
        let verdict = self.advance(sched, &mut at_choice, &mut ())?;
        Ok(self.finish(verdict))
    }

    /// The outcome of a run that ended with `verdict`; takes the run's buffers.
    pub(super) fn finish(&mut self, verdict: Verdict) -> Outcome {
        let recorded = self.steps_recorded();
        let accesses = recorded.then(|| std::mem::take(&mut self.accesses));
        Outcome {
            verdict,
            cycles: self.state.ran,
            choices: std::mem::take(&mut self.state.choices),
            choice_cycles: std::mem::take(&mut self.state.choice_cycles),
            log: std::mem::take(&mut self.state.log),
            // An empty ledger of no vCPUs allocates nothing.
            ledger: std::mem::replace(&mut self.state.oracles.ledger, Ledger::new(0)),
            orders: self
                .dut
                .mem
                .observer::<OrderWatch>()
                .map_or(Orders::default(), OrderWatch::orders),
            steps: self.steps.take(),
            accesses,
        }
    }

    /// The cycle loop, from wherever the world stands to a verdict.
    pub(super) fn advance<F, O>(
        &mut self,
        sched: &Schedule,
        at_choice: &mut F,
        obs: &mut O,
    ) -> Result<Verdict, WorldError>
    where
        F: FnMut(&World) -> Result<(), WorldError>,
        O: Observer,
    {
        let mut enabled = [Action::Thread(0); MAX_ENABLED];
        let verdict = loop {
            if let Some(v) = self.state.violation.take() {
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
                    self.state.oracles.progress.enabled(slot(a), self.state.ran);
                }
            }
            if self.state.ran >= self.sc.max_cycles {
                break match self.state.oracles.at_cycle_limit(self, cycle) {
                    Some(v) => Verdict::Violated(v),
                    None => Verdict::Bound,
                };
            }
            if k > 1 {
                at_choice(self)?;
            }
            obs.begin(self);
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
                .state
                .current
                .and_then(|c| enabled[..k].iter().position(|&a| a == c))
                .unwrap_or(0);
            let choice = (k > 1).then_some(self.state.choices.len());
            if k > 0 {
                let i = self.choose(sched, &enabled[..k]);
                if k > 1 {
                    self.state.acted_at.push(agent_id(enabled[i]));
                }
                acted = Some(enabled[i]);
                self.state.oracles.progress.taken(slot(enabled[i]));
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
            obs.end(self, acted);
            self.state.ran += 1;
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
