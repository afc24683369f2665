//! The mutation score (`make mutants`, `avic-cosim mutants`): single-point edits of the bundled
//! RTL (`tb/mutants/mutants.toml`), each applied to a copy of `rtl/` and run through the
//! bring-your-own-RTL path ([`crate::rtl::UserRtl`]) against the golden matrices of
//! `tb/golden/` ([`crate::golden`]).
//!
//! A mutant is **killed** when a cell of its matrices differs from the golden cell (a violation
//! appearing or disappearing, another invariant, vCPU or vector, a partial verdict or search),
//! or when its design does not build, trips an RTL assertion, breaks the port contract or makes
//! the harness fail (an error from the simulation). The search stops at the first difference:
//! scenarios run cheapest first ([`plan`]), and in a scenario the cells the golden file has
//! violated run first (PCT finds those in a few schedules), then the holding ones, each group in
//! matrix order. A mutant that survives ran every cell of every scenario.
//!
//! A mutant may carry `equivalent = "reason"`: it is still run, must survive, and counts apart
//! in the score. The copies live in the runtime cache (`<cache>/mutants/ID-HASH/`, the cache of
//! [`crate::rtl::default_cache_dir`]) under a name derived from their content, so a second run
//! of an unchanged mutant takes its build from the cache.

use crate::explore::Search;
use crate::golden::{self, GoldenCell, GoldenVerdict};
use crate::report::{self, HwVariant, KvmRow};
use crate::rtl::{Flavor, Rtl, RtlOptions, UserRtl};
use crate::scenario::{self as scenario_file, ScenarioFile};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What part of the protocol a mutant breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// When the IsRunning read happens relative to the IRR update.
    IsrunningOrder,
    /// Whether the sender exits, and what it delivered before.
    ExitDecision,
    /// EXITINFO1, EXITINFO2, the exit code.
    ExitInfo,
    /// The sender's update of the target's IRR.
    IrrUpdate,
    /// The receiver's IRR to ISR move.
    Acceptance,
    /// End of interrupt.
    Eoi,
    /// What makes the receiver evaluate its IRR.
    EvalTrigger,
    /// Which core a doorbell reaches.
    DoorbellRouting,
}

impl Class {
    /// Every class.
    pub const ALL: [Class; 8] = [
        Class::IsrunningOrder,
        Class::ExitDecision,
        Class::ExitInfo,
        Class::IrrUpdate,
        Class::Acceptance,
        Class::Eoi,
        Class::EvalTrigger,
        Class::DoorbellRouting,
    ];

