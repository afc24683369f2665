//! The verdict matrix and its reports: hardware variants x KVM variants on a scenario (a
//! bundled one from `scenarios/` or a scenario file), each cell searched (PCT, then bounded
//! exhaustive), printed as a table, written as JSON and JUnit XML, and every counterexample
//! saved as a replay file.
//!
//! The hardware variants are [`crate::scenario::hw_variants`]; a cell takes the scenario as
//! its file describes it and replaces its hardware configuration, KVM variant and knobs.
//!
//! The replay format (version 1) is line based; `#` starts a comment line, blank lines are
//! ignored, every key appears once:
//!
//! ```text
//! avic-cosim-replay 1
//! scenario seed
//! hw stale
//! kvm V3
//! ranks 0 0 3 1 0 2
//! expect no-lost-wakeup vcpu 1 vector 0x40
//! ```
//!
//! `ranks` are [`Outcome::ranks`]: replayed with [`Schedule::replay`] on the scenario rebuilt
//! from `scenario` (a bundled name, or the path of a scenario file, which must be unchanged),
//! `hw` and `kvm`, they reproduce the run event for event.

use crate::coverage::Orders;
use crate::explore::{bounded_exhaustive_observed, minimize_observed, run, search_observed, Shard};
use crate::ffi::HwConfig;
use crate::kvm::{Knobs, KvmVariant};
use crate::oracle::{Invariant, Violation};
use crate::scenario::{self as scenario_file, ScenarioError, ScenarioFile};
use crate::world::{Outcome, Policy, Scenario, Schedule, WorldError};
use indicatif::ProgressBar;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A named hardware ordering variant (`docs/port-contract.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HwVariant {
    /// Name on the command line and in reports.
    pub name: &'static str,
    /// The configuration inputs of the RTL.
    pub cfg: HwConfig,
}

/// The hardware variants of [`crate::scenario::hw_variants`], APM first.
pub fn hw_variants() -> Vec<HwVariant> {
    scenario_file::hw_variants()
        .iter()
        .map(|&(name, cfg)| HwVariant { name, cfg })
        .collect()
}

/// A named KVM row: a handler generation plus knobs (barrier ablations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvmRow {
    /// Name on the command line and in reports.
    pub name: &'static str,
    /// Handler generation.
    pub variant: KvmVariant,
    /// Knobs (all false for the plain generations).
    pub knobs: Knobs,
}

const NO_KNOBS: Knobs = Knobs {
    unconditional_running_on_load: false,
    no_irr_pending_update: false,
    no_block_fences: false,
    no_wake_up_mb: false,
    no_enter_mb: false,
    no_sleep_put: false,
    stale_cpu_on_unblock: false,
};

const fn plain(name: &'static str, variant: KvmVariant) -> KvmRow {
    KvmRow {
        name,
        variant,
        knobs: NO_KNOBS,
    }
}

/// The KVM rows: the eight generations (V3-fast is 5.18 as shipped), then V4 with one of the
/// kernel's barriers removed each, named after the knob. The ablations sit on V4, not V3: the
/// bundled scenario lets the target be preempted in its blocking path, and V3's C2b window
/// would mask what a barrier does.
pub const KVM_ROWS: [KvmRow; 11] = [
    plain("V0", KvmVariant::V0),
    plain("V1", KvmVariant::V1),
    plain("V1b", KvmVariant::V1b),
    plain("V2", KvmVariant::V2),
    plain("V3", KvmVariant::V3),
    plain("V3-fast", KvmVariant::V3Fast),
    plain("V4", KvmVariant::V4),
    plain("V5", KvmVariant::V5),
    KvmRow {
        name: "V4-no-block-fences",
        variant: KvmVariant::V4,
        knobs: Knobs {
            no_block_fences: true,
            ..NO_KNOBS
        },
    },
    KvmRow {
        name: "V4-no-wake-up-mb",
        variant: KvmVariant::V4,
        knobs: Knobs {
            no_wake_up_mb: true,
            ..NO_KNOBS
        },
    },
    KvmRow {
        name: "V4-no-enter-mb",
        variant: KvmVariant::V4,
        knobs: Knobs {
            no_enter_mb: true,
            ..NO_KNOBS
        },
    },
];

/// The scenarios of `scenarios/`, bundled into the build: (name, file, text). Every file of
/// `scenarios/` is here (`tb/scenarios.rs` checks it); docs/scenarios.md describes them.
pub const BUNDLED: [(&str, &str, &str); 16] = [
    (
        "seed",
        "scenarios/seed.toml",
        include_str!("../scenarios/seed.toml"),
    ),
    (
        "broadcast-mixed",
        "scenarios/broadcast-mixed.toml",
        include_str!("../scenarios/broadcast-mixed.toml"),
    ),
    (
        "invalid-target",
        "scenarios/invalid-target.toml",
        include_str!("../scenarios/invalid-target.toml"),
    ),
    (
        "logical-flat",
        "scenarios/logical-flat.toml",
        include_str!("../scenarios/logical-flat.toml"),
    ),
    (
        "logical-cluster",
        "scenarios/logical-cluster.toml",
        include_str!("../scenarios/logical-cluster.toml"),
    ),
    (
        "self-ipi",
        "scenarios/self-ipi.toml",
        include_str!("../scenarios/self-ipi.toml"),
    ),
    (
        "two-senders",
        "scenarios/two-senders.toml",
        include_str!("../scenarios/two-senders.toml"),
    ),
    (
        "c2b-window",
        "scenarios/c2b-window.toml",
        include_str!("../scenarios/c2b-window.toml"),
    ),
    (
        "fast-path-broadcast",
        "scenarios/fast-path-broadcast.toml",
        include_str!("../scenarios/fast-path-broadcast.toml"),
    ),
    (
        "migration",
        "scenarios/migration.toml",
        include_str!("../scenarios/migration.toml"),
    ),
    (
        "same-vector-senders",
        "scenarios/same-vector-senders.toml",
        include_str!("../scenarios/same-vector-senders.toml"),
    ),
    (
        "broadcast-three",
        "scenarios/broadcast-three.toml",
        include_str!("../scenarios/broadcast-three.toml"),
    ),
    (
        "broadcast-ff",
        "scenarios/broadcast-ff.toml",
        include_str!("../scenarios/broadcast-ff.toml"),
    ),
    (
        "ping-pong",
        "scenarios/ping-pong.toml",
        include_str!("../scenarios/ping-pong.toml"),
    ),
    (
        "spinning-target",
        "scenarios/spinning-target.toml",
        include_str!("../scenarios/spinning-target.toml"),
    ),
    (
        "logical-multicast",
        "scenarios/logical-multicast.toml",
        include_str!("../scenarios/logical-multicast.toml"),
    ),
];

/// `"seed, broadcast-mixed, ..."`, for error messages.
pub fn scenario_names() -> String {
    names(&BUNDLED, |b| b.0)
}

/// The scenario `spec`: a bundled name, else the path of a scenario file (`.toml`).
pub fn load_scenario(spec: &str) -> Result<ScenarioFile, ScenarioError> {
    if let Some((_, file, text)) = BUNDLED.iter().find(|b| b.0 == spec) {
        return scenario_file::parse(text, file);
    }
    if spec.ends_with(".toml") || spec.contains('/') {
        return scenario_file::load(Path::new(spec));
    }
    Err(ScenarioError::Invalid {
        file: spec.to_string(),
        msg: format!(
            "neither a bundled scenario ({}) nor a scenario file (.toml)",
            scenario_names()
        ),
    })
}

/// The hardware variant called `name`.
pub fn hw_variant(name: &str) -> Option<HwVariant> {
    hw_variants().into_iter().find(|h| h.name == name)
}

/// Rows renamed in issue 14 (after the barrier each removes in the kernel): (old, new).
pub const RENAMED_ROWS: [(&str, &str); 3] = [
    ("V4-no-scmb", "V4-no-block-fences"),
    ("V4-no-wakemb", "V4-no-wake-up-mb"),
    ("V4-no-entermb", "V4-no-enter-mb"),
];

/// The new name of a renamed row (`"V4-no-scmb"` → `"V4-no-block-fences"`).
pub fn renamed_row(old: &str) -> Option<&'static str> {
    RENAMED_ROWS
        .iter()
        .find(|(o, _)| *o == old)
        .map(|(_, n)| *n)
}

/// The KVM row called `name`. An old name of [`RENAMED_ROWS`] (a replay file or a
/// `--kvm` list written before the rename) still resolves, and this prints
/// `warning: KVM row `OLD` is now called `NEW`` on stderr.
pub fn kvm_row(name: &str) -> Option<KvmRow> {
    let found = |n: &str| KVM_ROWS.iter().copied().find(|k| k.name == n);
    found(name).or_else(|| {
        let new = renamed_row(name)?;
        eprintln!("warning: KVM row `{name}` is now called `{new}`");
        found(new)
    })
}

/// The invariant whose report name is `name`.
pub fn invariant(name: &str) -> Option<Invariant> {
    Invariant::ALL.iter().copied().find(|i| i.name() == name)
}

fn names<T>(items: &[T], name: impl Fn(&T) -> &'static str) -> String {
    items.iter().map(name).collect::<Vec<_>>().join(", ")
}

/// `"apm, split-irr, ..."`, for error messages.
pub fn hw_names() -> String {
    names(&hw_variants(), |h| h.name)
}

/// `"V0, V1, ..."`, for error messages.
pub fn kvm_names() -> String {
    names(&KVM_ROWS, |k| k.name)
}

/// `base` with the hardware configuration of `hw` and the KVM variant and knobs of `kvm`.
pub fn cell_scenario(base: &Scenario, hw: &HwVariant, kvm: &KvmRow) -> Scenario {
    let mut sc = base.clone();
    sc.hw = hw.cfg;
    sc.kvm.variant = kvm.variant;
    sc.kvm.knobs = kvm.knobs;
    sc
}

/// Search budget of one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// PCT seeds tried first.
    pub seeds: u64,
    /// PCT bug depth.
    pub pct_depth: u8,
    /// PCT change-point range.
    pub pct_steps: u32,
    /// Deviation bound of the exhaustive search.
    pub bound: u32,
    /// Most schedules the exhaustive search runs.
    pub max_runs: u64,
    /// The exhaustive search is DPOR within the bound ([`crate::dpor`]) rather than the
    /// enumeration of every schedule.
    pub dpor: bool,
}

impl Budget {
    /// PCT depth 3 over 100 steps, at most 200 000 exhaustive runs per cell, and the seeds
    /// and bound of the scenario file's `[explore]`.
    pub fn of(f: &ScenarioFile) -> Self {
        Budget {
            seeds: f.seeds,
            pct_depth: 3,
            pct_steps: 100,
            bound: f.bound,
            max_runs: 200_000,
            dpor: false,
        }
    }
}

/// How a cell's counterexample was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoundBy {
    /// PCT with this seed.
    Pct(u64),
    /// The bounded exhaustive search.
    Exhaustive,
}

/// The verdict of one invariant in one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvStatus {
    /// No explored schedule broke it.
    Holds,
    /// The cell's counterexample breaks it.
    Violated,
    /// The search stopped at another invariant's counterexample first.
    Unchecked,
}

impl InvStatus {
    /// Report name.
    pub fn name(self) -> &'static str {
        match self {
            InvStatus::Holds => "holds",
            InvStatus::Violated => "violated",
            InvStatus::Unchecked => "unchecked",
        }
    }
}

/// One cell of the matrix.
#[derive(Clone, Debug)]
pub struct Cell {
    /// Hardware variant.
    pub hw: &'static str,
    /// KVM row.
    pub kvm: &'static str,
    /// The first violation found, if any.
    pub violation: Option<Violation>,
    /// Its schedule as ranks, minimized ([`crate::explore::minimize`]); empty when none.
    pub ranks: Vec<u16>,
    /// Choice points of the schedule as found, before minimization.
    pub found_ranks: usize,
    /// Which search found it.
    pub found_by: Option<FoundBy>,
    /// PCT runs.
    pub pct_runs: u64,
    /// Exhaustive runs (with the runs that cut the search into subtrees).
    pub exhaustive_runs: u64,
    /// The exhaustive search ran every schedule within the bound.
    pub complete: bool,
    /// Runs that reached the cycle bound without quiescence (no verdict).
    pub bounded_runs: u64,
    /// With [`Budget::dpor`]: the alternatives at choice points that the reduction never ran.
    pub pruned: Option<u64>,
    /// Wall time of the cell in milliseconds.
    pub ms: u64,
    /// Replay file written for the violation.
    pub replay: Option<String>,
    /// Ordering coverage of the cell's searches: PCT up to the seed that found the violation
    /// (all seeds when none did), then the exhaustive search; not the minimization.
    pub orders: Orders,
}

impl Cell {
    /// The cell's verdict: `violated` (a counterexample), `holds` (the search completed
    /// within its bound and no run was cut at the cycle limit), else `partial`: a run cut at
    /// the cycle limit under an unfair schedule shows nothing about the invariants, and an
    /// incomplete search leaves schedules unexplored.
    pub fn verdict(&self) -> &'static str {
        if self.violation.is_some() {
            "violated"
        } else if self.bounded_runs > 0 || !self.complete {
            "partial"
        } else {
            "holds"
        }
    }

    /// Schedules run in all.
    pub fn schedules(&self) -> u64 {
        self.pct_runs + self.exhaustive_runs
    }

    /// Status of each invariant of [`Invariant::ALL`].
    pub fn invariants(&self) -> [(Invariant, InvStatus); Invariant::ALL.len()] {
        Invariant::ALL.map(|i| {
            let s = match &self.violation {
                None => InvStatus::Holds,
                Some(v) if v.invariant == i => InvStatus::Violated,
                Some(_) => InvStatus::Unchecked,
            };
            (i, s)
        })
    }

    /// `"complete, bound 2"`, `"partial, bound 2"`, `"pct seed 7"`, `"exhaustive, bound 2"`;
    /// with DPOR `"DPOR complete, bound 2, 51379 pruned"` and so on.
    pub fn search_note(&self, bound: u32) -> String {
        let how = if self.pruned.is_some() { "DPOR " } else { "" };
        let mut s = match self.found_by {
            Some(FoundBy::Pct(seed)) => format!("pct seed {seed}"),
            Some(FoundBy::Exhaustive) if how.is_empty() => format!("exhaustive, bound {bound}"),
            Some(FoundBy::Exhaustive) => format!("DPOR, bound {bound}"),
            None if self.complete => format!("{how}complete, bound {bound}"),
            None => format!("{how}partial, bound {bound}"),
        };
        if let (Some(p), None | Some(FoundBy::Exhaustive)) = (self.pruned, self.found_by) {
            let _ = write!(s, ", {p} pruned");
        }
        if self.bounded_runs > 0 {
            let _ = write!(s, ", {} at cycle limit", self.bounded_runs);
        }
        s
    }
}

/// Searches one cell: PCT over `budget.seeds` seeds, then, if nothing was found, every
/// schedule within `budget.bound` deviations.
pub fn run_cell(
    base: &Scenario,
    hw: &HwVariant,
    kvm: &KvmRow,
    budget: &Budget,
) -> Result<Cell, WorldError> {
    run_cell_observed(base, hw, kvm, budget, &ProgressBar::hidden())
}

/// [`run_cell`], ticking `runs` once per schedule run (minimization included).
pub fn run_cell_observed(
    base: &Scenario,
    hw: &HwVariant,
    kvm: &KvmRow,
    budget: &Budget,
    runs: &ProgressBar,
) -> Result<Cell, WorldError> {
    let start = Instant::now();
    let sc = cell_scenario(base, hw, kvm);
    let mut cell = Cell {
        hw: hw.name,
        kvm: kvm.name,
        violation: None,
        ranks: Vec::new(),
        found_ranks: 0,
        found_by: None,
        pct_runs: budget.seeds,
        exhaustive_runs: 0,
        complete: false,
        bounded_runs: 0,
        pruned: None,
        ms: 0,
        replay: None,
        orders: Orders::default(),
    };
    let (found, pct_orders) = search_observed(
        &sc,
        budget.seeds,
        |s| Policy::Pct {
            seed: s,
            depth: budget.pct_depth,
            steps: budget.pct_steps,
        },
        runs,
    )?;
    cell.orders = pct_orders;
    let found = match found {
        Some((seed, out)) => {
            cell.pct_runs = seed + 1;
            Some((out, FoundBy::Pct(seed)))
        }
        None => {
            // (runs, complete, cycle-limit runs, ordering coverage, violation, pruned)
            let (n, complete, bounded, orders, violation, pruned) = if budget.dpor {
                let r = crate::dpor::dpor_observed(
                    &sc,
                    Some(budget.bound),
                    budget.max_runs,
                    Shard::WHOLE,
                    runs,
                )?;
                let n = r.runs + r.probe_runs;
                (
                    n,
                    r.complete,
                    r.bounded,
                    r.orders,
                    r.violation,
                    Some(r.pruned),
                )
            } else {
                let r = bounded_exhaustive_observed(
                    &sc,
                    budget.bound,
                    budget.max_runs,
                    Shard::WHOLE,
                    runs,
                )?;
                let n = r.runs + r.probe_runs;
                (n, r.complete, r.bounded, r.orders, r.violation, None)
            };
            cell.orders |= orders;
            cell.exhaustive_runs = n;
            cell.complete = complete;
            cell.bounded_runs = bounded;
            cell.pruned = pruned;
            violation.map(|out| (out, FoundBy::Exhaustive))
        }
    };
    if let Some((out, by)) = found {
        let v = out.violation().cloned();
        cell.found_ranks = out.choices.len();
        let small = match &v {
            Some(v) => minimize_observed(&sc, &out.ranks(), v.invariant, runs)?,
            None => None,
        };
        let best = small.as_ref().unwrap_or(&out);
        cell.violation = best.violation().cloned().or(v);
        cell.ranks = best.ranks();
        cell.found_by = Some(by);
    }
    cell.ms = start.elapsed().as_millis() as u64;
    Ok(cell)
}

/// A whole matrix: its parameters and cells (hardware-major order).
#[derive(Clone, Debug)]
pub struct Matrix {
    /// Scenario name.
    pub scenario: String,
    /// Search budget of every cell.
    pub budget: Budget,
    /// Cells.
    pub cells: Vec<Cell>,
    /// Wall time in milliseconds.
    pub ms: u64,
}

impl Matrix {
    /// Cells with a violation.
    pub fn violations(&self) -> usize {
        self.cells.iter().filter(|c| c.violation.is_some()).count()
    }

    /// Cells that neither hold nor are violated ([`Cell::verdict`]).
    pub fn partial(&self) -> usize {
        self.cells
            .iter()
            .filter(|c| c.verdict() == "partial")
            .count()
    }
}

/// Runs every (hw, kvm) cell, hardware-major, one after the other (each cell's searches
/// spread their runs over the cores themselves, see [`crate::explore`]); stops at the first
/// simulation error.
pub fn run_matrix(
    scenario_name: &str,
    base: &Scenario,
    hws: &[HwVariant],
    kvms: &[KvmRow],
    budget: &Budget,
    shard: Shard,
) -> Result<Matrix, WorldError> {
    let hidden = ProgressBar::hidden();
    run_matrix_observed(
        scenario_name,
        base,
        hws,
        kvms,
        budget,
        shard,
        &hidden,
        &hidden,
    )
}

/// [`run_matrix`] with progress: `cells` gets its length (this shard's cells), a tick per
/// cell done and the current cell as its message; `runs` is reset per cell and ticks once
/// per schedule run.
#[allow(clippy::too_many_arguments)]
pub fn run_matrix_observed(
    scenario_name: &str,
    base: &Scenario,
    hws: &[HwVariant],
    kvms: &[KvmRow],
    budget: &Budget,
    shard: Shard,
    cells_bar: &ProgressBar,
    runs: &ProgressBar,
) -> Result<Matrix, WorldError> {
    let start = Instant::now();
    let mut cells = Vec::with_capacity(hws.len() * kvms.len());
    // Cell k (hardware-major order) belongs to shard k % count.
    let pairs = hws.iter().flat_map(|h| kvms.iter().map(move |k| (h, k)));
    let mine: Vec<_> = pairs
        .enumerate()
        .filter(|(i, _)| shard.owns(*i))
        .map(|(_, p)| p)
        .collect();
    cells_bar.set_length(mine.len() as u64);
    for (h, k) in mine {
        cells_bar.set_message(format!("{} {}", h.name, k.name));
        runs.reset();
        cells.push(run_cell_observed(base, h, k, budget, runs)?);
        cells_bar.inc(1);
    }
    Ok(Matrix {
        scenario: scenario_name.to_string(),
        budget: *budget,
        cells,
        ms: start.elapsed().as_millis() as u64,
    })
}

/// `"no-lost-wakeup vCPU 1 vector 0x40"`.
pub fn violation_summary(v: &Violation) -> String {
    format!("{} vCPU {} vector {:#04x}", v.invariant, v.vcpu, v.vector)
}

/// The human table: a header, one line per cell, a summary line.
pub fn table(m: &Matrix) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<15} {:<14} {:<9} {:<36} {:>9}  {:<28} {:>7}",
        "hw", "kvm", "verdict", "violation", "schedules", "search", "ms"
    );
    for c in &m.cells {
        let (verdict, what) = match &c.violation {
            Some(v) => ("VIOLATED", violation_summary(v)),
            None => (c.verdict(), "-".to_string()),
        };
        let _ = writeln!(
            s,
            "{:<15} {:<14} {:<9} {:<36} {:>9}  {:<28} {:>7}",
            c.hw,
            c.kvm,
            verdict,
            what,
            c.schedules(),
            c.search_note(m.budget.bound),
            c.ms
        );
    }
    let _ = writeln!(
        s,
        "{} cells, {} violated, {} hold, {} partial; scenario {}, {} PCT seeds, bound {}, {} ms",
        m.cells.len(),
        m.violations(),
        m.cells.len() - m.violations() - m.partial(),
        m.partial(),
        m.scenario,
        m.budget.seeds,
        m.budget.bound,
        m.ms
    );
    s
}

// ----------------------------------------------------------------------------------------
// JSON
// ----------------------------------------------------------------------------------------

/// `s` as a JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_opt_str(s: Option<&str>) -> String {
    s.map_or_else(|| "null".into(), json_str)
}

/// The matrix as one JSON document.
pub fn to_json(m: &Matrix) -> String {
    let b = &m.budget;
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\n  \"format\": \"avic-cosim-matrix\",\n  \"version\": 1,\n  \"scenario\": {},\n  \
         \"budget\": {{\"pct_seeds\": {}, \"pct_depth\": {}, \"pct_steps\": {}, \"bound\": {}, \
         \"max_runs\": {}, \"dpor\": {}}},\n  \"cells_total\": {},\n  \"violated\": {},\n  \"ms\": {},\n  \
         \"cells\": [",
        json_str(&m.scenario),
        b.seeds,
        b.pct_depth,
        b.pct_steps,
        b.bound,
        b.max_runs,
        b.dpor,
        m.cells.len(),
        m.violations(),
        m.ms
    );
    for (i, c) in m.cells.iter().enumerate() {
        let invs = c
            .invariants()
            .iter()
            .map(|(inv, st)| format!("{}: {}", json_str(inv.name()), json_str(st.name())))
            .collect::<Vec<_>>()
            .join(", ");
        let violation = match &c.violation {
            None => "null".to_string(),
            Some(v) => format!(
                "{{\"invariant\": {}, \"vcpu\": {}, \"vector\": {}, \"cycle\": {}, \"detail\": {}}}",
                json_str(v.invariant.name()),
                v.vcpu,
                v.vector,
                v.cycle,
                json_str(&v.detail)
            ),
        };
        let found_by = match c.found_by {
            None => "null".to_string(),
            Some(FoundBy::Pct(seed)) => format!("{{\"search\": \"pct\", \"seed\": {seed}}}"),
            Some(FoundBy::Exhaustive) => "{\"search\": \"exhaustive\"}".to_string(),
        };
        let ranks = c
            .ranks
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            s,
            "{}\n    {{\"hw\": {}, \"kvm\": {}, \"verdict\": {}, \"invariants\": {{{}}}, \
             \"violation\": {}, \"found_by\": {}, \"schedules\": {}, \"pct_runs\": {}, \
             \"exhaustive_runs\": {}, \"complete\": {}, \"cycle_limit_runs\": {}, \
             \"dpor_pruned\": {}, \"ms\": {}, \
             \"replay\": {}, \"found_choices\": {}, \"ranks\": [{}], \"ordering\": {}, \
             \"ordering_unreached\": [{}]}}",
            if i == 0 { "" } else { "," },
            json_str(c.hw),
            json_str(c.kvm),
            json_str(c.verdict()),
            invs,
            violation,
            found_by,
            c.schedules(),
            c.pct_runs,
            c.exhaustive_runs,
            c.complete,
            c.bounded_runs,
            c.pruned.map_or("null".to_string(), |p| p.to_string()),
            c.ms,
            json_opt_str(c.replay.as_deref()),
            c.found_ranks,
            ranks,
            c.orders.to_json(),
            unreached_json(c.orders)
        );
    }
    s.push_str("\n  ]\n}\n");
    s
}

/// The orders never observed, as JSON strings `"PAIR: A before B"`.
pub fn unreached_json(o: Orders) -> String {
    o.unreached()
        .iter()
        .map(|(p, ord)| json_str(&format!("{}: {ord}", p.name())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per cell, the ordering coverage table ([`Orders::table`]) under a `hw kvm: N of M orders
/// reached` heading; unreached orders read `NOT REACHED`.
pub fn ordering_tables(m: &Matrix) -> String {
    let mut s = String::from(
        "ordering coverage (A before B: A's write was globally visible before B read memory; \
         docs/coverage.md)\n",
    );
    for c in &m.cells {
        let total = 2 * crate::coverage::PAIRS.len();
        let _ = writeln!(
            s,
            "{} {}: {} of {total} orders reached",
            c.hw,
            c.kvm,
            c.orders.reached()
        );
        s.push_str(&c.orders.table("  "));
    }
    s
}

// ----------------------------------------------------------------------------------------
// JUnit XML
// ----------------------------------------------------------------------------------------

/// `s` escaped for XML text and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\n' => o.push_str("&#10;"),
            '\t' => o.push_str("&#9;"),
            // Not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && c != '\r' => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

/// The matrix as JUnit XML: one suite (the scenario), one `<testcase classname="HW"
/// name="KVM">` per cell, a `<failure>` for each violation.
pub fn to_junit(m: &Matrix) -> String {
    let secs = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);
    let n = m.cells.len();
    let f = m.violations();
    let skipped = m.partial();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"avic-cosim matrix\" tests=\"{n}\" failures=\"{f}\" errors=\"0\" time=\"{}\">",
        secs(m.ms)
    );
    let _ = writeln!(
        s,
        "  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{f}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
        xml_escape(&m.scenario),
        secs(m.ms)
    );
    for c in &m.cells {
        let _ = write!(
            s,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
            xml_escape(c.hw),
            xml_escape(c.kvm),
            secs(c.ms)
        );
        let note = format!(
            "{} schedules; {}",
            c.schedules(),
            c.search_note(m.budget.bound)
        );
        match &c.violation {
            None if c.verdict() == "partial" => {
                let _ = writeln!(
                    s,
                    ">\n      <skipped message=\"partial: {}\"/>\n      <system-out>{}</system-out>\n    </testcase>",
                    xml_escape(&c.search_note(m.budget.bound)),
                    xml_escape(&note)
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    xml_escape(&note)
                );
            }
            Some(v) => {
                let mut body = format!("{v}\n{note}");
                if let Some(r) = &c.replay {
                    let _ = write!(body, "\nreplay: avic-cosim replay {r}");
                }
                let _ = writeln!(
                    s,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                    xml_escape(&violation_summary(v)),
                    xml_escape(v.invariant.name()),
                    xml_escape(&body)
                );
            }
        }
    }
    s.push_str("  </testsuite>\n</testsuites>\n");
    s
}

