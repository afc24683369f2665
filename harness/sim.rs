//! The co-simulation world: the Verilated RTL, one simulated memory, one KVM thread per vCPU,
//! the guests, all stepped by one cycle loop.
//!
//! Host CPU `c` (`0..cores`, the scenario's [`Scenario::cores`]) is RTL core `c`; host CPU `cores` is the timer's. Each
//! vCPU's thread starts on the host CPU its [`Scenario::placement`] names (by default vCPU
//! `i` on CPU `i`) and may be migrated once to [`Scenario::migrate_to`]: a preemption whose
//! context switch moves it ([`Action::Migrate`]). A core runs the guest of the vCPU that last
//! issued VMRUN on it: VMRUN sets the core's backing page and APIC ID.
//!
//! # One cycle
//!
//! Like hardcaml's `Cyclesim`, a cycle has three phases, and software acts only in the first:
//!
//! 1. **Before the edge.** The world lists the enabled actions and the [`Schedule`] picks one:
//!    a KVM thread step (one shared-memory access or one local action, on x86-TSO memory),
//!    a guest instruction (an ICR write drives the RTL's ICR inputs; HLT exits), a store-buffer
//!    drain of one host CPU, the completion of one held RTL memory transaction, a timer
//!    interrupt, or a preemption. Then the port service of [`Dut::step`] accepts the requests
//!    the RTL offers (they are held) and completes the one the schedule released (plus the
//!    receiver port, whose transactions complete one cycle after acceptance).
//! 2. **The edge.** Verilator evaluates the rising clock edge.
//! 3. **After the edge.** RTL outputs are routed: a #VMEXIT leaves guest mode and hands the
//!    exit to the vCPU's thread, an interrupt taken is counted by the guest (which EOIs in the
//!    next cycle), doorbells and drops are logged. Oracles that look at single events run here.
//!
//! Everything nondeterministic (which agent acts, when a store buffer drains, when each RTL
//! transaction of the sender completes, timers, preemption) is a choice of the schedule, so a
//! run is a pure function of scenario and schedule.
//!
//! # Branching
//!
//! On the [`ModelKind::Savable`](crate::ffi::ModelKind::Savable) build a world can be saved at a choice point
//! ([`World::run_observed`] shows it each one, [`World::snapshot`] saves it) and put back
//! there later ([`World::restore`]) to run on with another choice: the exhaustive search of
//! [`crate::explore`] branches that way instead of re-simulating every schedule from reset.

use crate::dut::{Dut, DutError, DutSnapshot, MAX_CORES};
use crate::kvm::{HostCtx, KvmError, KvmEvent, KvmLayout};
use crate::mem::Memory;
use crate::oracle::{Obs, Oracles, View, Violation};
use std::fmt::Write as _;

mod action;
mod event;
mod observer;
mod run;
mod state;
mod step;
mod view;

use crate::scenario::{Scenario, MAX_VCPUS};
use crate::sched::{index_to_rank, ChoicePoint, Schedule, MAX_ENABLED};
use action::{agent_id, slot};
pub use action::{Action, Res, Step, Touch};
pub use event::{Event, Outcome, Verdict};
pub use observer::Observer;
use run::normalize;
use state::{RunState, NO_VCPU};

/// Vector of the LAPIC timer interrupt a [`Action::Timer`] injects.
pub const TIMER_VECTOR: u8 = 0xEC;

