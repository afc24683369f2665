//! The co-simulation world: the Verilated RTL, one simulated memory, one KVM thread per vCPU,
//! the guests, all stepped by one cycle loop.
//!
//! Host CPU `c` (`0..NUM_CORES`) is RTL core `c`; host CPU `NUM_CORES` is the timer's. Each
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
//! On the [`ModelKind::Savable`] build a world can be saved at a choice point
//! ([`World::run_observed`] shows it each one, [`World::snapshot`] saves it) and put back
//! there later ([`World::restore`]) to run on with another choice: the exhaustive search of
//! [`crate::explore`] branches that way instead of re-simulating every schedule from reset.

use crate::apic::{irr_word, isr_word, Icr, LogEntry, IRR};
use crate::coverage::{OrderWatch, Orders, NO_ACTOR};
use crate::dut::{
    refill, Dut, DutError, DutEvent, DutSnapshot, NUM_CORES, PORT_IRR, PORT_RCV, PORT_TBL,
};
use crate::ffi::{HwConfig, ModelKind};
use crate::guest::{Guest, GuestOp, Program};
use crate::kvm::{
    decode_targets, GuestExit, HostCtx, Knobs, KvmConfig, KvmError, KvmEvent, KvmLayout,
    KvmVariant, Pc, VcpuThread, EXITING_GUEST_MODE, IN_GUEST_MODE, KVM_REQ_APICV_UPDATE_BIT,
    OUTSIDE_GUEST_MODE, TASK_RUNNING,
};
use crate::mem::{AccessKind, Agent, Memory};
use crate::oracle::{progress, Doorbell, Ledger, Obs, Oracles, View, Violation, TIMER_SENDER};
use crate::rtl::Rtl;
use crate::wave::Lanes;
use std::fmt::{self, Write as _};

/// Most vCPUs a scenario can have (one per RTL core).
pub const MAX_VCPUS: usize = NUM_CORES;
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

/// A scenario: who runs what, on which hardware and KVM variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Hardware ordering variant.
    pub hw: HwConfig,
    /// KVM handler variant, knobs and layout; `kvm.n_vcpus` vCPUs (at most [`MAX_VCPUS`]).
    pub kvm: KvmConfig,
    /// Guest program of each vCPU.
    pub programs: [Program; MAX_VCPUS],
    /// `apic->irr_pending` of each vCPU at the start (false models a target whose APICv was
    /// inhibited and whose hint was recomputed from an empty IRR: the C4 setting).
    pub irr_pending: [bool; MAX_VCPUS],
    /// vCPUs that receive one LAPIC timer interrupt at a time the schedule chooses.
    pub timers: [bool; MAX_VCPUS],
    /// vCPUs that may be preempted once inside their blocking path (C2, C2b).
    pub preemptible: [bool; MAX_VCPUS],
    /// Host CPU (= RTL core) each vCPU's thread starts on; distinct.
    pub placement: [u8; MAX_VCPUS],
    /// Host CPU a vCPU's thread may be migrated to, once, at a preemption point (A3); a CPU
    /// no other vCPU is placed on or migrates to.
    pub migrate_to: [Option<u8>; MAX_VCPUS],
    /// Valid bit of each vCPU's Logical APIC ID table entry (at `kvm.logical_index`); false
    /// makes a logical IPI naming it an invalid target.
    pub logical_valid: [bool; MAX_VCPUS],
    /// APICv gets inhibited once and re-enabled once, each at a time the schedule chooses
    /// ([`Action::Apicv`]).
    pub apicv_toggle: bool,
    /// Bound on cycles per run.
    pub max_cycles: u64,
    /// The RTL the scenario runs on: the bundled one, or a user's (`--rtl FILELIST --top NAME`).
    pub rtl: Rtl,
}

impl Scenario {
    /// `n` vCPUs that idle in HLT on APM hardware (locked IRR update, IsRunning read after it
    /// completed, destinations validated first: `scenario::hw_variants()[0]`), KVM `variant`.
    pub fn new(n: u8, variant: KvmVariant) -> Self {
        Scenario {
            hw: HwConfig {
                atomic_irr: true,
                validate_first: true,
                ..HwConfig::default()
            },
            kvm: KvmConfig::new(variant, n),
            programs: [Program::default(); MAX_VCPUS],
            irr_pending: [true; MAX_VCPUS],
            timers: [false; MAX_VCPUS],
            preemptible: [false; MAX_VCPUS],
            placement: [0, 1, 2, 3],
            migrate_to: [None; MAX_VCPUS],
            logical_valid: [true; MAX_VCPUS],
            apicv_toggle: false,
            max_cycles: 4000,
            rtl: Rtl::Bundled,
        }
    }