    /// The name in the list file.
    pub fn name(self) -> &'static str {
        match self {
            Class::IsrunningOrder => "isrunning-order",
            Class::ExitDecision => "exit-decision",
            Class::ExitInfo => "exit-info",
            Class::IrrUpdate => "irr-update",
            Class::Acceptance => "acceptance",
            Class::Eoi => "eoi",
            Class::EvalTrigger => "eval-trigger",
            Class::DoorbellRouting => "doorbell-routing",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One single-point edit of the bundled RTL.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mutant {
    /// Unique name.
    pub id: String,
    /// The RTL file edited, relative to the repository (`rtl/avic_core.sv`).
    pub file: String,
    /// Text that occurs exactly once in `file`.
    pub find: String,
    /// What replaces it.
    pub replace: String,
    /// The bug, in one sentence.
    pub what: String,
    /// What it breaks.
    pub covers: Class,
    /// Part of the quick subset (`--quick`, `.ci/run`).
    #[serde(default)]
    pub quick: bool,
    /// Why the mutant changes no observable behaviour (it must then survive).
    #[serde(default)]
    pub equivalent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFile {
    mutant: Vec<Mutant>,
}

/// Errors of the list, the goldens and the set-up of a mutant (not of a mutant's run: those
/// kill it).
#[derive(Debug, thiserror::Error)]
pub enum MutantError {
    /// The list file does not parse.
    #[error("{file}: {msg}")]
    List {
        /// The list file.
        file: String,
        /// What is wrong.
        msg: String,
    },
    /// A mutant's `find` does not occur exactly once in its file.
    #[error(
        "mutant {id}: `find` occurs {count} times in {file} (must be exactly once; the RTL \
         changed? edit the mutant in the list)"
    )]
    Find {
        /// The mutant.
        id: String,
        /// Its file.
        file: String,
        /// How often `find` occurs.
        count: usize,
    },
    /// A mutant names a file that is not in the RTL directory, or is otherwise malformed.
    #[error("mutant {id}: {msg}")]
    Mutant {
        /// The mutant.
        id: String,
        /// What is wrong.
        msg: String,
    },
    /// A scenario has no golden file, or it does not parse.
    #[error("scenario {scenario}: {msg}")]
    Golden {
        /// The scenario.
        scenario: String,
        /// What is wrong.
        msg: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {msg}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        msg: String,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> MutantError + '_ {
    move |e| MutantError::Io {
        path: path.to_path_buf(),
        msg: e.to_string(),
    }
}

/// Parses a mutant list; ids must be unique.
pub fn parse_list(text: &str, file: &str) -> Result<Vec<Mutant>, MutantError> {
    let l: ListFile = toml::from_str(text).map_err(|e| MutantError::List {
        file: file.to_string(),
        msg: e.to_string(),
    })?;
    for (i, m) in l.mutant.iter().enumerate() {
        if m.id.is_empty()
            || m.id
                .contains(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(MutantError::List {
                file: file.to_string(),
                msg: format!("mutant id `{}`: use letters, digits and -", m.id),
            });
        }
        if l.mutant[..i].iter().any(|o| o.id == m.id) {
            return Err(MutantError::List {
                file: file.to_string(),
                msg: format!("mutant id `{}` given twice", m.id),
            });
        }
    }
    Ok(l.mutant)
}

/// Reads the mutant list `path`.
pub fn load_list(path: &Path) -> Result<Vec<Mutant>, MutantError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    parse_list(&text, &path.display().to_string())
}

/// The mutants of `all` named in `only` (in `only`'s order); an unknown id is an error.
pub fn select(all: &[Mutant], only: &[String]) -> Result<Vec<Mutant>, MutantError> {
    only.iter()
        .map(|id| {
            all.iter()
                .find(|m| &m.id == id)
                .cloned()
                .ok_or_else(|| MutantError::Mutant {
                    id: id.clone(),
                    msg: "not in the list".into(),
                })
        })
        .collect()
}

/// The text of `m.file` (under `repo`) with the mutation applied.
pub fn apply(m: &Mutant, repo: &Path) -> Result<String, MutantError> {
    let path = repo.join(&m.file);
    if !m.file.starts_with("rtl/") || m.file[4..].contains('/') || !m.file.ends_with(".sv") {
        return Err(MutantError::Mutant {
            id: m.id.clone(),
            msg: format!("file `{}` is not an RTL source rtl/NAME.sv", m.file),
        });
    }
    let text = std::fs::read_to_string(&path).map_err(|e| MutantError::Mutant {
        id: m.id.clone(),
        msg: format!("{}: {e}", path.display()),
    })?;
    let count = if m.find.is_empty() {
        0
    } else {
        text.matches(&m.find).count()
    };
    if count != 1 {
        return Err(MutantError::Find {
            id: m.id.clone(),
            file: m.file.clone(),
            count,
        });
    }
    Ok(text.replacen(&m.find, &m.replace, 1))
}

/// Writes a copy of `repo/rtl/` with `m` applied into `work/ID-HASH/` (HASH: of the mutated
/// sources, so an unchanged mutant finds its copy, and the build cache its build) and returns
/// its file list (`avic.f`, the bundled list's lines).
pub fn prepare(m: &Mutant, repo: &Path, work: &Path) -> Result<PathBuf, MutantError> {
    let mutated = apply(m, repo)?;
    let rtl = repo.join("rtl");
    let mut files: Vec<(String, String)> = Vec::new();
    for e in std::fs::read_dir(&rtl).map_err(io(&rtl))? {
        let p = e.map_err(io(&rtl))?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if p.is_file() && (name.ends_with(".sv") || name.ends_with(".svh") || name == "avic.f") {
            let text = if format!("rtl/{name}") == m.file {
                mutated.clone()
            } else {
                std::fs::read_to_string(&p).map_err(io(&p))?
            };
            files.push((name.to_string(), text));
        }
    }
    files.sort();
    let mut h = Sha256::new();
    for (n, t) in &files {
        h.update(n.as_bytes());
        h.update([0]);
        h.update(t.as_bytes());
        h.update([0]);
    }
    let hash: String = h.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = work.join(format!("{}-{hash}", m.id));
    let list = dir.join("avic.f");
    if list.is_file() {
        return Ok(list);
    }
    std::fs::create_dir_all(work).map_err(io(work))?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(work)
        .map_err(io(work))?;
    let sub = tmp.path().join("rtl");
    std::fs::create_dir_all(&sub).map_err(io(&sub))?;
    for (n, t) in &files {
        if n == "avic.f" {
            // The bundled list names `rtl/X.sv` relative to the repository: the same lines,
            // relative to the copy's directory.
            let p = tmp.path().join("avic.f");
            std::fs::write(&p, t).map_err(io(&p))?;
        } else {
            let p = sub.join(n);
            std::fs::write(&p, t).map_err(io(&p))?;
        }
    }
    let tmp = tmp.keep();
    // Another process may have made the same copy meanwhile: its copy is as good as ours.
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
        if !list.is_file() {
            return Err(MutantError::Io {
                path: dir,
                msg: "cannot move the mutant's copy into place".into(),
            });
        }
    }
    Ok(list)
}