// ----------------------------------------------------------------------------------------
// Replay files
// ----------------------------------------------------------------------------------------

/// First line of a replay file (format version 1).
pub const REPLAY_MAGIC: &str = "avic-cosim-replay 1";

/// A parsed replay file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// Scenario name (bundled) or scenario file path.
    pub scenario: String,
    /// The scenario as its file describes it (before `hw` and `kvm` apply).
    pub base: Scenario,
    /// Hardware variant.
    pub hw: HwVariant,
    /// KVM row.
    pub kvm: KvmRow,
    /// Ranks for [`Schedule::replay`].
    pub ranks: Vec<u16>,
    /// The violation the run must reproduce.
    pub expect: Expect,
    /// A user's RTL the run was made on: (top, file list); `None` for the bundled RTL.
    pub rtl: Option<(String, PathBuf)>,
}

/// The (top, file list) of `sc`'s user RTL, for [`Replay::rtl`].
pub fn user_rtl_of(sc: &Scenario) -> Option<(String, PathBuf)> {
    match &sc.rtl {
        crate::rtl::Rtl::User(u) => Some((u.top().to_string(), u.filelist().to_path_buf())),
        _ => None,
    }
}

/// What a replay must reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// Invariant.
    pub invariant: Invariant,
    /// vCPU.
    pub vcpu: u8,
    /// Vector.
    pub vector: u8,
}