    /// The seed thread's scenario (LKML, March 2019): vCPU 0 sends vector 0x40 to vCPU 1,
    /// which halts; `scenarios/seed.toml` adds a timer and a preemption on vCPU 1.
    pub fn seed(variant: KvmVariant, hw: HwConfig) -> Self {
        Scenario::new(2, variant)
            .hw(hw)
            .program(0, &[GuestOp::SendIpi(Icr::fixed_physical(0x40, 1))])
            .program(1, &[GuestOp::Halt])
    }

    /// Sets the hardware variant.
    pub fn hw(mut self, hw: HwConfig) -> Self {
        self.hw = hw;
        self
    }

    /// Sets the RTL the scenario runs on.
    pub fn rtl(mut self, rtl: Rtl) -> Self {
        self.rtl = rtl;
        self
    }

    /// Sets the KVM bug knobs.
    pub fn knobs(mut self, knobs: Knobs) -> Self {
        self.kvm.knobs = knobs;
        self
    }

    /// Sets the guest program of `vcpu`.
    pub fn program(mut self, vcpu: u8, ops: &[GuestOp]) -> Self {
        self.programs[usize::from(vcpu)] = Program::new(ops);
        self
    }

    /// Gives `vcpu` one timer interrupt.
    pub fn timer(mut self, vcpu: u8) -> Self {
        self.timers[usize::from(vcpu)] = true;
        self
    }

    /// Lets `vcpu` be preempted once in its blocking path.
    pub fn preemptible(mut self, vcpu: u8) -> Self {
        self.preemptible[usize::from(vcpu)] = true;
        self
    }

    /// Starts `vcpu`'s thread on host CPU `cpu`.
    pub fn place(mut self, vcpu: u8, cpu: u8) -> Self {
        self.placement[usize::from(vcpu)] = cpu;
        self
    }

    /// Lets `vcpu`'s thread be migrated once to host CPU `cpu`.
    pub fn migratable(mut self, vcpu: u8, cpu: u8) -> Self {
        self.migrate_to[usize::from(vcpu)] = Some(cpu);
        self
    }

    /// Starts `vcpu` with `irr_pending = false`.
    pub fn irr_pending_false(mut self, vcpu: u8) -> Self {
        self.irr_pending[usize::from(vcpu)] = false;
        self
    }

    /// Most sends a run of the scenario records (every ICR write to every vCPU, every timer):
    /// the oracles reserve that much so the cycle loop allocates nothing.
    pub fn max_sends(&self) -> usize {
        let n = self.n();
        let icrs: usize = self.programs[..n]
            .iter()
            .map(|p| {
                (0..p.len())
                    .filter(|&i| matches!(p.get(i), Some(GuestOp::SendIpi(_))))
                    .count()
            })
            .sum();
        icrs * n + self.timers[..n].iter().filter(|&&t| t).count()
    }

    fn n(&self) -> usize {
        usize::from(self.kvm.n_vcpus)
    }

    fn validate(&self) -> Result<(), WorldError> {
        if self.n() == 0 || self.n() > MAX_VCPUS {
            return Err(WorldError::Scenario(format!(
                "{} vCPUs: the RTL has {MAX_VCPUS} cores, one vCPU per core",
                self.n()
            )));
        }
        let mut used = [false; NUM_CORES];
        let mut claim = |v: usize, cpu: u8, what: &str| {
            let c = usize::from(cpu);
            if c >= NUM_CORES {
                return Err(WorldError::Scenario(format!(
                    "vCPU {v}: {what} host CPU {cpu}: the RTL has host CPUs 0..{NUM_CORES}"
                )));
            }
            if std::mem::replace(&mut used[c], true) {
                return Err(WorldError::Scenario(format!(
                    "vCPU {v}: {what} host CPU {cpu} is already taken by another vCPU"
                )));
            }
            Ok(())
        };
        for v in 0..self.n() {
            claim(v, self.placement[v], "placed on")?;
        }
        for v in 0..self.n() {
            if let Some(c) = self.migrate_to[v] {
                claim(v, c, "migrating to")?;
            }
        }
        Ok(())
    }
}

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
    /// second re-enables it ([`Scenario::apicv_toggle`]).
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

/// One cycle as partial-order reduction sees it, recorded by [`World::record_steps`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The actions the schedule could choose from (empty when the cycle had no choice but to
    /// pass: nothing or only [`Action::Idle`] enabled).
    pub enabled: Vec<Action>,
    /// The action taken, if any.
    pub acted: Option<Action>,
    /// Index in `enabled` of the [`Policy::Continue`] default (the rank-0 choice).
    pub default: usize,
    /// Whether this cycle is a choice point (two or more actions enabled): the index of the
    /// next entry of [`Outcome::choices`].
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