/// One scenario of the plan: its file and golden cells, in the order they run.
#[derive(Clone, Debug)]
pub struct ScenarioPlan {
    /// Name (file stem).
    pub name: String,
    /// The scenario file.
    pub file: ScenarioFile,
    /// Golden cells, violated ones first, then the others, each group in matrix order.
    pub cells: Vec<(HwVariant, KvmRow, GoldenCell)>,
}

impl ScenarioPlan {
    /// Estimated cost: the bound dominates the size of the exhaustive search that every
    /// holding cell runs, then the number of holding cells, vCPUs and PCT seeds.
    fn cost(&self) -> (u32, usize, u8, u64) {
        let holding = self
            .cells
            .iter()
            .filter(|(_, _, g)| g.verdict != GoldenVerdict::Violated)
            .count();
        (
            self.file.bound,
            holding,
            self.file.scenario.kvm.n_vcpus,
            self.file.seeds,
        )
    }
}

/// Every scenario of `scenarios` (`*.toml`) with its golden file from `golden_dir`, cheapest
/// first (deviation bound, then holding cells, vCPUs, PCT seeds, name). `only`: just these
/// scenarios (by name). A missing or malformed golden file is an error that says `make golden`.
pub fn plan(
    scenarios: &Path,
    golden_dir: &Path,
    only: Option<&[String]>,
) -> Result<Vec<ScenarioPlan>, MutantError> {
    let files = golden::scenario_files(scenarios).map_err(io(scenarios))?;
    let mut out = Vec::new();
    for (name, path) in files {
        if only.is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        let gerr = |msg: String| MutantError::Golden {
            scenario: name.clone(),
            msg,
        };
        let file = scenario_file::load(&path).map_err(|e| gerr(e.to_string()))?;
        let gp = golden::golden_path(golden_dir, &name);
        let text = std::fs::read_to_string(&gp)
            .map_err(|e| gerr(format!("{}: {e} (run make golden)", gp.display())))?;
        let cells = golden::parse(&text).map_err(|e| gerr(format!("{}: {e}", gp.display())))?;
        let mut rows = Vec::with_capacity(cells.len());
        for g in cells {
            let hw = report::hw_variant(&g.hw)
                .ok_or_else(|| gerr(format!("unknown hardware row `{}`", g.hw)))?;
            let kvm = report::kvm_row(&g.kvm)
                .ok_or_else(|| gerr(format!("unknown KVM row `{}`", g.kvm)))?;
            rows.push((hw, kvm, g));
        }
        rows.sort_by_key(|(_, _, g)| g.verdict != GoldenVerdict::Violated);
        out.push(ScenarioPlan {
            name,
            file,
            cells: rows,
        });
    }
    if let Some(o) = only {
        if let Some(missing) = o.iter().find(|n| !out.iter().any(|p| &p.name == *n)) {
            return Err(MutantError::Golden {
                scenario: missing.clone(),
                msg: format!("no such scenario file in {}", scenarios.display()),
            });
        }
    }
    out.sort_by(|a, b| a.cost().cmp(&b.cost()).then_with(|| a.name.cmp(&b.name)));
    Ok(out)
}