impl Expect {
    /// Whether `v` is this violation.
    pub fn matches(&self, v: &Violation) -> bool {
        (v.invariant, v.vcpu, v.vector) == (self.invariant, self.vcpu, self.vector)
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} vCPU {} vector {:#04x}",
            self.invariant, self.vcpu, self.vector
        )
    }
}

/// A replay file that does not parse: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayError {
    /// File name as given.
    pub file: String,
    /// 1-based line (for a missing field: the line after the last).
    pub line: usize,
    /// Field concerned (`"header"` for the first line).
    pub field: String,
    /// What is wrong.
    pub msg: String,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: field `{}`: {}",
            self.file, self.line, self.field, self.msg
        )
    }
}

impl std::error::Error for ReplayError {}

impl Replay {
    /// The replay file of `cell` (which must have a violation) on scenario `scenario`.
    pub fn of_cell(scenario: &str, base: &Scenario, cell: &Cell) -> Option<Replay> {
        let v = cell.violation.as_ref()?;
        Some(Replay {
            scenario: scenario.to_string(),
            base: base.clone(),
            hw: hw_variant(cell.hw)?,
            kvm: kvm_row(cell.kvm)?,
            ranks: cell.ranks.clone(),
            expect: Expect {
                invariant: v.invariant,
                vcpu: v.vcpu,
                vector: v.vector,
            },
            rtl: user_rtl_of(base),
        })
    }

