//! The invariants a run is checked against (architecture.md, "Invariants"), one file each,
//! behind one [`Oracle`] trait: an oracle observes the run's events ([`Obs`]) and judges at
//! events, at quiescence and at the cycle limit, looking at the world through [`View`].
//!
//! | invariant | file | judged |
//! |---|---|---|
//! | `exit-info-protocol` | [`exit_info`] | at every #VMEXIT |
//! | `no-duplicate-ipi` | [`ipi`] | at every acceptance and every IRR bit turning on |
//! | `apic-state` | [`apic_state`] | whenever a receiver is idle, and at quiescence |
//! | `no-lost-wakeup` | [`wakeup`] | at quiescence |
//! | `doorbell-target` | [`doorbell`] | at quiescence |
//! | `no-lost-ipi` | [`ipi`] | at quiescence |
//! | `no-progress` | [`progress`] | at the cycle limit, if the schedule was fair |
//!
//! **Order.** A run ends at the first violation: during the run, the first event that breaks
//! an invariant (events in cycle order; within one event, the oracles in the order of the
//! table). At quiescence the oracles are asked in the order of the table (`apic-state`,
//! `no-lost-wakeup`, `doorbell-target`, `no-lost-ipi`): a wrong APIC register is the most
//! direct evidence, a lost wake-up explains the lost IPI it causes, and a misdirected doorbell
//! explains a lost IPI too. The first violated one is the run's, and a cell's is its first
//! violating run's.

use crate::mem::Agent;
use std::fmt;

pub mod apic_state;
pub mod doorbell;
pub mod exit_info;
pub mod ipi;
pub mod progress;
pub mod wakeup;

pub use apic_state::ApicModel;
pub use doorbell::{Doorbell, DoorbellWatch};
pub use exit_info::ExitInfoCheck;
pub use ipi::{Ledger, Send, SendState, TIMER_SENDER};
pub use progress::Fairness;
pub use wakeup::WakeupCheck;

/// Which invariant a run broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invariant {
    /// A sent vector was never taken.
    LostIpi,
    /// A vector was taken more often than sent.
    DuplicateIpi,
    /// A vCPU sleeps with a pending IRR bit and nothing left to wake it.
    LostWakeup,
    /// #VMEXIT information does not match the APM encoding.
    ExitInfo,
    /// A doorbell went to a core other than the one running its target in guest mode, and
    /// the target never re-scanned its vIRR.
    DoorbellTarget,
    /// The backing page's IRR or ISR (or `in_service_o`) disagrees with the postings,
    /// acceptances and EOIs seen.
    ApicState,
    /// The run reached its cycle limit under a fair schedule without quiescence: a hang.
    NoProgress,
}

impl Invariant {
    /// Short name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::LostIpi => "no-lost-ipi",
            Invariant::DuplicateIpi => "no-duplicate-ipi",
            Invariant::LostWakeup => "no-lost-wakeup",
            Invariant::ExitInfo => "exit-info-protocol",
            Invariant::DoorbellTarget => "doorbell-target",
            Invariant::ApicState => "apic-state",
            Invariant::NoProgress => "no-progress",
        }
    }

    /// Every invariant, in report order.
    pub const ALL: [Invariant; 7] = [
        Invariant::LostIpi,
        Invariant::DuplicateIpi,
        Invariant::LostWakeup,
        Invariant::ExitInfo,
        Invariant::DoorbellTarget,
        Invariant::ApicState,
        Invariant::NoProgress,
    ];
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken invariant with where and whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The invariant.
    pub invariant: Invariant,
    /// Cycle at which it was detected.
    pub cycle: u64,
    /// The vCPU concerned.
    pub vcpu: u8,
    /// The vector concerned (0 when none).
    pub vector: u8,
    /// One sentence for the report.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} violated at cycle {}: vCPU {}, vector {:#04x}: {}",
            self.invariant, self.cycle, self.vcpu, self.vector, self.detail
        )
    }
}

