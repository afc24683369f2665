//! Argument groups, each defined once and flattened into the commands that take it
//! (`#[command(flatten)]`): scenario selection, hardware / KVM selection (one cell, or lists
//! for the matrix), search budget, output paths, RTL.

use crate::EXIT_USAGE;
use avic_cosim::explore::{Search, Shard, Strategy};
use avic_cosim::report::{self, HwVariant, KvmRow, Replay};
use avic_cosim::rtl::{Flavor, Rtl, RtlOptions, UserRtl};
use avic_cosim::scenario::ScenarioFile;
use std::path::PathBuf;
use std::process::ExitCode;

/// Which scenario: positional or `--scenario`.
#[derive(clap::Args, Debug, Clone)]
pub struct ScenarioArgs {
    /// Bundled scenario (every file of scenarios/ by its name: seed, broadcast-mixed, ...;
    /// docs/scenarios.md) or a scenario file [default: seed].
    #[arg(value_name = "SCENARIO", value_parser = parse_scenario, conflicts_with = "scenario")]
    positional: Option<String>,
    /// The same, as a flag.
    #[arg(long, value_name = "NAME|FILE.toml", value_parser = parse_scenario)]
    scenario: Option<String>,
}

impl ScenarioArgs {
    /// The scenario spec given, `seed` when none was.
    pub fn spec(&self) -> &str {
        self.positional
            .as_deref()
            .or(self.scenario.as_deref())
            .unwrap_or("seed")
    }

    /// The scenario file; a scenario that does not load is a usage error of `cmd`.
    pub fn load(&self, cmd: &str) -> Result<ScenarioFile, ExitCode> {
        report::load_scenario(self.spec()).map_err(|e| {
            eprintln!("avic-cosim {cmd}: --scenario: {e}");
            ExitCode::from(EXIT_USAGE)
        })
    }
}

/// One cell's hardware and KVM, each defaulting to what the scenario (or replay file) says.
#[derive(clap::Args, Debug, Clone)]
pub struct CellSelect {
    /// Hardware variant (default: the scenario's or the replay file's).
    #[arg(long, value_name = "NAME", value_parser = parse_hw)]
    pub hw: Option<HwVariant>,
    /// KVM generation or row, with `+KNOB` parts: `V4`, `V4-no-block-fences`,
    /// `V4+no-wake-up-mb` (default: the scenario's or the replay file's).
    #[arg(long, value_name = "NAME[+KNOB...]", value_parser = parse_kvm)]
    pub kvm: Option<KvmRow>,
}

impl CellSelect {
    /// `sc` with `--hw` and `--kvm` applied.
    pub fn apply(&self, sc: &mut avic_cosim::scenario::Scenario) {
        if let Some(h) = self.hw {
            sc.hw = h.cfg;
        }
        if let Some(k) = self.kvm {
            sc.kvm.variant = k.variant;
            sc.kvm.knobs = k.knobs;
        }
    }

    /// `r` with `--hw` and `--kvm` applied.
    pub fn apply_replay(&self, r: &mut Replay) {
        if let Some(h) = self.hw {
            r.hw = h;
        }
        if let Some(k) = self.kvm {
            r.kvm = k;
        }
    }
}

/// The matrix's rows and columns.
#[derive(clap::Args, Debug, Clone)]
pub struct MatrixSelect {
    /// Hardware variants, comma-separated (default: all).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_hw)]
    pub hw: Vec<HwVariant>,
    /// KVM rows, comma-separated (default: all); each a generation or row with `+KNOB` parts
    /// (`V4+no-wake-up-mb`).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_kvm)]
    pub kvm: Vec<KvmRow>,
}

/// How much to search.
#[derive(clap::Args, Debug, Clone)]
pub struct SearchArgs {
    /// PCT seeds tried first (default: the scenario's `[explore] seeds`).
    #[arg(long, value_name = "N")]
    pub seeds: Option<u64>,
    /// Deviation bound of the exhaustive search run when PCT finds nothing (default: the
    /// scenario's `[explore] bound`).
    #[arg(long, value_name = "N")]
    pub bound: Option<u32>,
    /// Most schedules of the exhaustive search, per cell (beyond: partial) [default: 1000000;
    /// AVIC_COSIM_MAX_RUNS].
    #[arg(long, value_name = "N")]
    pub max_runs: Option<u64>,
    /// This job's share, `I/N`: the matrix's cells k % N == I (hardware-major order); explore's
    /// PCT seeds and exhaustive subtrees k % N == I.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// After PCT, search with DPOR within the bound instead of enumerating every schedule
    /// within it (same verdicts; counts the alternatives pruned).
    #[arg(long)]
    pub dpor: bool,
}

