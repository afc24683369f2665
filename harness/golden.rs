//! Golden matrices: the full verdict matrix of a scenario (every hardware row x every KVM row)
//! as a checked-in plain-text file, `tb/golden/NAME.matrix`, so that a flipped cell is a visible
//! diff in review (`docs/verification.md`).
//!
//! The format: `#` comment lines (the first one says what the columns are and how to
//! regenerate), then one line per cell in matrix order, columns separated by single tabs
//! (shown as spaces here):
//!
//! ```text
//! # golden matrix of scenario seed: hardware kvm verdict invariant vcpu vector searched; regenerate with make golden
//! apm  V0  holds  -  -  -  complete within bound 2
//! apm  V1  violated  no-duplicate-ipi  1  0x40  found
//! ```
//!
//! - verdict: `holds`, `violated` or `partial` (see [`GoldenVerdict`]);
//! - invariant, vCPU, vector: those of the violation, `-` when the cell has none;
//! - searched: `complete within bound N` when every schedule within the deviation bound ran,
//!   `partial` when the bounded search stopped at its run limit, `found` for a violation.
//!
//! Nothing in a line depends on timing, thread count or schedule counts: the same RTL, harness
//! and scenario always render the same text.

use crate::explore::Search;
use crate::report::{self, Cell, Matrix};
use crate::scenario::{self as scenario_file, ScenarioError, ScenarioFile};
use crate::sim::WorldError;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

/// The verdict column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GoldenVerdict {
    /// No explored schedule broke an invariant and every run reached quiescence.
    Holds,
    /// The cell has a violation.
    Violated,
    /// No violation, but some runs were cut at the cycle limit (`Cell::bounded_runs`, the JSON's
    /// `cycle_limit_runs`, > 0): a run cut there shows nothing about the invariants judged at
    /// quiescence, so the cell is not evidence that they hold.
    Partial,
}

impl GoldenVerdict {
    /// The column's text.
    pub fn name(self) -> &'static str {
        match self {
            GoldenVerdict::Holds => "holds",
            GoldenVerdict::Violated => "violated",
            GoldenVerdict::Partial => "partial",
        }
    }

    /// The verdict of `c`, as [`Cell::verdict`] defines it (a cell with runs cut at the cycle
    /// limit, or whose bounded search did not complete, is `partial`).
    pub fn of(c: &Cell) -> Self {
        match c.verdict() {
            "violated" => GoldenVerdict::Violated,
            "holds" => GoldenVerdict::Holds,
            _ => GoldenVerdict::Partial,
        }
    }
}

/// The searched column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Searched {
    /// Every schedule within this deviation bound ran (after the PCT seeds).
    Complete(u32),
    /// The bounded search stopped at its run limit.
    Partial,
    /// A violation was found (by PCT or the bounded search).
    Found,
}

impl fmt::Display for Searched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Searched::Complete(b) => write!(f, "complete within bound {b}"),
            Searched::Partial => f.write_str("partial"),
            Searched::Found => f.write_str("found"),
        }
    }
}

/// One line of a golden file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GoldenCell {
    /// Hardware row.
    pub hw: String,
    /// KVM row.
    pub kvm: String,
    /// Verdict.
    pub verdict: GoldenVerdict,
    /// The violated invariant's report name.
    pub invariant: Option<String>,
    /// The violation's vCPU.
    pub vcpu: Option<u8>,
    /// The violation's vector.
    pub vector: Option<u8>,
    /// What was searched.
    pub searched: Searched,
}

impl GoldenCell {
    /// The golden line of `c`, searched with deviation bound `bound`.
    pub fn of(c: &Cell, bound: u32) -> Self {
        let v = c.violation.as_ref();
        GoldenCell {
            hw: c.hw.to_string(),
            kvm: c.kvm.to_string(),
            verdict: GoldenVerdict::of(c),
            invariant: v.map(|v| v.invariant.name().to_string()),
            vcpu: v.map(|v| v.vcpu),
            vector: v.map(|v| v.vector),
            searched: match (v, c.complete) {
                (Some(_), _) => Searched::Found,
                (None, true) => Searched::Complete(bound),
                (None, false) => Searched::Partial,
            },
        }
    }

    /// `(hw, kvm)`: the key of a cell.
    pub fn key(&self) -> (&str, &str) {
        (&self.hw, &self.kvm)
    }