/// How choices are made where several actions are enabled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Keep running the agent that acted last while it is enabled, else the first enabled
    /// (the default of bounded exhaustive search: every other choice is a deviation).
    Continue,
    /// Uniformly random, seeded.
    Random(u64),
    /// PCT (Burckhardt et al., ASPLOS 2010): random agent priorities, the highest enabled acts;
    /// at `depth - 1` random choice points among the first `steps` the acting agent drops to
    /// the lowest priority.
    Pct {
        /// Seed.
        seed: u64,
        /// Bug depth the run targets.
        depth: u8,
        /// Choice points over which the change points are drawn.
        steps: u32,
    },
}

/// A schedule: forced choices first (as ranks, 0 = the [`Policy::Continue`] default), then a
/// policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Ranks for the first choice points.
    pub prefix: Vec<u16>,
    /// What decides after the prefix.
    pub policy: Policy,
}

impl Schedule {
    /// Default choices everywhere.
    pub fn continuing() -> Self {
        Schedule {
            prefix: Vec::new(),
            policy: Policy::Continue,
        }
    }

    /// Seeded random choices.
    pub fn random(seed: u64) -> Self {
        Schedule {
            prefix: Vec::new(),
            policy: Policy::Random(seed),
        }
    }

    /// PCT with the given seed and depth.
    pub fn pct(seed: u64, depth: u8) -> Self {
        Schedule {
            prefix: Vec::new(),
            policy: Policy::Pct {
                seed,
                depth,
                steps: 400,
            },
        }
    }

    /// Replays recorded ranks.
    pub fn replay(ranks: &[u16]) -> Self {
        Schedule {
            prefix: ranks.to_vec(),
            policy: Policy::Continue,
        }
    }
}