/// What became of a mutant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// A cell differs from its golden cell.
    Killed {
        /// Scenario.
        scenario: String,
        /// The golden cell.
        expected: GoldenCell,
        /// The mutant's cell.
        actual: GoldenCell,
    },
    /// The design did not build, or a simulation failed.
    Error {
        /// Where: `build`, or `SCENARIO HW/KVM`.
        at: String,
        /// The error, on one line.
        msg: String,
    },
    /// Every cell equals its golden cell.
    Survived,
}

impl Fate {
    /// Killed (by a cell or by an error).
    pub fn killed(&self) -> bool {
        !matches!(self, Fate::Survived)
    }

    /// Killed by a verdict that flipped (holds, partial, violated) or by an error, not only by
    /// another violation found first in a cell that was violated anyway: the stronger evidence.
    pub fn flipped(&self) -> bool {
        match self {
            Fate::Killed {
                expected, actual, ..
            } => expected.verdict != actual.verdict,
            Fate::Error { .. } => true,
            Fate::Survived => false,
        }
    }
}

/// The result of one mutant.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The mutant.
    pub mutant: Mutant,
    /// What became of it.
    pub fate: Fate,
    /// Cells run.
    pub cells: usize,
    /// Wall time, build included.
    pub seconds: f64,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = &self.mutant.id;
        match &self.fate {
            Fate::Killed {
                scenario,
                expected,
                actual,
            } => write!(
                f,
                "{id}  killed by {scenario} {}/{}: {} -> {}",
                expected.hw,
                expected.kvm,
                expected.summary(),
                actual.summary()
            )?,
            Fate::Error { at, msg } => write!(f, "{id}  killed (error: {at}: {msg})")?,
            Fate::Survived => write!(f, "{id}  survived")?,
        }
        match (&self.mutant.equivalent, self.fate.killed()) {
            (Some(why), false) => write!(f, " (equivalent: {why})")?,
            (Some(_), true) => write!(f, " (listed as equivalent, but killed: it is not)")?,
            _ => {}
        }
        write!(f, "  [{} cells, {:.0} s]", self.cells, self.seconds)
    }
}

/// `e` on one line, shortened.
fn one_line(e: &dyn fmt::Display) -> String {
    let s = e
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    if s.chars().count() > 300 {
        format!("{}...", s.chars().take(300).collect::<String>())
    } else {
        s
    }
}

/// Where a run of mutants gets its RTL and puts its copies.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The repository (its `rtl/` is copied).
    pub repo: PathBuf,
    /// Where the copies go (`<cache>/mutants`).
    pub work: PathBuf,
    /// Build cache of the mutants' designs.
    pub rtl: RtlOptions,
}