    /// The line (no newline).
    pub fn line(&self) -> String {
        let dash = || "-".to_string();
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.hw,
            self.kvm,
            self.verdict.name(),
            self.invariant.clone().unwrap_or_else(dash),
            self.vcpu.map_or_else(dash, |v| v.to_string()),
            self.vector.map_or_else(dash, |v| format!("{v:#04x}")),
            self.searched
        )
    }

    /// `"holds"`, `"partial"`, or `"violated no-lost-wakeup vCPU 1 0x40"`: the verdict with
    /// what it names, for one-line reports.
    pub fn summary(&self) -> String {
        match (&self.invariant, self.vcpu, self.vector) {
            (Some(i), Some(c), Some(v)) => format!("{} {i} vCPU {c} {v:#04x}", self.verdict.name()),
            _ if self.searched == Searched::Partial => {
                format!("{} (search partial)", self.verdict.name())
            }
            _ => self.verdict.name().to_string(),
        }
    }
}

impl fmt::Display for GoldenCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

/// A golden file that does not parse: the line and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GoldenError {
    /// A cell line is malformed.
    #[error("line {line}: {msg}")]
    Line {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// Two lines name the same cell.
    #[error("line {line}: cell {hw} {kvm} given twice (first on line {first})")]
    Duplicate {
        /// 1-based line of the second one.
        line: usize,
        /// Its first line.
        first: usize,
        /// Hardware row.
        hw: String,
        /// KVM row.
        kvm: String,
    },
}

/// The header comment of scenario `name`'s golden file.
pub fn header(name: &str) -> String {
    format!(
        "# golden matrix of scenario {name}: hardware kvm verdict invariant vcpu vector searched; \
         regenerate with make golden"
    )
}

/// The golden cells of `m`, in matrix order.
pub fn cells(m: &Matrix) -> Vec<GoldenCell> {
    m.cells
        .iter()
        .map(|c| GoldenCell::of(c, m.search.bound))
        .collect()
}

/// The golden file of matrix `m` of scenario `scenario_name`: the header, one line per cell.
pub fn render(scenario_name: &str, m: &Matrix) -> String {
    let mut s = header(scenario_name);
    s.push('\n');
    for c in cells(m) {
        let _ = writeln!(s, "{c}");
    }
    s
}

fn parse_line(n: usize, l: &str) -> Result<GoldenCell, GoldenError> {
    let err = |msg: String| GoldenError::Line { line: n, msg };
    let f: Vec<&str> = l.split('\t').collect();
    let [hw, kvm, verdict, invariant, vcpu, vector, searched] = f.as_slice() else {
        return Err(err(format!(
            "expected 7 tab-separated columns (hardware kvm verdict invariant vcpu vector \
             searched), found {}",
            f.len()
        )));
    };
    for (what, v) in [("hardware", hw), ("kvm", kvm), ("invariant", invariant)] {
        if v.is_empty() || v.contains(char::is_whitespace) {
            return Err(err(format!("{what} `{v}` is empty or holds a blank")));
        }
    }
    let verdict = match *verdict {
        "holds" => GoldenVerdict::Holds,
        "violated" => GoldenVerdict::Violated,
        "partial" => GoldenVerdict::Partial,
        v => {
            return Err(err(format!(
                "verdict `{v}` is none of holds, violated, partial"
            )))
        }
    };
    let dash = |v: &str| (v != "-").then(|| v.to_string());
    let invariant = dash(invariant);
    let vcpu = dash(vcpu)
        .map(|v| v.parse::<u8>())
        .transpose()
        .map_err(|_| err(format!("vcpu `{vcpu}` is not a number or -")))?;
    let vector = dash(vector)
        .map(|v| {
            v.strip_prefix("0x")
                .ok_or(())
                .and_then(|h| u8::from_str_radix(h, 16).map_err(|_| ()))
        })
        .transpose()
        .map_err(|_| err(format!("vector `{vector}` is not 0xNN or -")))?;
    let searched = match *searched {
        "found" => Searched::Found,
        "partial" => Searched::Partial,
        s => match s
            .strip_prefix("complete within bound ")
            .and_then(|b| b.parse::<u32>().ok())
        {
            Some(b) => Searched::Complete(b),
            None => {
                return Err(err(format!(
                    "searched `{s}` is none of `complete within bound N`, `partial`, `found`"
                )))
            }
        },
    };
    let named = invariant.is_some() && vcpu.is_some() && vector.is_some();
    let none = invariant.is_none() && vcpu.is_none() && vector.is_none();
    match verdict {
        GoldenVerdict::Violated if !named || searched != Searched::Found => {
            return Err(err(
                "a violated cell names its invariant, vcpu and vector and reads `found`".into(),
            ))
        }
        GoldenVerdict::Holds | GoldenVerdict::Partial if !none || searched == Searched::Found => {
            return Err(err(format!(
                "a {} cell has `-` for invariant, vcpu and vector and was not `found`",
                verdict.name()
            )))
        }
        _ => {}
    }
    Ok(GoldenCell {
        hw: hw.to_string(),
        kvm: kvm.to_string(),
        verdict,
        invariant,
        vcpu,
        vector,
        searched,
    })
}