/// splitmix64: a small, seedable, allocation-free generator.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The fairness slot of an action ([`progress::SLOTS`] of them; [`crate::oracle::progress`]).
fn slot(a: Action) -> usize {
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

fn agent_id(a: Action) -> u64 {
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

const MAX_ENABLED: usize = 32;
/// Capacity of the event log reserved at construction (and at a restore).
const LOG_CAPACITY: usize = 4096;
/// Capacity of the per-choice-point vectors reserved at construction (and at a restore).
const CHOICE_CAPACITY: usize = 512;

/// A [`World`] saved at a choice point ([`World::snapshot`]): everything a run depends on
/// from there (the threads, guests, ledger, doorbell watch, event log and choices so far, the
/// [`Dut`] with its memory, and the RTL's `--savable` bytes), so that a run resumed from it
/// ([`World::restore`], [`World::from_snapshot`]) with any schedule that agrees with the
/// choices made so far is the run a fresh world would make under that schedule.
#[derive(Clone, Debug)]
pub struct Snapshot {
    dut: DutSnapshot,
    threads: Vec<VcpuThread>,
    guests: [Guest; MAX_VCPUS],
    kick: [bool; NUM_CORES],
    wake: [bool; MAX_VCPUS],
    timer_fired: [bool; MAX_VCPUS],
    apicv: Apicv,
    preempted: [bool; MAX_VCPUS],
    migrated: [bool; MAX_VCPUS],
    vcpu_on: [u8; NUM_CORES],
    irr_write: [(u8, u64); NUM_CORES],
    set_irr_at: [u64; MAX_VCPUS],
    last_icr: [u64; MAX_VCPUS],
    /// Per core: the vCPU whose guest wrote the ICR its sender works on.
    icr_from: [u8; NUM_CORES],
    /// The invariants' state ([`crate::oracle`]).
    oracles: Oracles,
    log: Vec<Event>,
    choices: Vec<(u16, u16)>,
    choice_cycles: Vec<u32>,
    current: Option<Action>,
    acted_at: Vec<u64>,
    rtl_seen: usize,
    violation: Option<Violation>,
    timer_cpu: u8,
    ran: u64,
}

impl Snapshot {
    /// Choice points passed before the snapshot (the index of the next one).
    pub fn choice_point(&self) -> usize {
        self.choices.len()
    }

    /// The RTL's saved state.
    pub fn dut(&self) -> &DutSnapshot {
        &self.dut
    }
}

/// The world of one run.
pub struct World {
    sc: Scenario,
    dut: Dut,
    threads: Vec<VcpuThread>,
    guests: [Guest; MAX_VCPUS],
    kick: [bool; NUM_CORES],
    wake: [bool; MAX_VCPUS],
    timer_fired: [bool; MAX_VCPUS],
    apicv: Apicv,
    preempted: [bool; MAX_VCPUS],
    migrated: [bool; MAX_VCPUS],
    /// The vCPU whose guest a core runs (set at VMRUN); `NO_VCPU` before any.
    vcpu_on: [u8; NUM_CORES],
    /// Per sender core: target vCPU and cycle of its last IRR write (doorbell target).
    irr_write: [(u8, u64); NUM_CORES],
    /// Per vCPU thread: cycle of its last `kvm_lapic_set_irr` (software doorbells).
    set_irr_at: [u64; MAX_VCPUS],
    last_icr: [u64; MAX_VCPUS],
    /// Per core: the vCPU whose guest wrote the ICR its sender works on.
    icr_from: [u8; NUM_CORES],
    /// The invariants' state ([`crate::oracle`]).
    oracles: Oracles,
    log: Vec<Event>,
    choices: Vec<(u16, u16)>,
    choice_cycles: Vec<u32>,
    current: Option<Action>,
    acted_at: Vec<u64>,
    rtl_seen: usize,
    violation: Option<Violation>,
    timer_cpu: u8,
    /// The software lanes of a waveform, recorded per cycle when set
    /// ([`World::record_lanes`]); `None` otherwise, and then the loop does not look at them.
    lanes: Option<Box<Lanes>>,
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
    /// Cycles run so far (reset not included).
    ran: u64,
}

/// `vcpu_on` of a core that has run no guest yet.
const NO_VCPU: u8 = u8::MAX;

/// APICv inhibition in a run ([`Scenario::apicv_toggle`], [`Action::Apicv`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Apicv {
    /// `kvm_set_or_clear_apicv_inhibit` calls made: 0, 1 (inhibited), 2 (re-enabled).
    toggles: u8,
    /// Per vCPU: the VMCB's `AVIC_ENABLE` at its last VMRUN.
    avic_on: [bool; MAX_VCPUS],
}

impl Default for Apicv {
    fn default() -> Self {
        Apicv {
            toggles: 0,
            avic_on: [true; MAX_VCPUS],
        }
    }
}

struct Ctx<'a> {
    dut: &'a mut Dut,
    wake: &'a mut [bool; MAX_VCPUS],
    kick: &'a mut [bool; NUM_CORES],
    log: &'a mut Vec<Event>,
    layout: KvmLayout,
    vcpu_on: &'a mut [u8; NUM_CORES],
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
        if usize::from(host_id) < NUM_CORES {
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
    fn touch(&mut self, res: Res, write: bool) {
        if self.steps.is_some() {
            self.touched.push(Touch {
                res,
                host: None,
                write,
            });
        }
    }

    fn enabled(&self, out: &mut [Action; MAX_ENABLED]) -> usize {
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
    fn rtl_progressing(&self) -> bool {
        (0..NUM_CORES).any(|c| {
            let o = &self.dut.out.core[c];
            let waits_on_schedule = [PORT_IRR, PORT_TBL]
                .iter()
                .any(|&p| self.dut.in_flight(c, p));
            o.eval_busy || o.in_service || (o.busy && !waits_on_schedule)
        })
    }

    /// The core `v`'s thread runs on.
    fn core_of(&self, v: usize) -> usize {
        usize::from(self.threads[v].cpu())
    }

    /// The core where `v` runs in guest mode, if it does.
    fn guest_core(&self, v: usize) -> Option<u8> {
        let c = self.core_of(v);
        (self.threads[v].in_guest() && self.dut.inp.core[c].guest_mode).then_some(c as u8)
    }

    fn guest_can_run(&self, v: usize) -> bool {
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

    fn rtl_quiet(&self) -> bool {
        (0..NUM_CORES).all(|c| {
            let o = &self.dut.out.core[c];
            !o.busy
                && !o.eval_busy
                && !o.in_service
                && !o.port.iter().any(|p| p.valid)
                && !(0..3).any(|p| self.dut.in_flight(c, p))
        })
    }

    fn choose(&mut self, policy: &Policy, prefix: &[u16], enabled: &[Action]) -> usize {
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
    fn demoted(&self, cp: usize, a: Action) -> bool {
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
    fn finish(&mut self, verdict: Verdict) -> Outcome {
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
    fn advance<F>(&mut self, sched: &Schedule, at_choice: &mut F) -> Result<Verdict, WorldError>
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
fn normalize(touches: &mut Vec<Touch>) {
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

/// Rank of a choice: 0 for the default, then the other indices in order (the rank of
/// `enabled[idx]` in a [`Schedule`] prefix when `enabled[default]` is the default).
pub fn index_to_rank(idx: usize, default: usize) -> usize {
    match idx.cmp(&default) {
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Less => idx + 1,
        std::cmp::Ordering::Greater => idx,
    }
}

/// Inverse of [`index_to_rank`]; ranks past the end wrap.
fn rank_to_index(rank: u16, default: usize, n: usize) -> usize {
    let r = usize::from(rank) % n;
    if r == 0 {
        default
    } else if r - 1 < default {
        r - 1
    } else {
        r
    }
}

impl World {
    /// Whether this run recorded steps (the outcome then carries the access log).
    fn steps_recorded(&self) -> bool {
        self.dut.mem.logging()
    }

    /// What `a` would touch if taken now (see [`Step::pending`]); `None` for thread steps and
    /// idling.
    fn predicted(&self, a: Action) -> Option<Vec<Touch>> {
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
                w(Res::Core(self.threads[usize::from(v)].cpu())),
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
    fn touch_changed_inputs(&mut self, before: Option<&[crate::ffi::CoreIn; NUM_CORES]>) {
        for (c, b) in before.into_iter().flatten().enumerate() {
            if self.dut.inp.core[c] != *b {
                self.touch(Res::Core(c as u8), true);
            }
        }
    }

    /// Closes the current cycle's [`Step`]: the explicit touches and the memory log.
    fn end_step(
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

    fn act(&mut self, a: Action, cycle: u64) -> Result<(), WorldError> {
        self.current = Some(a);
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
            let from = self.threads[usize::from(v)].cpu();
            self.touch(Res::Core(from), true);
            self.touch(Res::Core(c), true);
        }
        let kicks = self.kick;
        match a {
            Action::Thread(v) => {
                let t = &mut self.threads[usize::from(v)];
                self.log.push(Event::Act {
                    cycle,
                    action: a,
                    step: t.step_name(),
                });
                match t.pc() {
                    Pc::CheckBlockSearchIrr { .. } => {
                        self.oracles.observe(&Obs::Rescan { cycle, vcpu: v });
                    }
                    Pc::KvmLapicSetIrr => self.set_irr_at[usize::from(v)] = cycle,
                    _ => {}
                }
                let mut ctx = Ctx {
                    dut: &mut self.dut,
                    wake: &mut self.wake,
                    kick: &mut self.kick,
                    log: &mut self.log,
                    layout: self.sc.kvm.layout,
                    vcpu_on: &mut self.vcpu_on,
                    oracles: &mut self.oracles,
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
                    self.apicv.avic_on[usize::from(ev)] = avic;
                    if let Some(x) = inject {
                        // EVENTINJ: the guest takes the vector on entry.
                        self.touch(Res::Guest(ev), true);
                        self.touch(Res::Ledger(ev), true);
                        self.guests[usize::from(ev)].take(x);
                    }
                }
                if changed {
                    self.touch(Res::Vcpu(v), true);
                }
                if let Some((target, _)) = sw {
                    self.touch(Res::Vcpu(target), true);
                }
                for (cpu, was) in kicks.iter().enumerate() {
                    if self.kick[cpu] && !was {
                        self.touch(Res::Core(cpu as u8), true);
                    }
                }
                if let Some((target, host_id)) = sw {
                    self.doorbell_for(
                        target,
                        Doorbell {
                            cycle,
                            host_id,
                            irr_cycle: self.set_irr_at[usize::from(v)],
                            vector: 0,
                            hardware: false,
                        },
                    );
                }
                for w in 0..self.threads.len() {
                    if std::mem::take(&mut self.wake[w]) {
                        if self.threads[w].wakeable() {
                            self.touch(Res::Vcpu(w as u8), true);
                        }
                        self.threads[w].on_wake();
                    }
                }
            }
            Action::Guest(v) => {
                self.log.push(Event::Act {
                    cycle,
                    action: a,
                    step: "",
                });
                let vi = usize::from(v);
                match self.guests[vi].retire() {
                    GuestOp::SendIpi(icr) => {
                        let core = self.core_of(vi);
                        self.dut.write_icr(core, icr.lo(), icr.hi());
                        let raw = u64::from(icr.hi()) << 32 | u64::from(icr.lo());
                        self.last_icr[vi] = raw;
                        self.icr_from[core] = v;
                        self.log.push(Event::Send {
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
                self.log.push(Event::Act {
                    cycle,
                    action: a,
                    step: "",
                });
                let (c, p) = (usize::from(c), usize::from(p));
                if p == PORT_IRR {
                    if let Some(r) = self.dut.request(c, p).filter(|r| r.op != 0) {
                        if let Some(t) = self.vcpu_of_page(r.addr) {
                            self.irr_write[c] = (t, cycle);
                        }
                    }
                }
                self.dut.release(c, p);
            }
            Action::Drain(c) => {
                self.log.push(Event::Act {
                    cycle,
                    action: a,
                    step: "",
                });
                self.dut.mem.drain_one(c);
            }
            Action::Timer(v) => self.fire_timer(v, cycle)?,
            Action::Apicv => self.toggle_apicv(cycle)?,
            Action::Preempt(v) => {
                self.log.push(Event::Act {
                    cycle,
                    action: a,
                    step: "",
                });
                self.preempted[usize::from(v)] = true;
                self.threads[usize::from(v)].preempt();
            }
            Action::Migrate(v, c) => {
                self.log.push(Event::Act {
                    cycle,
                    action: a,
                    step: "",
                });
                self.migrated[usize::from(v)] = true;
                self.threads[usize::from(v)].migrate(c);
            }
            Action::Idle => {}
        }
        Ok(())
    }

    /// The LAPIC timer of `v` fires: `kvm_apic_inject_timer` sets the timer vector in the IRR
    /// (and `irr_pending`), then delivers as KVM does for a vCPU in guest mode (doorbell) or
    /// not (`kvm_vcpu_wake_up`). One atomic action: the timer is the trigger of a scenario,
    /// not the race under study.
    fn fire_timer(&mut self, v: u8, cycle: u64) -> Result<(), WorldError> {
        let vi = usize::from(v);
        self.timer_fired[vi] = true;
        self.touch(Res::Ledger(v), true);
        self.log.push(Event::TimerFired { cycle, vcpu: v });
        self.oracles.observe(&Obs::Send {
            cycle,
            sender: TIMER_SENDER,
            icr: 0,
            vector: TIMER_VECTOR,
            candidates: 1 << v,
        });
        let layout = self.sc.kvm.layout;
        let cpu = self.timer_cpu;
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
        if self.threads[vi].in_guest() {
            let core = self.core_of(vi);
            self.dut.core(core).sw_doorbell = true;
        } else {
            mem.host_xchg(cpu, layout.task_state(v), TASK_RUNNING)
                .map_err(err)?;
            if self.threads[vi].wakeable() {
                self.touch(Res::Vcpu(v), true);
            }
            self.threads[vi].on_wake();
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
    fn toggle_apicv(&mut self, cycle: u64) -> Result<(), WorldError> {
        let inhibit = self.apicv.toggles == 0;
        self.apicv.toggles += 1;
        self.log.push(Event::Act {
            cycle,
            action: Action::Apicv,
            step: if inhibit {
                "kvm_set_or_clear_apicv_inhibit(set)"
            } else {
                "kvm_set_or_clear_apicv_inhibit(clear)"
            },
        });
        let layout = self.sc.kvm.layout;
        let cpu = self.timer_cpu;
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
                let c = self.threads[usize::from(v)].cpu();
                self.touch(Res::Core(c), true);
                self.kick[usize::from(c)] = true;
            }
        }
        self.dut
            .mem
            .host_xchg(cpu, layout.apicv_inhibit_reasons(), u64::from(inhibit))
            .map_err(err)?;
        Ok(())
    }

    fn exit_guest(&mut self, v: usize, exit: GuestExit) {
        let core = self.core_of(v);
        self.touch(Res::Vcpu(v as u8), true);
        self.touch(Res::Core(core as u8), true);
        self.dut.core(core).guest_mode = false;
        self.threads[v].on_exit(exit);
    }

    /// Doorbell-target bookkeeping of a doorbell rung for `target`.
    fn doorbell_for(&mut self, target: u8, d: Doorbell) {
        let runs_on = self.guest_core(usize::from(target));
        self.oracles.observe(&Obs::Doorbell {
            target,
            runs_on,
            doorbell: d,
        });
    }

    /// The vCPU whose backing page holds `addr`.
    fn vcpu_of_page(&self, addr: u64) -> Option<u8> {
        let vm = self.sc.kvm.layout.vm;
        (0..self.sc.kvm.n_vcpus).find(|&v| (vm.backing(v)..vm.backing(v) + 0x1000).contains(&addr))
    }

    /// The vCPU whose guest core `core` runs, for an RTL output `signal` at `cycle`: a port
    /// contract error when the core has run no guest.
    fn guest_on(&self, core: usize, signal: &'static str, cycle: u64) -> Result<usize, DutError> {
        match self.vcpu_on.get(core) {
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
    fn after_edge(&mut self) -> Result<(), WorldError> {
        let n = self.dut.events().len();
        for i in self.rtl_seen..n {
            let e = self.dut.events()[i];
            self.log.push(Event::Rtl(e));
            let (DutEvent::Exit { core, .. }
            | DutEvent::Interrupt { core, .. }
            | DutEvent::Doorbell { core, .. }
            | DutEvent::DoorbellDropped { core, .. }) = e;
            self.touch(Res::Core(core as u8), true);
            if let DutEvent::Doorbell { .. } = e {
                let (target, _) = self.irr_write[core];
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
                    if !self.threads[v].in_guest() {
                        return Err(DutError::Contract {
                            cycle,
                            core,
                            signal: "exit_valid_o",
                            what: format!("#VMEXIT while vCPU {v} is not in guest mode"),
                        }
                        .into());
                    }
                    let x = self.oracles.observe(&Obs::Exit {
                        cycle,
                        vcpu: v as u8,
                        code: u32::from(code),
                        info1,
                        info2,
                        icr: self.last_icr[v],
                        avic: self.apicv.avic_on[v],
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
                    self.guests[usize::from(v)].take(vector);
                    let x = self.oracles.observe(&Obs::Accepted {
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
                    if usize::from(host_id) >= NUM_CORES {
                        return Err(DutError::Contract {
                            cycle,
                            core,
                            signal: "doorbell_host_id_o",
                            what: format!(
                                "host APIC ID {host_id} names no host CPU (0..{NUM_CORES})"
                            ),
                        }
                        .into());
                    }
                    let (target, irr_cycle) = self.irr_write[core];
                    if target != NO_VCPU {
                        let vector = self
                            .last_icr
                            .get(usize::from(self.vcpu_on[core]))
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
        self.rtl_seen = n;
        let cycle = self.dut.cycle();
        for v in 0..self.sc.n() {
            if self.guests[v].eoi_due && self.threads[v].serving_injected() {
                // The EOI store faults on the zapped APIC page: emulated (`apic_set_eoi`).
                self.touch(Res::Guest(v as u8), true);
                self.guests[v].eoi_due = false;
                self.exit_guest(v, GuestExit::Eoi);
            } else if self.guests[v].eoi_due {
                self.touch(Res::Guest(v as u8), true);
                self.guests[v].eoi_due = false;
                let core = self.core_of(v);
                self.dut.core(core).eoi = true;
                self.oracles.observe(&Obs::Eoi {
                    cycle,
                    vcpu: v as u8,
                });
            }
        }
        for cpu in 0..NUM_CORES {
            if !self.kick[cpu] {
                continue;
            }
            self.touch(Res::Core(cpu as u8), true);
            let Some(v) = (0..self.sc.n()).find(|&v| self.core_of(v) == cpu) else {
                // No vCPU thread on that CPU (any more): the IPI interrupts nothing of ours.
                self.kick[cpu] = false;
                continue;
            };
            if self.guest_core(v).is_some() && self.dut.out.core[cpu].busy {
                // The ICR store in progress retires first: an interrupt is taken at an
                // instruction boundary (the AVIC's IPI is part of the store).
            } else if self.guest_core(v).is_some() {
                self.kick[cpu] = false;
                self.exit_guest(v, GuestExit::External);
            } else if !self.threads[v].entering_guest() {
                // The reschedule IPI interrupted host code: nothing to force out.
                self.kick[cpu] = false;
            }
        }
        self.judge_idle(cycle);
        Ok(())
    }

    /// Keeps the first violation of the run.
    fn note_violation(&mut self, v: Option<Violation>) {
        if let Some(v) = v {
            self.violation.get_or_insert(v);
        }
    }

    /// The sends of a guest ICR write ([`crate::oracle::ipi`]): Fixed, edge, vector >= 16,
    /// one per target; lowest priority one send to the whole set. NMI, INIT, SMI and the
    /// rest never reach the IRR.
    fn record_sends(&mut self, cycle: u64, from: u8, icr: &Icr, raw: u64) {
        if icr.trigger_level || icr.vector < 16 || !matches!(icr.delivery_mode, 0 | 1) {
            return;
        }
        let targets = decode_targets(icr, from, &self.sc.kvm);
        let send = |w: &mut World, candidates: u8| {
            w.oracles.observe(&Obs::Send {
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
    fn observe_writes(&mut self) {
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
                    let s = self.icr_from[usize::from(core)];
                    let x = self.last_icr.get(usize::from(s)).map_or(0, |&i| i as u8);
                    let bit = if x >> 5 == reg { 1u32 << (x & 31) } else { 0 };
                    (Some(s), bit & w.data as u32)
                }
                Agent::Host(cpu) if w.kind == AccessKind::LockedRmw => {
                    let s = if w.actor != NO_ACTOR {
                        Some(w.actor)
                    } else {
                        (cpu == self.timer_cpu).then_some(TIMER_SENDER)
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
                let x = self.oracles.observe(&ev);
                self.note_violation(x);
            }
        }
        self.dut.mem.clear_tapped();
    }

    /// Judges the APIC state of every vCPU whose receiver is idle and whose registers changed.
    fn judge_idle(&mut self, cycle: u64) {
        for v in 0..self.sc.n() as u8 {
            if self.oracles.apic.dirty(v) && self.receiver_idle(v) {
                self.oracles.apic.clean(v);
                let x = self.oracles.at_idle(self, v, cycle);
                self.note_violation(x);
            }
        }
    }

    /// The core whose receiver serves `v`'s backing page: the one its thread runs on, if
    /// `v` ran VMRUN there last.
    fn receiver_of(&self, v: u8) -> Option<usize> {
        let c = self.core_of(usize::from(v));
        (self.vcpu_on[c] == v).then_some(c)
    }

    fn quiescent_verdict(&self, cycle: u64) -> Verdict {
        match self.oracles.at_quiescence(self, cycle) {
            Some(v) => Verdict::Violated(v),
            None => Verdict::Holds,
        }
    }
}

impl View for World {
    fn n_vcpus(&self) -> u8 {
        self.sc.n() as u8
    }

    fn irr(&self, vcpu: u8) -> [u32; 8] {
        let b = self.sc.kvm.layout.vm.backing(vcpu);
        std::array::from_fn(|n| self.dut.mem.peek(irr_word(b, (n as u8) << 5)).unwrap_or(0) as u32)
    }

    fn isr(&self, vcpu: u8) -> [u32; 8] {
        let b = self.sc.kvm.layout.vm.backing(vcpu);
        std::array::from_fn(|n| self.dut.mem.peek(isr_word(b, (n as u8) << 5)).unwrap_or(0) as u32)
    }

    fn sleeping(&self, vcpu: u8) -> bool {
        self.threads[usize::from(vcpu)].sleeping()
    }

    fn receiver_idle(&self, vcpu: u8) -> bool {
        self.receiver_of(vcpu).is_none_or(|c| {
            let o = &self.dut.out.core[c];
            !o.eval_busy && !o.port[PORT_RCV].valid && !self.dut.in_flight(c, PORT_RCV)
        })
    }

    fn in_service(&self, vcpu: u8) -> Option<bool> {
        // With AVIC off the ISR is the emulated LAPIC's; the receiver does not serve it.
        let v = usize::from(vcpu);
        if !self.apicv.avic_on[v] || !self.threads[v].avic_enabled() {
            return None;
        }
        self.receiver_of(vcpu)
            .map(|c| self.dut.out.core[c].in_service)
    }

    fn stuck(&self) -> (u8, u8) {
        let n = self.sc.n() as u8;
        let busy = (0..n).find(|&v| {
            self.receiver_of(v).is_some_and(|c| {
                let o = &self.dut.out.core[c];
                o.eval_busy || o.in_service
            })
        });
        if let Some(v) = busy {
            let x = crate::apic::highest_vector(&self.isr(v))
                .or(crate::apic::highest_vector(&self.irr(v)))
                .unwrap_or(0);
            return (v, x);
        }
        let awake = (0..n).find(|&v| !self.threads[usize::from(v)].sleeping());
        (awake.unwrap_or(0), 0)
    }

    fn activity(&self) -> String {
        let mut s = String::new();
        for (v, t) in self.threads.iter().enumerate() {
            let state = if t.sleeping() {
                "asleep"
            } else if t.in_guest() {
                "in guest"
            } else if t.runnable() {
                "runnable"
            } else {
                "waiting"
            };
            let _ = write!(
                s,
                "vCPU {v} thread {state} at {} on CPU {}, guest next {:?}; ",
                t.step_name(),
                t.cpu(),
                self.guests[v].next_op()
            );
        }
        for c in 0..NUM_CORES {
            let o = &self.dut.out.core[c];
            let ports: Vec<usize> = (0..3).filter(|&p| self.dut.in_flight(c, p)).collect();
            if o.busy || o.eval_busy || o.in_service || !ports.is_empty() {
                let _ = write!(
                    s,
                    "core {c}: sender busy {}, receiver eval_busy {}, in_service {}, \
                     transactions outstanding on ports {ports:?}; ",
                    u8::from(o.busy),
                    u8::from(o.eval_busy),
                    u8::from(o.in_service)
                );
            }
        }
        for cpu in 0..=NUM_CORES as u8 {
            let n = self.dut.mem.sb_len(cpu);
            if n > 0 {
                let _ = write!(s, "host CPU {cpu}: {n} stores buffered; ");
            }
        }
        s.trim_end_matches("; ").to_string()
    }
}