impl Setup {
    /// The repository `repo`, the copies and builds in the runtime cache (`cache`, else
    /// [`crate::rtl::default_cache_dir`]).
    pub fn new(repo: &Path, cache: Option<PathBuf>) -> Self {
        let root = cache.clone().unwrap_or_else(crate::rtl::default_cache_dir);
        Setup {
            repo: repo.to_path_buf(),
            work: root.join("mutants"),
            rtl: RtlOptions { cache_dir: cache },
        }
    }
}

/// Runs mutant `m` against `plan`: builds its copy (the cache may have it), then runs the
/// cells of the plan in order, stopping at the first that differs from its golden cell or at
/// the first error. A panic of the harness on the mutant's outputs counts as an error.
pub fn run_mutant(
    m: &Mutant,
    setup: &Setup,
    plan: &[ScenarioPlan],
) -> Result<Outcome, MutantError> {
    let start = Instant::now();
    let list = prepare(m, &setup.repo, &setup.work)?;
    let done = |fate: Fate, cells: usize| Outcome {
        mutant: m.clone(),
        fate,
        cells,
        seconds: start.elapsed().as_secs_f64(),
    };
    let built = UserRtl::from_filelist(&list, "avic_top", &setup.rtl)
        .and_then(|u| u.load(Flavor::Plain).map(|_| u));
    let design: Arc<UserRtl> = match built {
        Ok(u) => u,
        Err(e) => {
            return Ok(done(
                Fate::Error {
                    at: "build".into(),
                    msg: one_line(&e),
                },
                0,
            ))
        }
    };
    let mut n = 0;
    for sp in plan {
        let mut base = sp.file.scenario.clone();
        base.rtl = Rtl::User(design.clone());
        let search = Search::of_file(&sp.file);
        for (hw, kvm, expected) in &sp.cells {
            n += 1;
            let at = || format!("{} {}/{}", sp.name, hw.name, kvm.name);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                report::run_cell(&base, hw, kvm, &search)
            }));
            let cell = match r {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    return Ok(done(
                        Fate::Error {
                            at: at(),
                            msg: one_line(&e),
                        },
                        n,
                    ))
                }
                Err(p) => {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "unknown payload".into());
                    return Ok(done(
                        Fate::Error {
                            at: at(),
                            msg: format!("the harness panicked: {}", one_line(&msg)),
                        },
                        n,
                    ));
                }
            };
            let actual = GoldenCell::of(&cell, search.bound);
            if &actual != expected {
                return Ok(done(
                    Fate::Killed {
                        scenario: sp.name.clone(),
                        expected: expected.clone(),
                        actual,
                    },
                    n,
                ));
            }
        }
    }
    Ok(done(Fate::Survived, n))
}

/// The score of a set of outcomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Score {
    /// Mutants not listed as equivalent that were killed.
    pub killed: usize,
    /// Mutants not listed as equivalent.
    pub total: usize,
    /// Mutants listed as equivalent.
    pub equivalent: usize,
    /// Of those, killed (wrongly listed).
    pub equivalent_killed: usize,
    /// Killed mutants whose first differing cell flipped its verdict (or that failed with an
    /// error); the others changed which violation a violated cell found first.
    pub flipped: usize,
}

impl Score {
    /// The score of `outs`.
    pub fn of(outs: &[Outcome]) -> Self {
        let eq = |o: &&Outcome| o.mutant.equivalent.is_some();
        Score {
            killed: outs.iter().filter(|o| !eq(o) && o.fate.killed()).count(),
            total: outs.iter().filter(|o| !eq(o)).count(),
            equivalent: outs.iter().filter(eq).count(),
            equivalent_killed: outs.iter().filter(|o| eq(o) && o.fate.killed()).count(),
            flipped: outs.iter().filter(|o| !eq(o) && o.fate.flipped()).count(),
        }
    }

    /// Every mutant killed, every equivalent one survived.
    pub fn perfect(&self) -> bool {
        self.killed == self.total && self.equivalent_killed == 0
    }