/// What the oracles observe of a run, as it happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Obs {
    /// A send ([`ipi`]): a guest ICR write of a Fixed edge vector >= 16 to `candidates` (one
    /// bit per vCPU; one send per target, a lowest-priority send has its whole set), or a
    /// timer fire ([`TIMER_SENDER`]).
    Send {
        /// Cycle of the ICR write.
        cycle: u64,
        /// vCPU that wrote it, or [`TIMER_SENDER`].
        sender: u8,
        /// The ICR (high:low).
        icr: u64,
        /// The vector.
        vector: u8,
        /// The vCPUs it may be delivered to.
        candidates: u8,
    },
    /// A write posting `vector` to `target`'s IRR became visible in global memory.
    Posted {
        /// Cycle.
        cycle: u64,
        /// Whose IRR.
        target: u8,
        /// The vector posted.
        vector: u8,
        /// The vCPU (or [`TIMER_SENDER`]) whose send it carries; `None` when the writer
        /// does not tell.
        sender: Option<u8>,
        /// The bit was set before the write.
        was_set: bool,
        /// Who wrote it.
        by: Agent,
    },
    /// A sender's IRR write turned on a bit other than the vector it posts (the split
    /// update writing back a stale word).
    Stray {
        /// Cycle.
        cycle: u64,
        /// Whose IRR.
        target: u8,
        /// The bit that turned on.
        vector: u8,
        /// Who wrote it.
        by: Agent,
    },
    /// `vcpu`'s guest took `vector` (IRR to ISR done: `intr_valid_o`).
    Accepted {
        /// Cycle.
        cycle: u64,
        /// Who took it.
        vcpu: u8,
        /// The vector.
        vector: u8,
    },
    /// `vcpu`'s guest wrote EOI.
    Eoi {
        /// Cycle.
        cycle: u64,
        /// Whose guest.
        vcpu: u8,
    },
    /// A #VMEXIT of `vcpu`'s guest.
    Exit {
        /// Cycle.
        cycle: u64,
        /// Whose guest.
        vcpu: u8,
        /// Exit code.
        code: u32,
        /// EXITINFO1.
        info1: u64,
        /// EXITINFO2.
        info2: u64,
        /// The ICR the guest last wrote (high:low).
        icr: u64,
        /// The guest entered with AVIC on (`avic_en_i` at its VMRUN).
        avic: bool,
    },
    /// `vcpu` ran VMRUN or scanned its vIRR.
    Rescan {
        /// Cycle.
        cycle: u64,
        /// Who.
        vcpu: u8,
    },
    /// A doorbell was rung for `target`, which runs in guest mode on `runs_on` if it does.
    Doorbell {
        /// The vCPU it announces an IRR write to.
        target: u8,
        /// Where the target runs in guest mode.
        runs_on: Option<u8>,
        /// The doorbell.
        doorbell: Doorbell,
    },
}

/// What the oracles may read of the world when they judge.
pub trait View {
    /// Number of vCPUs.
    fn n_vcpus(&self) -> u8;
    /// The IRR of `vcpu`'s backing page in global memory (IRR0..IRR7, bits 31:0).
    fn irr(&self, vcpu: u8) -> [u32; 8];
    /// The ISR of `vcpu`'s backing page in global memory.
    fn isr(&self, vcpu: u8) -> [u32; 8];
    /// `vcpu`'s thread sleeps in `schedule()`.
    fn sleeping(&self, vcpu: u8) -> bool;
    /// The receiver serving `vcpu`'s backing page is idle (no evaluation owed or running,
    /// no EOI waiting, no transaction offered or outstanding) or no receiver serves it.
    fn receiver_idle(&self, vcpu: u8) -> bool;
    /// `in_service_o` of the core whose receiver serves `vcpu`'s page, if one does.
    fn in_service(&self, vcpu: u8) -> Option<bool>;
    /// One line on what is still active (threads, guests, RTL, store buffers), for a hang.
    fn activity(&self) -> String;
    /// The vCPU a hang is charged to, with a vector: the first whose receiver is still busy
    /// (its highest ISR, else IRR, vector), else the first whose thread is not asleep.
    fn stuck(&self) -> (u8, u8);
}

