//! The actions a schedule chooses among ([`Action`]) and what they touch ([`Touch`],
//! [`Step`]) for partial-order reduction.

use crate::oracle::progress;
use std::fmt;

/// Something the schedule can make happen in a cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// vCPU thread `v` takes one step.
    Thread(u8),
    /// The guest of vCPU `v` executes its next instruction.
    Guest(u8),
    /// The RTL transaction held on (core, port) completes.
    Complete(u8, u8),
    /// Host CPU `c` commits the oldest entry of its store buffer.
    Drain(u8),
    /// The LAPIC timer of vCPU `v` fires (IRR bit, `irr_pending`, `kvm_vcpu_wake_up`).
    Timer(u8),
    /// vCPU thread `v` is preempted before its next step.
    Preempt(u8),
    /// `kvm_set_or_clear_apicv_inhibit` on another CPU: the first one inhibits APICv, the
    /// second re-enables it ([`Scenario::apicv_toggle`](crate::scenario::Scenario::apicv_toggle)).
    Apicv,
    /// vCPU thread `v` is preempted before its next step and resumes on host CPU `c`.
    Migrate(u8, u8),
    /// No software acts this cycle; the hardware makes progress. Enabled only while some
    /// RTL work needs no schedule decision (an IRR evaluation, an interrupt in service, a
    /// sender between transactions), so it models software being slower or interrupted
    /// without allowing a run to idle forever.
    Idle,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Action::Thread(v) => write!(f, "thread{v}"),
            Action::Guest(v) => write!(f, "guest{v}"),
            Action::Complete(c, p) => write!(
                f,
                "complete core{c}.{}",
                ["irr", "tbl", "rcv"][usize::from(p)]
            ),
            Action::Drain(c) => write!(f, "drain cpu{c}"),
            Action::Timer(v) => write!(f, "timer{v}"),
            Action::Preempt(v) => write!(f, "preempt{v}"),
            Action::Migrate(v, c) => write!(f, "migrate{v} to cpu{c}"),
            Action::Idle => write!(f, "idle"),
            Action::Apicv => write!(f, "apicv"),
        }
    }
}

/// A resource a cycle touches, for partial-order reduction ([`crate::explore::dpor`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Res {
    /// A word of global memory (byte address).
    Addr(u64),
    /// The entries for one word (byte address) in the store buffer of host CPU `c`: stores
    /// and commits write it, loads of that word read it (they may forward from it).
    Sb(u8, u64),
    /// The inputs and port hand-offs of RTL core `c` (ICR write, VMRUN, guest mode, software
    /// doorbell, EOI, release of a held transaction) and the RTL events it raised.
    Core(u8),
    /// What other agents see of vCPU `v`'s thread (runnable, in the guest, entering it,
    /// asleep, preemptible, host CPU): read by its guest, its timer and every step of the
    /// thread; written by a step that changes it, an exit routed to it, a wake-up of it while
    /// asleep, a preemption or migration.
    Vcpu(u8),
    /// The guest of vCPU `v`: its instructions, the interrupts it takes, its EOIs.
    Guest(u8),
    /// The oracle's ledger of IPIs to vCPU `v`: sends (write) and the interrupts its guest
    /// takes (write).
    Ledger(u8),
}

/// One access of a [`Step`]'s footprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Touch {
    /// What was accessed.
    pub res: Res,
    /// The host CPU of a plain load or a store-buffer commit of a memory word (`None` for
    /// everything else): a CPU's load and its own commit of the same word commute under
    /// x86-TSO (the load returns the buffered value before the commit, the same value from
    /// memory after it).
    pub host: Option<u8>,
    /// Written (true) or only read.
    pub write: bool,
}

impl Touch {
    /// Whether two touches conflict: the same resource, at least one writing, and not a load
    /// and a commit of the same host CPU.
    pub fn conflicts(&self, o: &Touch) -> bool {
        self.res == o.res
            && (self.write || o.write)
            && !(self.host.is_some() && self.host == o.host && self.write != o.write)
    }
}

/// One cycle as partial-order reduction sees it, recorded by [`World::record_steps`](crate::sim::World::record_steps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The actions the schedule could choose from (empty when the cycle had no choice but to
    /// pass: nothing or only [`Action::Idle`] enabled).
    pub enabled: Vec<Action>,
    /// The action taken, if any.
    pub acted: Option<Action>,
    /// Index in `enabled` of the [`Policy::Continue`](crate::sched::Policy::Continue) default (the rank-0 choice).
    pub default: usize,
    /// Whether this cycle is a choice point (two or more actions enabled): the index of the
    /// next entry of [`Outcome::choices`](crate::sim::Outcome::choices).
    pub choice: Option<usize>,
    /// What the action read and wrote (its memory accesses, the inputs it drove, the memory
    /// access of the transaction it completed); sorted, deduplicated.
    pub touches: Vec<Touch>,
    /// What the RTL did on its own in the cycle, whatever the action: its memory accesses
    /// other than the completed transaction (each also a read of its core's inputs), the
    /// inputs changed and the threads, guests and ledgers touched when its outputs were routed
    /// after the edge; sorted, deduplicated. Partial-order reduction treats this as the
    /// passing of time (see [`crate::dpor`]).
    pub rtl: Vec<Touch>,
    /// Predicted footprints of the enabled actions other than thread steps and
    /// [`Action::Idle`], as of the start of the cycle: what each would touch if taken (a drain
    /// commits the oldest entry; a timer sets the IRR, `irr_pending` and wakes; a preemption
    /// changes the thread; a guest instruction drives its core and may send to anyone; a
    /// completion performs the held request). DPOR races pending transitions with these.
    pub pending: Vec<(Action, Vec<Touch>)>,
}

impl Step {
    /// The agent of the cycle's transition: the action taken, [`Action::Idle`] if none.
    pub fn agent(&self) -> Action {
        self.acted.unwrap_or(Action::Idle)
    }
}

/// The fairness slot of an action ([`progress::SLOTS`] of them; [`crate::oracle::progress`]).
pub(super) fn slot(a: Action) -> usize {
    let s = match a {
        Action::Thread(v) => usize::from(v),
        Action::Guest(v) => 8 + usize::from(v),
        Action::Preempt(v) => 16 + usize::from(v),
        Action::Migrate(v, _) => 24 + usize::from(v),
        Action::Timer(v) => 32 + usize::from(v),
        Action::Drain(c) => 40 + usize::from(c),
        Action::Complete(c, p) => 56 + 4 * usize::from(c) + usize::from(p),
        Action::Idle => progress::SLOTS - 1,
        Action::Apicv => 45,
    };
    s.min(progress::SLOTS - 1)
}

pub(super) fn agent_id(a: Action) -> u64 {
    match a {
        Action::Thread(v) => u64::from(v),
        Action::Guest(v) => 0x100 | u64::from(v),
        Action::Complete(c, p) => 0x200 | u64::from(c) << 4 | u64::from(p),
        Action::Drain(c) => 0x300 | u64::from(c),
        Action::Timer(v) => 0x400 | u64::from(v),
        Action::Preempt(v) => 0x500 | u64::from(v),
        Action::Idle => 0x600,
        Action::Migrate(v, c) => 0x700 | u64::from(v) << 4 | u64::from(c),
        Action::Apicv => 0x800,
    }
}