    /// `score: K/N killed (E equivalent, argued in LIST) in T s`.
    pub fn line(&self, list: &Path, seconds: f64) -> String {
        let wrong = if self.equivalent_killed > 0 {
            format!(", {} of them killed", self.equivalent_killed)
        } else {
            String::new()
        };
        format!(
            "score: {}/{} killed ({} equivalent{wrong}, argued in {}) in {seconds:.0} s; {} of the \
             kills flipped a verdict or failed with an error at the first differing cell, the \
             others changed which violation an already violated cell found first",
            self.killed,
            self.total,
            self.equivalent,
            list.display(),
            self.flipped
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"
[[mutant]]
id = "a"
file = "rtl/avic_top.sv"
find = "doorbell_in = sw_doorbell_i;"
replace = "doorbell_in = '0;"
what = "x"
covers = "doorbell-routing"
quick = true

[[mutant]]
id = "b"
file = "rtl/avic_top.sv"
find = "avic_pkg::NumPorts"
replace = "3"
what = "y"
covers = "eoi"
equivalent = "identity"
"#;

    fn repo() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn lists_parse_and_ids_are_unique() {
        let l = parse_list(LIST, "l.toml").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].covers, Class::DoorbellRouting);
        assert!(l[0].quick && !l[1].quick);
        assert_eq!(l[1].equivalent.as_deref(), Some("identity"));
        let twice = LIST.replace("id = \"b\"", "id = \"a\"");
        let e = parse_list(&twice, "l.toml").unwrap_err();
        assert!(e.to_string().contains("`a` given twice"), "{e}");
        let e = parse_list(&LIST.replace("eoi", "eio"), "l.toml").unwrap_err();
        assert!(e.to_string().starts_with("l.toml: "), "{e}");
        assert_eq!(select(&l, &["b".into()]).unwrap()[0].id, "b");
        assert!(select(&l, &["c".into()]).is_err());
    }

    #[test]
    fn find_must_occur_exactly_once() {
        let l = parse_list(LIST, "l.toml").unwrap();
        let t = apply(&l[0], repo()).unwrap();
        assert!(t.contains("doorbell_in = '0;") && !t.contains("doorbell_in = sw_doorbell_i;"));
        let e = apply(&l[1], repo()).unwrap_err();
        assert!(
            matches!(&e, MutantError::Find { id, count, .. } if id == "b" && *count > 1),
            "{e}"
        );
        assert!(e.to_string().starts_with("mutant b: `find` occurs"), "{e}");
        let gone = Mutant {
            find: "no such text".into(),
            ..l[0].clone()
        };
        assert!(matches!(
            apply(&gone, repo()),
            Err(MutantError::Find { count: 0, .. })
        ));
        let elsewhere = Mutant {
            file: "tb/rtl/reordered_top.sv".into(),
            ..l[0].clone()
        };
        assert!(matches!(
            apply(&elsewhere, repo()),
            Err(MutantError::Mutant { .. })
        ));
    }

    #[test]
    fn copies_are_named_by_content() {
        let l = parse_list(LIST, "l.toml").unwrap();
        let work = tempfile::tempdir().unwrap();
        let a = prepare(&l[0], repo(), work.path()).unwrap();
        assert_eq!(prepare(&l[0], repo(), work.path()).unwrap(), a);
        let top = std::fs::read_to_string(a.parent().unwrap().join("rtl/avic_top.sv")).unwrap();
        assert!(top.contains("doorbell_in = '0;"));
        let f = std::fs::read_to_string(&a).unwrap();
        assert!(f.contains("rtl/avic_pkg.sv"), "{f}");
        let other = Mutant {
            replace: "doorbell_in = sw_doorbell_i | '0;".into(),
            ..l[0].clone()
        };
        assert_ne!(prepare(&other, repo(), work.path()).unwrap(), a);
    }
}