impl SearchArgs {
    /// The search these flags ask for on `f`: the scenario's `[explore]` values, then the
    /// environment's overrides ([`Search::with_env`]), then the flags. `from_reset` asks for
    /// [`Strategy::EnumerateFromReset`] (explore's `--no-branching`). A malformed environment
    /// variable is a usage error of `cmd`.
    pub fn search(
        &self,
        cmd: &str,
        f: &ScenarioFile,
        from_reset: bool,
    ) -> Result<Search, ExitCode> {
        let mut s = Search::of_file(f).with_env().map_err(|e| {
            eprintln!("avic-cosim {cmd}: {e}");
            ExitCode::from(EXIT_USAGE)
        })?;
        if let Some(n) = self.seeds {
            s.seeds = n;
        }
        if let Some(b) = self.bound {
            s.bound = b;
        }
        if let Some(m) = self.max_runs {
            s.max_runs = m;
        }
        s.shard = self.shard.unwrap_or(Shard::WHOLE);
        s.strategy = match (self.dpor, from_reset) {
            (true, _) => Strategy::Dpor,
            (false, true) => Strategy::EnumerateFromReset,
            (false, false) => Strategy::Enumerate,
        };
        Ok(s)
    }
}

/// Where results go.
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// Where the (minimized) replay files and waveforms of violations go.
    #[arg(long, value_name = "DIR", default_value = "out/replays")]
    pub replay_dir: PathBuf,
    /// Write the results as JSON.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// RTL coverage of the runs.
#[derive(clap::Args, Debug, Clone)]
pub struct CoverageArgs {
    /// Run on a coverage build of the RTL and write its line, toggle and branch coverage,
    /// merged over every run, as lcov (and the merged coverage.dat beside it as PATH.dat).
    #[arg(long, value_name = "PATH.info")]
    pub coverage: Option<PathBuf>,
}

/// Bring your own RTL: the design the runs simulate instead of the bundled `rtl/`.
#[derive(clap::Args, Debug, Clone)]
pub struct RtlArgs {
    /// Your implementation of the port contract (docs/port-contract.md): a Verilator file
    /// list (sources relative to it, +incdir+, +define+, -y, -v, -f). Verilated and compiled on
    /// first use, then taken from the cache ($AVIC_COSIM_CACHE, else ~/.cache/avic-cosim).
    #[arg(long, value_name = "FILELIST.f", requires = "top")]
    pub rtl: Option<PathBuf>,
    /// Top module of `--rtl`.
    #[arg(long, value_name = "NAME", requires = "rtl")]
    pub top: Option<String>,
}

impl RtlArgs {
    /// These flags, or when none were given, the user RTL a replay file recorded.
    pub fn or_recorded(&self, r: &Replay) -> RtlArgs {
        match (&self.rtl, &r.rtl) {
            (None, Some((top, list))) => RtlArgs {
                rtl: Some(list.clone()),
                top: Some(top.clone()),
            },
            _ => self.clone(),
        }
    }

    /// The RTL to run: bundled, or the user's with the builds in `flavors` ready (built or
    /// taken from the cache now, so that a design that does not build is an input error).
    pub fn load(&self, cmd: &str, flavors: &[Flavor]) -> Result<Rtl, ExitCode> {
        let (Some(f), Some(top)) = (&self.rtl, &self.top) else {
            return Ok(Rtl::Bundled);
        };
        let fail = |e: &dyn std::fmt::Display| {
            eprintln!("avic-cosim {cmd}: --rtl: {e}");
            ExitCode::from(EXIT_USAGE)
        };
        let u = UserRtl::from_filelist(f, top, &RtlOptions::default()).map_err(|e| fail(&e))?;
        for &fl in flavors {
            let lib = u.load(fl).map_err(|e| fail(&e))?;
            let i = lib.info();
            let how = if i.cache_hit {
                format!("cache hit ({:.2} s)", i.seconds)
            } else {
                format!("built in {:.1} s", i.seconds)
            };
            println!(
                "rtl: top {top} from {} ({fl:?} build): {how}: {}",
                f.display(),
                i.so.display()
            );
        }
        Ok(Rtl::User(u))
    }
}

/// `--wave`: a waveform file name.
pub fn parse_wave(v: &str) -> Result<String, String> {
    if v.ends_with(".vcd") || v.ends_with(".fst") {
        Ok(v.to_string())
    } else {
        Err(format!("{v}: the name must end in .vcd or .fst"))
    }
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
}

/// `--hw`: a hardware variant of the registry.
pub fn parse_hw(s: &str) -> Result<HwVariant, String> {
    report::parse_hw(s)
}

/// `--kvm`: a generation or row with `+KNOB` parts.
fn parse_kvm(s: &str) -> Result<KvmRow, String> {
    report::parse_kvm(s)
}

/// Checks that the scenario loads; the command loads it again (keeps the arguments small).
fn parse_scenario(s: &str) -> Result<String, String> {
    report::load_scenario(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}