/// Errors that end a run without a verdict.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// The RTL or its memory failed.
    #[error(transparent)]
    Dut(#[from] DutError),
    /// A KVM thread failed.
    #[error(transparent)]
    Kvm(#[from] KvmError),
    /// The scenario is not well formed.
    #[error("scenario: {0}")]
    Scenario(String),
}

/// A [`World`] saved at a choice point ([`World::snapshot`]): the [`Dut`] with its memory
/// and the RTL's `--savable` bytes, and the `RunState` (everything else a run depends on
/// from there), so that a run resumed from it ([`World::restore`], [`World::from_snapshot`])
/// with any schedule that agrees with the choices made so far is the run a fresh world would
/// make under that schedule.
#[derive(Clone, Debug)]
pub struct Snapshot {
    dut: DutSnapshot,
    state: RunState,
}

impl Snapshot {
    /// Choice points passed before the snapshot (the index of the next one).
    pub fn choice_point(&self) -> usize {
        self.state.choices.len()
    }

    /// The RTL's saved state.
    pub fn dut(&self) -> &DutSnapshot {
        &self.dut
    }
}

/// The world of one run: the scenario, the RTL with its memory, the run's state, and the
/// recorders a run may carry (none of which a snapshot copies: their future does not
/// depend on them).
pub struct World {
    sc: Scenario,
    dut: Dut,
    state: RunState,
    /// Per-cycle footprints for partial-order reduction ([`World::record_steps`]); `None`
    /// otherwise, and then the loop does not record anything.
    steps: Option<Vec<Step>>,
    /// Touches of the current cycle not visible in the memory log (recording mode only).
    touched: Vec<Touch>,
    /// The whole memory access log (recording mode only).
    accesses: Vec<crate::mem::Access>,
    /// Pending transitions of the current cycle (recording mode only).
    pending: Vec<(Action, Vec<Touch>)>,
    /// Where the action's part of the current cycle ends: (explicit touches, memory log).
    action_end: (usize, usize),
}

struct Ctx<'a> {
    dut: &'a mut Dut,
    wake: &'a mut [bool; MAX_VCPUS],
    kick: &'a mut [bool; MAX_CORES],
    log: &'a mut Vec<Event>,
    layout: KvmLayout,
    vcpu_on: &'a mut [u8; MAX_CORES],
    oracles: &'a mut Oracles,
    /// A software doorbell of this step: (target vCPU, host id).
    sw_doorbell: Option<(u8, u16)>,
    /// The VMRUN of this step: (vCPU, AVIC on, injected vector).
    entered: Option<(u8, bool, Option<u8>)>,
    /// A violation an event of this step revealed (the emulated LAPIC's acceptance).
    found: Option<Violation>,
    cycle: u64,
}

impl HostCtx for Ctx<'_> {
    fn mem(&mut self) -> &mut Memory {
        &mut self.dut.mem
    }

    fn vmrun(&mut self, vcpu: u8, cpu: u8, avic: bool, inject: Option<u8>) {
        let c = self.dut.core(usize::from(cpu));
        c.guest_mode = true;
        c.vmrun = true;
        c.avic_off = !avic;
        c.backing = self.layout.vm.backing(vcpu);
        c.self_idx = vcpu;
        self.vcpu_on[usize::from(cpu)] = vcpu;
        self.entered = Some((vcpu, avic, inject));
        if avic {
            // VMRUN scans the vIRR.
            self.oracles.observe(&Obs::Rescan {
                cycle: self.cycle,
                vcpu,
            });
        }
    }

    fn ring_doorbell(&mut self, host_id: u16) {
        if usize::from(host_id) < self.dut.cores() {
            self.dut.core(usize::from(host_id)).sw_doorbell = true;
        }
    }

    fn wake_thread(&mut self, vcpu: u8) {
        if let Some(w) = self.wake.get_mut(usize::from(vcpu)) {
            *w = true;
        }
    }

    fn kick_ipi(&mut self, host_cpu: u8) {
        if let Some(k) = self.kick.get_mut(usize::from(host_cpu)) {
            *k = true;
        }
    }

    fn note(&mut self, ev: KvmEvent) {
        let cycle = self.cycle;
        let obs = match ev {
            KvmEvent::Doorbell {
                target, host_id, ..
            } => {
                self.sw_doorbell = Some((target, host_id));
                None
            }
            KvmEvent::Injected { vcpu, vector } => Some(Obs::Accepted {
                cycle,
                vcpu,
                vector,
            }),
            KvmEvent::EmulatedEoi { vcpu, .. } => Some(Obs::Eoi { cycle, vcpu }),
            _ => None,
        };
        if let Some(o) = obs {
            if let Some(x) = self.oracles.observe(&o) {
                self.found.get_or_insert(x);
            }
        }
        self.log.push(Event::Kvm {
            cycle: self.cycle,
            ev,
        });
    }
}
