//! The verdict matrix and its reports: hardware variants x KVM variants on a scenario (a
//! bundled one from `scenarios/` or a scenario file), each cell searched (PCT, then bounded
//! exhaustive), printed as a table, written as JSON and JUnit XML, and every counterexample
//! saved as a replay file.
//!
//! The hardware variants and KVM rows are the registry's ([`crate::scenario::variants`]); a
//! cell takes the scenario as its file describes it and replaces its hardware configuration,
//! KVM variant and knobs. Replay files are [`crate::replay`]'s.
//!

use crate::coverage::Orders;
use crate::explore::{FoundBy, Search, Shard, Strategy};
use crate::oracle::{Invariant, Violation};
use crate::scenario::Scenario;
use crate::sim::WorldError;
use indicatif::ProgressBar;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

// The registry, the bundled scenarios and the replay files have their own modules; these
// re-exports keep the paths they had here.
pub use crate::replay::{
    invariant, scenario_sha256, user_rtl_of, Expect, Replay, ReplayError, REPLAY_MAGIC,
};
pub use crate::scenario::bundled::{load_scenario, scenario_names, BUNDLED};
pub use crate::scenario::variants::{
    cell_scenario, hw_names, hw_variant, hw_variant_of, hw_variants, kvm_names, kvm_row,
    kvm_row_of, parse_hw, parse_kvm, renamed_row, HwVariant, KvmRow, KVM_ROWS, RENAMED_ROWS,
};

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
    /// With [`Strategy::Dpor`]: the alternatives at choice points that the reduction never ran.
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

/// Searches one cell: `search` on the scenario with the cell's hardware and KVM.
pub fn run_cell(
    base: &Scenario,
    hw: &HwVariant,
    kvm: &KvmRow,
    search: &Search,
) -> Result<Cell, WorldError> {
    let start = Instant::now();
    let r = search.run(&cell_scenario(base, hw, kvm))?;
    Ok(Cell {
        hw: hw.name,
        kvm: kvm.name,
        violation: r.violation.as_ref().and_then(|o| o.violation().cloned()),
        ranks: r.violation.as_ref().map_or(Vec::new(), |o| o.ranks()),
        found_ranks: r.found_choices,
        found_by: r.found_by,
        pct_runs: r.pct_runs,
        exhaustive_runs: r.exhaustive_runs(),
        complete: r.complete(),
        bounded_runs: r.bounded_runs(),
        pruned: r.dpor.as_ref().map(|d| d.pruned),
        ms: start.elapsed().as_millis() as u64,
        replay: None,
        orders: r.orders,
    })
}

/// A whole matrix: its parameters and cells (hardware-major order).
#[derive(Clone, Debug)]
pub struct Matrix {
    /// Scenario name.
    pub scenario: String,
    /// The search of every cell (its progress bar aside).
    pub search: Search,
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
/// simulation error. `search.shard` takes whole cells: cell `k` (hardware-major order) is
/// the shard's when `k % count == index`, and each cell is searched whole. `cells_bar` gets
/// its length (this shard's cells), a tick per cell done and the current cell as its
/// message; `search.progress` is reset per cell and ticks once per schedule run.
pub fn run_matrix(
    scenario_name: &str,
    base: &Scenario,
    hws: &[HwVariant],
    kvms: &[KvmRow],
    search: &Search,
    cells_bar: &ProgressBar,
) -> Result<Matrix, WorldError> {
    let start = Instant::now();
    let mut cells = Vec::with_capacity(hws.len() * kvms.len());
    let cell_search = search.clone().shard(Shard::WHOLE);
    let pairs = hws.iter().flat_map(|h| kvms.iter().map(move |k| (h, k)));
    let mine: Vec<_> = pairs
        .enumerate()
        .filter(|(i, _)| search.shard.owns(*i))
        .map(|(_, p)| p)
        .collect();
    cells_bar.set_length(mine.len() as u64);
    for (h, k) in mine {
        cells_bar.set_message(format!("{} {}", h.name, k.name));
        search.progress.reset();
        cells.push(run_cell(base, h, k, &cell_search)?);
        cells_bar.inc(1);
    }
    Ok(Matrix {
        scenario: scenario_name.to_string(),
        search: search.clone(),
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
    // The kvm column fits the longest name (composed ones such as `V4+no-enter-mb` included).
    let w = m
        .cells
        .iter()
        .map(|c| c.kvm.len())
        .max()
        .unwrap_or(0)
        .max(14);
    let _ = writeln!(
        s,
        "{:<15} {:<w$} {:<9} {:<36} {:>9}  {:<28} {:>7}",
        "hw", "kvm", "verdict", "violation", "schedules", "search", "ms"
    );
    for c in &m.cells {
        let (verdict, what) = match &c.violation {
            Some(v) => ("VIOLATED", violation_summary(v)),
            None => (c.verdict(), "-".to_string()),
        };
        let _ = writeln!(
            s,
            "{:<15} {:<w$} {:<9} {:<36} {:>9}  {:<28} {:>7}",
            c.hw,
            c.kvm,
            verdict,
            what,
            c.schedules(),
            c.search_note(m.search.bound),
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
        m.search.seeds,
        m.search.bound,
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
    let b = &m.search;
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
        b.strategy == Strategy::Dpor,
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
            c.search_note(m.search.bound)
        );
        match &c.violation {
            None if c.verdict() == "partial" => {
                let _ = writeln!(
                    s,
                    ">\n      <skipped message=\"partial: {}\"/>\n      <system-out>{}</system-out>\n    </testcase>",
                    xml_escape(&c.search_note(m.search.bound)),
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
// Replay files of the cells ([`crate::replay`] has the format)
// ----------------------------------------------------------------------------------------

impl Replay {
    /// The replay file of `cell` (which must have a violation) on scenario `scenario`.
    pub fn of_cell(scenario: &str, base: &Scenario, cell: &Cell) -> Option<Replay> {
        let v = cell.violation.as_ref()?;
        let kvm = parse_kvm(cell.kvm).ok()?;
        let hw = parse_hw(cell.hw).ok()?;
        let sc = cell_scenario(base, &hw, &kvm);
        Some(Replay::of_run(scenario, base, &sc, cell.ranks.clone(), v))
    }
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

    #[test]
    fn escaping() {
        assert_eq!(
            xml_escape("a<b>&\"c'\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#10;"
        );
        assert_eq!(json_str("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
    }
}