/// One invariant's checker.
pub trait Oracle {
    /// Sees an event; a violation if the event breaks the invariant.
    fn observe(&mut self, _ev: &Obs) -> Option<Violation> {
        None
    }
    /// Judges at a point where `vcpu`'s receiver is idle (between events).
    fn at_idle(&self, _w: &dyn View, _vcpu: u8, _cycle: u64) -> Option<Violation> {
        None
    }
    /// Judges at quiescence (nothing enabled, the RTL quiet).
    fn at_quiescence(&self, _w: &dyn View, _cycle: u64) -> Option<Violation> {
        None
    }
    /// Judges at the cycle limit.
    fn at_cycle_limit(&self, _w: &dyn View, _cycle: u64) -> Option<Violation> {
        None
    }
}

/// Every oracle of a run, asked in the documented order (module doc). `Clone` copies what a
/// snapshot needs.
#[derive(Clone, Debug)]
pub struct Oracles {
    /// `exit-info-protocol`.
    pub exit_info: ExitInfoCheck,
    /// `no-duplicate-ipi` and `no-lost-ipi`.
    pub ledger: Ledger,
    /// `apic-state`.
    pub apic: ApicModel,
    /// `no-lost-wakeup`.
    pub wakeup: WakeupCheck,
    /// `doorbell-target`.
    pub doorbells: DoorbellWatch,
    /// `no-progress`.
    pub progress: Fairness,
}

impl Oracles {
    /// The oracles of a run of `n` vCPUs with room for `sends` sends, cut runs judged over
    /// a final stretch of `stretch` cycles.
    pub fn new(n: usize, sends: usize, stretch: u64) -> Self {
        Oracles {
            exit_info: ExitInfoCheck,
            ledger: Ledger::with_capacity(n, sends),
            apic: ApicModel::new(n),
            wakeup: WakeupCheck,
            doorbells: DoorbellWatch::default(),
            progress: Fairness::new(stretch),
        }
    }

    fn each(&mut self) -> [&mut dyn Oracle; 6] {
        [
            &mut self.exit_info,
            &mut self.ledger,
            &mut self.apic,
            &mut self.wakeup,
            &mut self.doorbells,
            &mut self.progress,
        ]
    }

    /// Every oracle sees `ev`; the first violation in table order.
    pub fn observe(&mut self, ev: &Obs) -> Option<Violation> {
        let mut first = None;
        for o in self.each() {
            let v = o.observe(ev);
            first = first.or(v);
        }
        first
    }

    /// Judges `vcpu` at an idle point of its receiver.
    pub fn at_idle(&self, w: &dyn View, vcpu: u8, cycle: u64) -> Option<Violation> {
        self.apic.at_idle(w, vcpu, cycle)
    }

    /// The first violation at quiescence, in the documented order.
    pub fn at_quiescence(&self, w: &dyn View, cycle: u64) -> Option<Violation> {
        let order: [&dyn Oracle; 4] = [&self.apic, &self.wakeup, &self.doorbells, &self.ledger];
        order.into_iter().find_map(|o| o.at_quiescence(w, cycle))
    }

    /// The verdict at the cycle limit: a `no-progress` violation if the schedule was fair
    /// over the final stretch, else `None` (the run is cut).
    pub fn at_cycle_limit(&self, w: &dyn View, cycle: u64) -> Option<Violation> {
        self.progress.at_cycle_limit(w, cycle)
    }

    /// Reserves room for the sends still to come (after a clone, whose buffers are only as
    /// large as their contents), so that the run that follows allocates nothing.
    pub fn reserve(&mut self) {
        self.ledger.reserve();
    }
}