    /// The file text.
    pub fn render(&self) -> String {
        let ranks = self
            .ranks
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        let rtl = self
            .rtl
            .as_ref()
            .map(|(top, f)| format!("rtl {top} {}\n", f.display()))
            .unwrap_or_default();
        format!(
            "{REPLAY_MAGIC}\nscenario {}\n{rtl}hw {}\nkvm {}\nranks {}\nexpect {} vcpu {} vector {:#04x}\n",
            self.scenario,
            self.hw.name,
            self.kvm.name,
            ranks,
            self.expect.invariant.name(),
            self.expect.vcpu,
            self.expect.vector
        )
    }

    /// Parses the text of replay file `file`.
    pub fn parse(file: &str, text: &str) -> Result<Replay, ReplayError> {
        let err = |line: usize, field: &str, msg: String| ReplayError {
            file: file.to_string(),
            line,
            field: field.to_string(),
            msg,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        match lines.next() {
            Some((_, l)) if l == REPLAY_MAGIC => {}
            Some((n, l)) if l.starts_with("avic-cosim-replay") => {
                return Err(err(
                    n,
                    "header",
                    format!("unsupported version `{l}` (this build reads `{REPLAY_MAGIC}`)"),
                ))
            }
            Some((n, l)) => {
                return Err(err(
                    n,
                    "header",
                    format!("expected `{REPLAY_MAGIC}`, found `{l}`"),
                ))
            }
            None => return Err(err(1, "header", "empty file".into())),
        }
        let mut scenario_name: Option<(String, Scenario)> = None;
        let mut hw: Option<HwVariant> = None;
        let mut kvm: Option<KvmRow> = None;
        let mut ranks: Option<Vec<u16>> = None;
        let mut expect: Option<Expect> = None;
        let mut rtl: Option<(String, PathBuf)> = None;
        let mut last = 1;
        for (n, l) in lines {
            last = n;
            let (key, rest) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            let rest = rest.trim();
            let dup = |present: bool| {
                if present {
                    Err(err(n, key, "given twice".into()))
                } else {
                    Ok(())
                }
            };
            match key {
                "scenario" => {
                    dup(scenario_name.is_some())?;
                    let f = load_scenario(rest).map_err(|e| err(n, key, e.to_string()))?;
                    scenario_name = Some((rest.to_string(), f.scenario));
                }
                "hw" => {
                    dup(hw.is_some())?;
                    hw = Some(hw_variant(rest).ok_or_else(|| {
                        err(
                            n,
                            key,
                            format!("unknown hardware variant `{rest}` (known: {})", hw_names()),
                        )
                    })?);
                }
                "kvm" => {
                    dup(kvm.is_some())?;
                    kvm = Some(kvm_row(rest).ok_or_else(|| {
                        err(
                            n,
                            key,
                            format!("unknown KVM variant `{rest}` (known: {})", kvm_names()),
                        )
                    })?);
                }
                "ranks" => {
                    dup(ranks.is_some())?;
                    let r = rest
                        .split_whitespace()
                        .map(|t| {
                            t.parse::<u16>()
                                .map_err(|_| err(n, key, format!("`{t}` is not a rank (0..65535)")))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    ranks = Some(r);
                }
                "expect" => {
                    dup(expect.is_some())?;
                    expect = Some(parse_expect(rest).map_err(|m| err(n, key, m))?);
                }
                "rtl" => {
                    dup(rtl.is_some())?;
                    let (top, list) = rest
                        .split_once(char::is_whitespace)
                        .map(|(t, l)| (t, l.trim()))
                        .filter(|(_, l)| !l.is_empty())
                        .ok_or_else(|| err(n, key, "expected `rtl TOP FILELIST.f`".into()))?;
                    rtl = Some((top.to_string(), PathBuf::from(list)));
                }
                other => {
                    return Err(err(
                        n,
                        other,
                        "unknown field (expected scenario, rtl, hw, kvm, ranks or expect)".into(),
                    ))
                }
            }
        }
        let missing = |f: &str| err(last + 1, f, "missing".into());
        let (scenario, base) = scenario_name.ok_or_else(|| missing("scenario"))?;
        Ok(Replay {
            scenario,
            base,
            hw: hw.ok_or_else(|| missing("hw"))?,
            kvm: kvm.ok_or_else(|| missing("kvm"))?,
            ranks: ranks.ok_or_else(|| missing("ranks"))?,
            expect: expect.ok_or_else(|| missing("expect"))?,
            rtl,
        })
    }

    /// The scenario of the recorded cell (the file's, with `hw` and `kvm` applied).
    pub fn scenario(&self) -> Scenario {
        cell_scenario(&self.base, &self.hw, &self.kvm)
    }

    /// Rebuilds the scenario and runs the recorded schedule.
    pub fn run(&self) -> Result<Outcome, WorldError> {
        run(&self.scenario(), &Schedule::replay(&self.ranks))
    }
}

/// `"no-lost-wakeup vcpu 1 vector 0x40"` (vector decimal or `0x` hex).
fn parse_expect(s: &str) -> Result<Expect, String> {
    let t: Vec<&str> = s.split_whitespace().collect();
    let [inv, "vcpu", vcpu, "vector", vector] = t.as_slice() else {
        return Err(format!("expected `INVARIANT vcpu N vector X`, found `{s}`"));
    };
    let invariant = invariant(inv).ok_or_else(|| {
        format!(
            "unknown invariant `{inv}` (known: {})",
            names(&Invariant::ALL, |i| i.name())
        )
    })?;
    let vcpu = vcpu
        .parse::<u8>()
        .map_err(|_| format!("vcpu `{vcpu}` is not a number"))?;
    let vector = match vector
        .strip_prefix("0x")
        .or_else(|| vector.strip_prefix("0X"))
    {
        Some(h) => u8::from_str_radix(h, 16),
        None => vector.parse::<u8>(),
    }
    .map_err(|_| format!("vector `{vector}` is not a byte"))?;
    Ok(Expect {
        invariant,
        vcpu,
        vector,
    })
}

/// Writes the replay file of every violating cell into `dir` (created if missing) as
/// `SCENARIO-HW-KVM.replay` (SCENARIO: the name, or the file's stem), and records the paths in
/// the cells.
pub fn write_replays(m: &mut Matrix, base: &Scenario, dir: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    let stem = Path::new(&m.scenario)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario")
        .to_string();
    for c in &mut m.cells {
        let Some(r) = Replay::of_cell(&m.scenario, base, c) else {
            continue;
        };
        if n == 0 {
            std::fs::create_dir_all(dir)?;
        }
        let path = dir.join(format!("{stem}-{}-{}.replay", c.hw, c.kvm));
        std::fs::write(&path, r.render())?;
        c.replay = Some(path.display().to_string());
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Replay {
        Replay {
            scenario: "seed".into(),
            base: load_scenario("seed").unwrap().scenario,
            hw: hw_variant("stale").unwrap(),
            kvm: kvm_row("V4-no-block-fences").unwrap(),
            ranks: vec![0, 0, 3, 1],
            expect: Expect {
                invariant: Invariant::LostWakeup,
                vcpu: 1,
                vector: 0x40,
            },
            rtl: None,
        }
    }

    #[test]
    fn replay_round_trips() {
        let r = sample();
        let text = r.render();
        assert!(text.starts_with("avic-cosim-replay 1\n"));
        assert_eq!(Replay::parse("f", &text), Ok(r.clone()));
        // A user's RTL is recorded with its top and file list (a path may hold spaces).
        let u = Replay {
            rtl: Some(("my_top".into(), PathBuf::from("rtl dir/my.f"))),
            ..r
        };
        let text = u.render();
        assert!(text.contains("\nrtl my_top rtl dir/my.f\n"), "{text}");
        assert_eq!(Replay::parse("f", &text), Ok(u));
        let e =
            Replay::parse("f", &text.replace("rtl my_top rtl dir/my.f", "rtl my_top")).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "rtl"));
    }

    #[test]
    fn replay_errors_name_line_and_field() {
        let text = sample().render().replace("hw stale", "hw stael");
        let e = Replay::parse("x.replay", &text).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "hw"));
        assert!(e.to_string().starts_with("x.replay:3: field `hw`"), "{e}");
        let text = sample().render().replace("ranks 0 0 3 1", "ranks 0 x");
        assert_eq!(Replay::parse("f", &text).unwrap_err().field, "ranks");
        let text = sample().render().replace("expect", "expcet");
        let e = Replay::parse("f", &text).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (6, "expcet"));
        let text = sample().render().replace("kvm V4-no-block-fences\n", "");
        let e = Replay::parse("f", &text).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (6, "kvm"));
        let e = Replay::parse("f", "avic-cosim-replay 9\n").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (1, "header"));
    }

    #[test]
    fn escaping() {
        assert_eq!(
            xml_escape("a<b>&\"c'\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#10;"
        );
        assert_eq!(json_str("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
    }

    #[test]
    fn tables_have_unique_names_and_bundled_scenarios_parse() {
        for (i, h) in hw_variants().iter().enumerate() {
            assert_eq!(hw_variant(h.name), Some(hw_variants()[i]));
        }
        for (name, _, _) in BUNDLED {
            let f = load_scenario(name).unwrap();
            assert_eq!(f.name, name);
        }
        assert!(load_scenario("nope").is_err());
        for (i, k) in KVM_ROWS.iter().enumerate() {
            assert_eq!(kvm_row(k.name), Some(KVM_ROWS[i]));
        }
    }
}