/// Parses a golden file: comment (`#`) and blank lines are skipped, every other line is a cell;
/// a cell given twice is an error.
pub fn parse(text: &str) -> Result<Vec<GoldenCell>, GoldenError> {
    let mut out: Vec<GoldenCell> = Vec::new();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (i, l) in text.lines().enumerate() {
        let n = i + 1;
        if l.trim().is_empty() || l.starts_with('#') {
            continue;
        }
        let c = parse_line(n, l)?;
        if let Some(&first) = seen.get(&(c.hw.clone(), c.kvm.clone())) {
            return Err(GoldenError::Duplicate {
                line: n,
                first,
                hw: c.hw,
                kvm: c.kvm,
            });
        }
        seen.insert((c.hw.clone(), c.kvm.clone()), n);
        out.push(c);
    }
    Ok(out)
}

/// The cells of `expected` and `actual` (golden texts) that differ, keyed by hardware and KVM
/// row: `- expected line` / `+ actual line` per changed cell, `-` alone for a cell only
/// expected, `+` alone for one only actual; `None` when every cell is the same (comments and
/// order do not count). A text that does not parse is reported as such.
pub fn diff(expected: &str, actual: &str) -> Option<String> {
    let (e, a) = match (parse(expected), parse(actual)) {
        (Ok(e), Ok(a)) => (e, a),
        (e, a) => {
            let mut s = String::new();
            if let Err(x) = e {
                let _ = writeln!(s, "expected golden text does not parse: {x}");
            }
            if let Err(x) = a {
                let _ = writeln!(s, "actual golden text does not parse: {x}");
            }
            return Some(s);
        }
    };
    let mut s = String::new();
    let mut changed = 0;
    for x in &e {
        match a.iter().find(|y| y.key() == x.key()) {
            Some(y) if y == x => {}
            Some(y) => {
                changed += 1;
                let _ = writeln!(s, "- {x}\n+ {y}");
            }
            None => {
                changed += 1;
                let _ = writeln!(s, "- {x}");
            }
        }
    }
    for y in &a {
        if !e.iter().any(|x| x.key() == y.key()) {
            changed += 1;
            let _ = writeln!(s, "+ {y}");
        }
    }
    (changed > 0).then(|| format!("{changed} of {} cells differ:\n{s}", e.len().max(a.len())))
}

/// The scenario files of `dir` (`*.toml`) as (name = file stem, path), sorted by name.
pub fn scenario_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "toml") {
            if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                v.push((stem.to_string(), p.clone()));
            }
        }
    }
    v.sort();
    Ok(v)
}

/// Where scenario `name`'s golden file lives under `dir` (`tb/golden`): `dir/NAME.matrix`.
pub fn golden_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.matrix"))
}

