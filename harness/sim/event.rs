//! The run's log ([`Event`]) and result ([`Verdict`], [`Outcome`]).

use super::*;
use crate::apic::Icr;
use crate::coverage::Orders;
use crate::dut::DutEvent;
use crate::kvm::KvmEvent;
use crate::oracle::{Ledger, Violation};
use std::fmt;

/// One entry of a run's event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The schedule chose an action (the thread's step named).
    Act {
        /// Cycle.
        cycle: u64,
        /// Action.
        action: Action,
        /// For thread steps, the kernel step executed.
        step: &'static str,
    },
    /// A guest wrote ICR.
    Send {
        /// Cycle.
        cycle: u64,
        /// Sender vCPU.
        from: u8,
        /// The ICR.
        icr: Icr,
    },
    /// A KVM step's named event.
    Kvm {
        /// Cycle.
        cycle: u64,
        /// The event.
        ev: KvmEvent,
    },
    /// An RTL event.
    Rtl(DutEvent),
    /// The timer of a vCPU fired.
    TimerFired {
        /// Cycle.
        cycle: u64,
        /// vCPU.
        vcpu: u8,
    },
}

impl Event {
    /// Cycle of the event.
    pub fn cycle(&self) -> u64 {
        match *self {
            Event::Act { cycle, .. }
            | Event::Send { cycle, .. }
            | Event::Kvm { cycle, .. }
            | Event::TimerFired { cycle, .. } => cycle,
            Event::Rtl(
                DutEvent::Exit { cycle, .. }
                | DutEvent::Doorbell { cycle, .. }
                | DutEvent::DoorbellDropped { cycle, .. }
                | DutEvent::Interrupt { cycle, .. },
            ) => cycle,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cycle {:5}  ", self.cycle())?;
        match self {
            Event::Act {
                action, step: "", ..
            } => write!(f, "{action}"),
            Event::Act { action, step, .. } => write!(f, "{action}: {step}"),
            Event::Send { from, icr, .. } => write!(
                f,
                "guest{from} writes ICR {:#010x}:{:#010x} (vector {:#04x})",
                icr.hi(),
                icr.lo(),
                icr.vector
            ),
            Event::Kvm { ev, .. } => write!(f, "kvm: {ev:?}"),
            Event::Rtl(ev) => write!(f, "rtl: {ev:?}"),
            Event::TimerFired { vcpu, .. } => write!(f, "timer of vCPU {vcpu} fires"),
        }
    }
}

/// The verdict of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Quiescent with every invariant holding.
    Holds,
    /// An invariant broke.
    Violated(Violation),
    /// `max_cycles` reached before quiescence.
    Bound,
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Verdict.
    pub verdict: Verdict,
    /// Cycles simulated.
    pub cycles: u64,
    /// At each choice point: (rank chosen, number of enabled actions).
    pub choices: Vec<(u16, u16)>,
    /// The cycle of each choice point (same indices as `choices`): a run that replays the
    /// first `j` ranks of another repeats its first `choice_cycles[j]` cycles.
    pub choice_cycles: Vec<u32>,
    /// The event log.
    pub log: Vec<Event>,
    /// Sends and acceptances.
    pub ledger: Ledger,
    /// Orders of the protocol's conflicting accesses this run observed
    /// ([`crate::coverage`]).
    pub orders: Orders,
    /// Every cycle's enabled actions and footprint, if [`World::record_steps`] was called.
    pub steps: Option<Vec<Step>>,
    /// The access log of the memory, if [`World::record_steps`] was called.
    pub accesses: Option<Vec<crate::mem::Access>>,
}

impl Outcome {
    /// The violation, if any.
    pub fn violation(&self) -> Option<&Violation> {
        match &self.verdict {
            Verdict::Violated(v) => Some(v),
            _ => None,
        }
    }

    /// The ranks, for [`Schedule::replay`].
    pub fn ranks(&self) -> Vec<u16> {
        self.choices.iter().map(|c| c.0).collect()
    }
}