/// Errors of running a full matrix for a golden file.
#[derive(Debug, thiserror::Error)]
pub enum FullMatrixError {
    /// The scenario file does not load.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The simulation failed.
    #[error("simulation failed: {0}")]
    World(#[from] WorldError),
}

/// The full matrix of scenario file `f` named `name` (every hardware row x every KVM row, the
/// budget of its `[explore]`, as `avic-cosim matrix` runs it by default).
pub fn full_matrix(name: &str, f: &ScenarioFile) -> Result<Matrix, WorldError> {
    report::run_matrix(
        name,
        &f.scenario,
        &report::hw_variants(),
        &report::KVM_ROWS,
        &Search::of_file(f),
        &indicatif::ProgressBar::hidden(),
    )
}

/// Loads the scenario file `path` and renders its full matrix's golden file as scenario `name`.
pub fn render_file(name: &str, path: &Path) -> Result<String, FullMatrixError> {
    let f = scenario_file::load(path)?;
    Ok(render(name, &full_matrix(name, &f)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::Orders;
    use crate::oracle::{Invariant, Violation};

    fn cell(hw: &'static str, kvm: &'static str) -> Cell {
        Cell {
            hw,
            kvm,
            violation: None,
            ranks: Vec::new(),
            found_ranks: 0,
            found_by: None,
            pct_runs: 100,
            exhaustive_runs: 4000,
            complete: true,
            bounded_runs: 0,
            pruned: None,
            ms: 12,
            replay: None,
            orders: Orders::default(),
        }
    }

    fn sample() -> Matrix {
        let mut v = cell("apm", "V1");
        v.violation = Some(Violation {
            invariant: Invariant::DuplicateIpi,
            cycle: 80,
            vcpu: 1,
            vector: 0x40,
            detail: "taken 2 times, sent 1 times".into(),
        });
        v.found_by = Some(crate::explore::FoundBy::Pct(3));
        let mut cut = cell("apm", "V4");
        cut.bounded_runs = 7;
        let mut part = cell("in-flight", "V5");
        part.complete = false;
        Matrix {
            scenario: "scenarios/x.toml".into(),
            search: Search::default().seeds(100).bound(2),
            cells: vec![cell("apm", "V0"), v, cut, part],
            ms: 999,
        }
    }

    #[test]
    fn render_has_the_header_and_one_line_per_cell() {
        let t = render("x", &sample());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], header("x"));
        assert!(lines[0].ends_with("regenerate with make golden"));
        assert_eq!(
            &lines[1..],
            [
                "apm\tV0\tholds\t-\t-\t-\tcomplete within bound 2",
                "apm\tV1\tviolated\tno-duplicate-ipi\t1\t0x40\tfound",
                "apm\tV4\tpartial\t-\t-\t-\tcomplete within bound 2",
                "in-flight\tV5\tpartial\t-\t-\t-\tpartial",
            ]
        );
        // Nothing depends on times or counts.
        let mut m = sample();
        for c in &mut m.cells {
            c.ms += 1000;
            c.exhaustive_runs += 1;
        }
        m.ms = 1;
        assert_eq!(render("x", &m), t);
    }

    #[test]
    fn parse_round_trips_render() {
        let m = sample();
        let t = render("x", &m);
        let parsed = parse(&t).unwrap();
        assert_eq!(parsed, cells(&m));
        let again: String = parsed.iter().map(|c| format!("{c}\n")).collect();
        assert_eq!(format!("{}\n{again}", header("x")), t);
        assert_eq!(diff(&t, &t), None);
        // Comments, blank lines and order do not matter.
        let shuffled = format!(
            "# other\n\n{}\n{}\n",
            t.lines().rev().take(4).collect::<Vec<_>>().join("\n"),
            "# end"
        );
        assert_eq!(diff(&t, &shuffled), None);
    }

    #[test]
    fn parse_errors_name_the_line() {
        let t = render("x", &sample());
        let bad = |from: &str, to: &str| parse(&t.replacen(from, to, 1)).unwrap_err();
        let e = bad("\tholds\t", "\tok\t");
        assert_eq!(
            e,
            GoldenError::Line {
                line: 2,
                msg: "verdict `ok` is none of holds, violated, partial".into()
            }
        );
        assert!(e.to_string().starts_with("line 2: "), "{e}");
        assert!(matches!(
            bad("\t0x40\t", "\t64\t"),
            GoldenError::Line { line: 3, .. }
        ));
        assert!(matches!(
            bad("\t1\t0x40", "\tx\t0x40"),
            GoldenError::Line { line: 3, .. }
        ));
        assert!(matches!(
            bad("\tfound", "\tfound\textra"),
            GoldenError::Line { line: 3, .. }
        ));
        assert!(matches!(
            bad("bound 2\n", "bound two\n"),
            GoldenError::Line { line: 2, .. }
        ));
        assert!(matches!(
            bad("\tfound", "\tcomplete within bound 2"),
            GoldenError::Line { line: 3, .. }
        ));
        assert!(matches!(
            bad("apm\tV4", "apm\tV0"),
            GoldenError::Duplicate {
                line: 4,
                first: 2,
                ..
            }
        ));
        let e = parse("apm V0 holds - - - found\n").unwrap_err();
        assert!(e.to_string().contains("7 tab-separated columns"), "{e}");
    }

    #[test]
    fn diff_shows_changed_missing_and_extra_cells() {
        let m = sample();
        let exp = render("x", &m);
        let mut flipped = m.clone();
        flipped.cells[0].violation = Some(Violation {
            invariant: Invariant::LostWakeup,
            cycle: 1,
            vcpu: 1,
            vector: 0x40,
            detail: String::new(),
        });
        flipped.cells.remove(3);
        flipped.cells.push(cell("stale", "V5"));
        let act = render("x", &flipped);
        let d = diff(&exp, &act).unwrap();
        assert_eq!(
            d,
            "3 of 4 cells differ:\n\
             - apm\tV0\tholds\t-\t-\t-\tcomplete within bound 2\n\
             + apm\tV0\tviolated\tno-lost-wakeup\t1\t0x40\tfound\n\
             - in-flight\tV5\tpartial\t-\t-\t-\tpartial\n\
             + stale\tV5\tholds\t-\t-\t-\tcomplete within bound 2\n"
        );
        let d = diff("apm\tV0\n", &act).unwrap();
        assert!(
            d.starts_with("expected golden text does not parse: line 1:"),
            "{d}"
        );
    }

    #[test]
    fn summaries() {
        let c = cells(&sample());
        assert_eq!(c[0].summary(), "holds");
        assert_eq!(c[1].summary(), "violated no-duplicate-ipi vCPU 1 0x40");
        assert_eq!(c[2].summary(), "partial");
        assert_eq!(c[3].summary(), "partial (search partial)");
    }
}
