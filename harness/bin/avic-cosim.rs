//! avic-cosim command-line tool.
//!
//! - `avic-cosim demo [--hw NAME] [--wave FILE.vcd|FILE.fst]` (also with no command): the
//!   bundled default scenario, one guest IPI from vCPU 0 to a running vCPU 1 and one to a
//!   not-running vCPU 2, on the Verilated RTL; prints the port transactions, the RTL events
//!   and the decoded exit information.
//! - `avic-cosim matrix [--scenario NAME|FILE.toml] [--hw LIST] [--kvm LIST] [--bound N]
//!   [--seeds N] [--max-runs N] [--jobs N] [--json PATH] [--junit PATH] [--golden PATH] [--replay-dir DIR]
//!   [--no-wave] [--shard I/N]`:
//!   the verdict matrix, hardware variants x KVM variants on a bundled scenario (default
//!   `seed`) or a scenario file, each cell searched by PCT then by a bounded exhaustive search
//!   (seeds and bound default to the scenario's `[explore]`); a replay file per violation.
//!   A waveform (`.fst` + `.gtkw`) is written beside every replay file (`--no-wave`: none).
//! - `avic-cosim run [--scenario S] [--hw H] [--kvm K] [--seed N] [--wave FILE]`: one run
//!   (PCT schedule of seed N, or the default order), its verdict and last events.
//! - `avic-cosim explore [--scenario S] [--hw H] [--kvm K] [--seeds N] [--bound N]
//!   [--shard I/N] [--dpor] [--max-runs N]`: one cell's search: PCT seeds, then the bounded exhaustive search; with
//!   `--shard` only this job's share (seeds and subtrees `k % N == I`). A violation is minimized
//!   and written as a replay file and a waveform into `--replay-dir`. `--dpor`: the DPOR search
//!   ([`avic_cosim::dpor`], within the same bound) instead of the enumeration, up to `--max-runs`.
//! - `avic-cosim replay FILE [--wave FILE]`: reruns a replay file's schedule and checks that it
//!   reproduces the recorded violation.
//! - `avic-cosim minimize FILE [--out FILE]`: shrinks a replay file's schedule (fewer
//!   deviations and cycles, same violation); never grows it.
//! - `avic-cosim mutants [--list FILE] [--only ID,...] [--quick] [--golden-dir DIR]
//!   [--scenarios DIR] [--jobs N]`: the mutation score ([`avic_cosim::mutants`]); exit 0 when
//!   every mutant is killed and every one listed as equivalent survives, 1 otherwise.
//!
//! `matrix`, `explore` and `minimize` draw progress bars on stderr when it is a terminal
//! (`--quiet`: never); stdout, the reports and the results are the same either way.
//! `explore` prints the ordering coverage of its runs ([`avic_cosim::coverage`]), `matrix`
//! with `--ordering`; both write it into `--json`.
//!
//! - `matrix`, `run`, `explore`, `replay` and `minimize` take `--rtl FILELIST.f --top NAME`: run
//!   a user's implementation of the port contract instead of the bundled RTL
//!   (`avic_cosim::rtl`); `explore` and `matrix` take `--coverage PATH.info`: RTL coverage of
//!   every run, merged, as lcov.
//!
//! Exit codes: `matrix`, `run` and `explore` 0 when every invariant holds, 1 when one is violated;
//! `minimize` 0 when written; `replay` 1 when the recorded violation is reproduced, 3 when it is
//! not (the run holds or breaks something else); 2 for usage and input errors (bad flag or value,
//! unknown variant, malformed replay file, unwritable report, RTL that does not build); 4 when the
//! simulation itself fails; `demo` 0, or 1 when the simulation fails.

use avic_cosim::apic::{Cause, ExitInfo, Icr, PhysEntry, VmLayout};
use avic_cosim::dut::{Dut, DutEvent};
use avic_cosim::explore::{self, Shard};
use avic_cosim::ffi::{HwConfig, ModelKind};
use avic_cosim::golden;
use avic_cosim::mem::Memory;
use avic_cosim::report::{self, Budget, HwVariant, KvmRow, Replay};
use avic_cosim::rtl::{Coverage, Flavor, Rtl, RtlOptions, UserRtl};
use avic_cosim::scenario::ScenarioFile;
use avic_cosim::wave;
use avic_cosim::world::{Outcome, Policy, Schedule, Verdict};
use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

mod mutants_cli;

/// Exit code of usage and input errors.
const EXIT_USAGE: u8 = 2;
/// Exit code of `replay` when the recorded violation does not reproduce.
const EXIT_NOT_REPRODUCED: u8 = 3;
/// Exit code when the simulation fails (no verdict).
const EXIT_SIM_ERROR: u8 = 4;
/// Log events `replay` prints.
const REPLAY_TAIL: usize = 30;

/// Co-simulation of AMD AVIC IPI hardware (Verilated RTL) against KVM's handler paths.
#[derive(Parser, Debug)]
#[command(name = "avic-cosim", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Two guest IPIs on the RTL (the default command): transactions, events, exit info.
    Demo(DemoArgs),
    /// The verdict matrix: hardware variants x KVM variants on a bundled scenario.
    Matrix(MatrixArgs),
    /// One run of one cell: verdict, last events, optional waveform.
    Run(RunArgs),
    /// One cell's search (PCT, then bounded exhaustive), optionally one shard of it.
    Explore(ExploreArgs),
    /// Replays a replay file written by `matrix` and checks its violation.
    Replay(ReplayArgs),
    /// Shrinks a replay file's schedule, keeping its violation.
    Minimize(MinimizeArgs),
    /// The mutation score: single-point edits of the bundled RTL against the golden matrices.
    Mutants(mutants_cli::MutantsArgs),
}

/// Bring your own RTL: the design the runs simulate instead of the bundled `rtl/`.
#[derive(clap::Args, Debug, Clone)]
struct RtlArgs {
    /// Your implementation of the port contract (docs/port-contract.md): a Verilator file
    /// list (sources relative to it, +incdir+, +define+, -y, -v, -f). Verilated and compiled on
    /// first use, then taken from the cache ($AVIC_COSIM_CACHE, else ~/.cache/avic-cosim).
    #[arg(long, value_name = "FILELIST.f", requires = "top")]
    rtl: Option<PathBuf>,
    /// Top module of `--rtl`.
    #[arg(long, value_name = "NAME", requires = "rtl")]
    top: Option<String>,
}

impl RtlArgs {
    /// These flags, or when none were given, the user RTL a replay file recorded.
    fn or_recorded(&self, r: &Replay) -> RtlArgs {
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
    fn load(&self, cmd: &str, flavors: &[Flavor]) -> Result<Rtl, ExitCode> {
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

/// The cell a `run` or `explore` works on.
#[derive(clap::Args, Debug)]
struct CellArgs {
    /// Bundled scenario or scenario file.
    #[arg(long, value_name = "NAME|FILE.toml", default_value = "seed", value_parser = parse_scenario)]
    scenario: String,
    /// Hardware variant (default: the scenario's).
    #[arg(long, value_name = "NAME", value_parser = parse_hw)]
    hw: Option<HwVariant>,
    /// KVM variant or barrier ablation (default: the scenario's).
    #[arg(long, value_name = "NAME", value_parser = parse_kvm)]
    kvm: Option<KvmRow>,
    #[command(flatten)]
    rtl: RtlArgs,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    cell: CellArgs,
    /// PCT seed of the schedule (default: the default order, no random choice).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Write a waveform (.vcd or .fst) and its .gtkw.
    #[arg(long, value_name = "FILE.vcd|FILE.fst", value_parser = parse_wave)]
    wave: Option<String>,
}

#[derive(clap::Args, Debug)]
struct ExploreArgs {
    #[command(flatten)]
    cell: CellArgs,
    /// PCT seeds (default: the scenario's `[explore] seeds`).
    #[arg(long, value_name = "N")]
    seeds: Option<u64>,
    /// Deviation bound of the exhaustive search (default: the scenario's).
    #[arg(long, value_name = "N")]
    bound: Option<u32>,
    /// Most exhaustive schedules.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    max_runs: u64,
    /// This job's share of the search, `I/N`.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<Shard>,
    /// After PCT, run the DPOR search (within `--bound`) instead of the bounded enumeration,
    /// up to `--max-runs` schedules.
    #[arg(long)]
    dpor: bool,
    /// Re-simulate every exhaustive schedule from reset instead of resuming it from a snapshot
    /// of the RTL and world where it leaves the previous one (same results, slower; the
    /// search of a user's RTL or a coverage build always re-simulates).
    #[arg(long, conflicts_with = "dpor")]
    no_branching: bool,
    /// Where a violation's minimized replay file and waveform go.
    #[arg(long, value_name = "DIR", default_value = "out/replays")]
    replay_dir: PathBuf,
    /// Write the search's summary and ordering coverage as JSON.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
    /// Run on a coverage build of the RTL and write its line, toggle and branch coverage,
    /// merged over every run, as lcov (and the merged coverage.dat beside it as PATH.dat).
    #[arg(long, value_name = "PATH.info")]
    coverage: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct MinimizeArgs {
    /// A replay file.
    file: PathBuf,
    /// Where the minimized replay goes (default: over FILE).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    rtl: RtlArgs,
}

#[derive(clap::Args, Debug)]
struct DemoArgs {
    /// Hardware variant: apm, split-irr, in-flight, isrun-first, stale, per-dest,
    /// latch-doorbell.
    #[arg(long, value_name = "NAME", default_value = "apm", value_parser = parse_hw)]
    hw: HwVariant,
    /// Write a waveform (.vcd or .fst).
    #[arg(long, value_name = "FILE.vcd|FILE.fst", value_parser = parse_wave)]
    wave: Option<String>,
}

#[derive(clap::Args, Debug)]
struct MatrixArgs {
    /// Bundled scenario (every file of scenarios/ by its name: seed, broadcast-mixed, ...;
    /// docs/scenarios.md) or a scenario file.
    #[arg(long, value_name = "NAME|FILE.toml", default_value = "seed", value_parser = parse_scenario)]
    scenario: String,
    /// Hardware variants, comma-separated (default: all).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_hw)]
    hw: Vec<HwVariant>,
    /// KVM variants and barrier ablations, comma-separated (default: all).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_kvm)]
    kvm: Vec<KvmRow>,
    /// Deviation bound of the exhaustive search run when PCT finds nothing (default: the
    /// scenario's `[explore] bound`).
    #[arg(long, value_name = "N")]
    bound: Option<u32>,
    /// PCT seeds tried first in each cell (default: the scenario's `[explore] seeds`).
    #[arg(long, value_name = "N")]
    seeds: Option<u64>,
    /// Most schedules of the exhaustive search per cell (beyond: partial).
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    max_runs: u64,
    /// Threads the searches use (default: available cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Write every cell as JSON.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write JUnit XML (one testcase per cell).
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Write the golden rendering (one line per cell: verdict, invariant, vCPU, vector, what
    /// was searched; no times or counts), as `make golden` keeps it in `tb/golden/NAME.matrix`.
    #[arg(long, value_name = "PATH")]
    golden: Option<PathBuf>,
    /// Where the replay files of violations go.
    #[arg(long, value_name = "DIR", default_value = "out/replays")]
    replay_dir: PathBuf,
    /// Do not write a waveform beside each replay file.
    #[arg(long)]
    no_wave: bool,
    /// Only this job's cells, `I/N` (cell k in hardware-major order is shard k % N's).
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Also print each cell's ordering coverage (which orders of the protocol's conflicting
    /// accesses the search observed; always in --json).
    #[arg(long)]
    ordering: bool,
    /// After PCT, search each cell with DPOR within the bound instead of enumerating every
    /// schedule within it (same verdicts; the table counts the alternatives pruned).
    #[arg(long)]
    dpor: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    rtl: RtlArgs,
    /// Run on a coverage build of the RTL and write its line, toggle and branch coverage,
    /// merged over every run of every cell, as lcov (and coverage.dat beside it as PATH.dat).
    #[arg(long, value_name = "PATH.info")]
    coverage: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct ReplayArgs {
    /// A replay file (`avic-cosim-replay 1` format).
    file: PathBuf,
    /// Write the run's waveform (.vcd or .fst) and its .gtkw.
    #[arg(long, value_name = "FILE.vcd|FILE.fst", value_parser = parse_wave)]
    wave: Option<String>,
    #[command(flatten)]
    rtl: RtlArgs,
}

/// Whether progress bars are drawn: stderr is a terminal and `--quiet` was not given.
fn drawing(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A bar of `len` steps (a counting spinner when `None`), hidden unless `draw`.
fn bar(draw: bool, len: Option<u64>, template: &str) -> ProgressBar {
    if !draw {
        return ProgressBar::hidden();
    }
    let b = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        b.set_style(style);
    }
    b
}

const RUNS_BAR: &str = "{spinner} {prefix} {pos} schedules ({per_sec}) {elapsed}";
const SEEDS_BAR: &str = "{prefix} [{bar:30}] {pos}/{len} PCT seeds ({per_sec}) {elapsed}";

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
}

fn parse_hw(s: &str) -> Result<HwVariant, String> {
    report::hw_variant(s).ok_or_else(|| {
        format!(
            "unknown hardware variant `{s}` (known: {})",
            report::hw_names()
        )
    })
}

fn parse_kvm(s: &str) -> Result<KvmRow, String> {
    report::kvm_row(s)
        .ok_or_else(|| format!("unknown KVM variant `{s}` (known: {})", report::kvm_names()))
}

/// Checks that the scenario loads; `run_matrix` loads it again (keeps the arguments small).
fn parse_scenario(s: &str) -> Result<String, String> {
    report::load_scenario(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

fn parse_wave(v: &str) -> Result<String, String> {
    if v.ends_with(".vcd") || v.ends_with(".fst") {
        Ok(v.to_string())
    } else {
        Err(format!("{v}: the name must end in .vcd or .fst"))
    }
}

struct Args {
    hw: HwConfig,
    hw_name: String,
    wave: Option<String>,
}

fn demo(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let l = VmLayout::default();
    let mut mem = Memory::new(l.mem_size(4), 4);
    for id in 0..4u8 {
        let running = id != 2;
        let e = PhysEntry {
            valid: true,
            is_running: running,
            backing: l.backing(id),
            host_id: id.into(),
        };
        mem.poke(l.phys_entry(id), e.encode())?;
    }
    let kind = match args.wave.as_deref() {
        Some(w) if w.ends_with(".fst") => ModelKind::Fst,
        Some(_) => ModelKind::Vcd,
        None => ModelKind::Plain,
    };
    let mut dut = Dut::new(kind, args.hw, mem)?;
    if let Some(w) = &args.wave {
        dut.open_trace(w)?;
    }
    dut.inp.phys_base = l.phys_table;
    dut.inp.phys_max_idx = 3;
    dut.inp.log_base = l.log_table;
    for c in 0..4 {
        let ci = dut.core(c);
        ci.backing = l.backing(c as u8);
        ci.self_idx = c as u8;
        ci.guest_mode = c != 2;
        ci.intr_ready = true;
    }
    println!(
        "avic-cosim demo: hardware variant `{}` ({:?})",
        args.hw_name, args.hw
    );
    println!("vCPU i runs on core i (host APIC ID i); vCPU 2 is not running\n");
    for (vector, dest) in [(0x41u8, 1u8), (0x42, 2)] {
        let icr = Icr::fixed_physical(vector, dest);
        println!(
            "guest on core 0 writes ICR = {:#010x}:{:#010x} (vector {vector:#x} -> APIC ID {dest})",
            icr.hi(),
            icr.lo()
        );
        dut.clear_logs();
        dut.write_icr(0, icr.lo(), icr.hi());
        dut.run_until_quiet(1000)?;
        dut.run(4)?;
        for t in dut.txns() {
            println!("  {t}");
        }
        for e in dut.events() {
            match *e {
                DutEvent::Exit {
                    cycle,
                    code,
                    info1,
                    info2,
                    ..
                } => {
                    let x = ExitInfo::decode(info1, info2);
                    let cause = x.cause().map(Cause::linux_name).unwrap_or("unknown");
                    println!(
                        "  cycle {cycle:4}  #VMEXIT {code:#x}  EXITINFO1={info1:#018x} EXITINFO2={info2:#018x}  ({cause}, index {})",
                        x.index
                    );
                }
                DutEvent::Doorbell {
                    cycle,
                    core,
                    host_id,
                } => {
                    println!("  cycle {cycle:4}  core {core} rings the doorbell of host APIC ID {host_id}")
                }
                DutEvent::DoorbellDropped { cycle, core } => {
                    println!("  cycle {cycle:4}  core {core} drops a doorbell (host mode)")
                }
                DutEvent::Interrupt {
                    cycle,
                    core,
                    vector,
                } => {
                    println!("  cycle {cycle:4}  guest on core {core} takes vector {vector:#x}")
                }
            }
        }
        println!();
    }
    if let Some(w) = &args.wave {
        dut.close_trace();
        println!("waveform: {w}");
    }
    Ok(())
}

fn run_demo(a: DemoArgs) -> ExitCode {
    let args = Args {
        hw: a.hw.cfg,
        hw_name: a.hw.name.to_string(),
        wave: a.wave,
    };
    match demo(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("avic-cosim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dedup<T: PartialEq + Copy>(items: &[T], all: &[T]) -> Vec<T> {
    let src = if items.is_empty() { all } else { items };
    let mut out: Vec<T> = Vec::with_capacity(src.len());
    for &x in src {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn run_matrix(a: MatrixArgs) -> ExitCode {
    let spec = &a.scenario;
    let mut file: ScenarioFile = match report::load_scenario(spec) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("avic-cosim matrix: --scenario: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match a.rtl.load("matrix", &[Flavor::Plain]) {
        Ok(rtl) => file.scenario.rtl = rtl,
        Err(code) => return code,
    }
    let cov = match &a.coverage {
        None => None,
        Some(_) => match coverage_of("matrix", &file.scenario.rtl) {
            Ok(c) => {
                file.scenario.rtl = Rtl::Coverage(c.clone());
                Some(c)
            }
            Err(code) => return code,
        },
    };
    let hws = dedup(&a.hw, &report::hw_variants());
    let kvms = dedup(&a.kvm, &report::KVM_ROWS);
    let of_file = Budget::of(&file);
    let budget = Budget {
        seeds: a.seeds.unwrap_or(of_file.seeds),
        bound: a.bound.unwrap_or(of_file.bound),
        max_runs: a.max_runs,
        dpor: a.dpor,
        ..of_file
    };
    if let Some(j) = a.jobs {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(j))
            .build_global()
        {
            eprintln!("avic-cosim matrix: --jobs {j}: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let draw = drawing(a.quiet);
    let multi = MultiProgress::new();
    let cells_bar = bar(
        draw,
        Some(0),
        "matrix [{bar:30}] {pos}/{len} cells, now {msg} {elapsed}",
    );
    let runs_bar = bar(draw, None, RUNS_BAR);
    if draw {
        let cb = multi.add(cells_bar.clone());
        let rb = multi.add(runs_bar.clone());
        drop((cb, rb));
    }
    let result = report::run_matrix_observed(
        spec,
        &file.scenario,
        &hws,
        &kvms,
        &budget,
        a.shard.unwrap_or(Shard::WHOLE),
        &cells_bar,
        &runs_bar,
    );
    runs_bar.finish_and_clear();
    cells_bar.finish_and_clear();
    let mut m = match result {
        Ok(m) => m,
        Err(e) => {
            eprintln!("avic-cosim matrix: simulation failed: {e}");
            return ExitCode::from(EXIT_SIM_ERROR);
        }
    };
    if let Err(e) = report::write_replays(&mut m, &file.scenario, &a.replay_dir) {
        eprintln!(
            "avic-cosim matrix: --replay-dir {}: {e}",
            a.replay_dir.display()
        );
        return ExitCode::from(EXIT_USAGE);
    }
    print!("{}", report::table(&m));
    if a.ordering {
        print!("{}", report::ordering_tables(&m));
    }
    if m.violations() > 0 {
        println!("replay files: {}", a.replay_dir.display());
        if !a.no_wave {
            for c in &m.cells {
                let (Some(path), Some(r)) =
                    (&c.replay, Replay::of_cell(&m.scenario, &file.scenario, c))
                else {
                    continue;
                };
                let trace = Path::new(path).with_extension("fst");
                if let Err(e) = wave::record(&r.scenario(), &Schedule::replay(&r.ranks), &trace) {
                    eprintln!("avic-cosim matrix: waveform {}: {e}", trace.display());
                    return ExitCode::from(EXIT_SIM_ERROR);
                }
            }
            println!(
                "waveforms beside them: gtkwave {dir}/NAME.fst {dir}/NAME.gtkw",
                dir = a.replay_dir.display()
            );
        }
    }
    for (flag, path, text) in [
        (
            "--json",
            &a.json,
            report::to_json as fn(&report::Matrix) -> String,
        ),
        ("--junit", &a.junit, report::to_junit),
        ("--golden", &a.golden, render_golden),
    ] {
        if let Some(p) = path {
            if let Err(e) = std::fs::write(p, text(&m)) {
                eprintln!("avic-cosim matrix: {flag} {}: {e}", p.display());
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    if let (Some(c), Some(p)) = (&cov, &a.coverage) {
        if let Err(code) = write_coverage("matrix", c, p) {
            return code;
        }
    }
    // Exit 0 only when every cell holds: a partial cell is no pass.
    if m.violations() > 0 || m.partial() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The golden rendering of `m`, named by the scenario's file stem (`scenarios/seed.toml` and
/// `seed` are both `seed`).
fn render_golden(m: &report::Matrix) -> String {
    let name = Path::new(&m.scenario)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(&m.scenario);
    golden::render(name, m)
}

fn run_replay(a: ReplayArgs) -> ExitCode {
    let name = a.file.display().to_string();
    let text = match std::fs::read_to_string(&a.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("avic-cosim replay: {name}: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut r = match Replay::parse(&name, &text) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("avic-cosim replay: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match a
        .rtl
        .or_recorded(&r)
        .load("replay", &wave_flavors(a.wave.is_some()))
    {
        Ok(rtl) => r.base.rtl = rtl,
        Err(code) => return code,
    }
    println!(
        "replay {name}: scenario {}, hw {}, kvm {}, {} recorded choices",
        r.scenario,
        r.hw.name,
        r.kvm.name,
        r.ranks.len()
    );
    println!("expect: {}", r.expect);
    let sched = Schedule::replay(&r.ranks);
    let out = match run_maybe_traced(&r.scenario(), &sched, a.wave.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("avic-cosim replay: {e}");
            return ExitCode::from(EXIT_SIM_ERROR);
        }
    };
    print_tail(&out);
    match &out.verdict {
        Verdict::Violated(v) if r.expect.matches(v) => {
            println!("{v}");
            println!("reproduced: {}", r.expect);
            ExitCode::FAILURE
        }
        other => {
            let got = match other {
                Verdict::Violated(v) => format!("a different violation: {v}"),
                Verdict::Holds => "every invariant holds".to_string(),
                Verdict::Bound => "the run reached the cycle limit without a verdict".to_string(),
            };
            println!("NOT REPRODUCED: expected {}; {got}", r.expect);
            ExitCode::from(EXIT_NOT_REPRODUCED)
        }
    }
}

fn main() -> ExitCode {
    // Output piped into `head` and closed early: end quietly as other Unix tools do, instead of
    // panicking in `println!` on EPIPE.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.cmd {
        None => run_demo(DemoArgs {
            hw: report::hw_variants()[0],
            wave: None,
        }),
        Some(Cmd::Demo(a)) => run_demo(a),
        Some(Cmd::Matrix(a)) => run_matrix(a),
        Some(Cmd::Replay(a)) => run_replay(a),
        Some(Cmd::Run(a)) => run_one(a),
        Some(Cmd::Explore(a)) => run_explore(a),
        Some(Cmd::Minimize(a)) => run_minimize(a),
        Some(Cmd::Mutants(a)) => mutants_cli::run(a),
    }
}

/// Runs `sched` on `sc`, through [`wave::record`] when a waveform is asked for.
fn run_maybe_traced(
    sc: &avic_cosim::world::Scenario,
    sched: &Schedule,
    wave_path: Option<&str>,
) -> Result<Outcome, String> {
    match wave_path {
        None => explore::run(sc, sched).map_err(|e| format!("simulation failed: {e}")),
        Some(p) => {
            if let Some(dir) = Path::new(p).parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| format!("--wave {p}: {e}"))?;
            }
            let (out, files) = wave::record(sc, sched, Path::new(p)).map_err(|e| e.to_string())?;
            let at = files
                .violation_time
                .map(|t| format!(", violation at time {t}"))
                .unwrap_or_default();
            println!(
                "waveform: gtkwave {} {}{at}",
                files.trace.display(),
                files.gtkw.display()
            );
            Ok(out)
        }
    }
}

/// `--coverage`: the coverage build of the design `rtl` names (the bundled RTL's when none).
fn coverage_of(cmd: &str, rtl: &Rtl) -> Result<Arc<Coverage>, ExitCode> {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("avic-cosim {cmd}: --coverage: {e}");
        ExitCode::from(EXIT_USAGE)
    };
    let design = match rtl {
        Rtl::User(u) => u.clone(),
        Rtl::Coverage(c) => c.rtl().clone(),
        Rtl::Bundled => UserRtl::bundled(&RtlOptions::default()).map_err(|e| fail(&e))?,
    };
    let cov = Coverage::new(design).map_err(|e| fail(&e))?;
    let i = cov.build_info();
    println!(
        "coverage build of top {}: {}",
        cov.rtl().top(),
        if i.cache_hit {
            format!("cache hit ({:.2} s)", i.seconds)
        } else {
            format!("built in {:.1} s", i.seconds)
        }
    );
    Ok(cov)
}

/// Writes `--coverage PATH.info` and prints the summary.
fn write_coverage(cmd: &str, cov: &Coverage, path: &Path) -> Result<(), ExitCode> {
    match cov.write_info(path) {
        Ok(s) => {
            print!("{s}");
            println!(
                "coverage: {} (lcov), {} (Verilator)",
                path.display(),
                s.dat.display()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("avic-cosim {cmd}: --coverage: {e}");
            Err(ExitCode::from(EXIT_USAGE))
        }
    }
}

/// The builds of a user's RTL a command needs up front: plain, and the traced one
/// `wave::record` uses when a waveform is asked for.
fn wave_flavors(wave: bool) -> Vec<Flavor> {
    if wave {
        vec![Flavor::Plain, Flavor::Vcd]
    } else {
        vec![Flavor::Plain]
    }
}

/// The scenario file and the cell's scenario with `--hw` / `--kvm` applied.
fn cell(c: &CellArgs) -> Result<(ScenarioFile, avic_cosim::world::Scenario), String> {
    let f = report::load_scenario(&c.scenario).map_err(|e| format!("--scenario: {e}"))?;
    let mut sc = f.scenario.clone();
    if let Some(h) = c.hw {
        sc.hw = h.cfg;
    }
    if let Some(k) = c.kvm {
        sc.kvm.variant = k.variant;
        sc.kvm.knobs = k.knobs;
    }
    Ok((f, sc))
}

fn print_tail(out: &Outcome) {
    let skip = out.log.len().saturating_sub(REPLAY_TAIL);
    println!(
        "last {} of {} events ({} cycles):",
        out.log.len() - skip,
        out.log.len(),
        out.cycles
    );
    for e in &out.log[skip..] {
        println!("  {e}");
    }
}

/// `", N runs cut at the cycle limit"` when there are any: such a search is partial.
fn cut_note(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} runs cut at the cycle limit (unfair schedules: they show nothing)")
    }
}

fn verdict_exit(v: &Verdict) -> ExitCode {
    match v {
        Verdict::Holds => {
            println!("verdict: every invariant holds");
            ExitCode::SUCCESS
        }
        Verdict::Violated(v) => {
            println!("verdict: {v}");
            ExitCode::FAILURE
        }
        Verdict::Bound => {
            println!("verdict: cut at max_cycles without quiescence under an unfair schedule (an action stayed enabled through the last quarter of the run without being taken): shows nothing");
            ExitCode::FAILURE
        }
    }
}

fn run_one(a: RunArgs) -> ExitCode {
    let (_, mut sc) = match cell(&a.cell) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("avic-cosim run: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match a.cell.rtl.load("run", &wave_flavors(a.wave.is_some())) {
        Ok(rtl) => sc.rtl = rtl,
        Err(code) => return code,
    }
    let sched = match a.seed {
        Some(seed) => Schedule {
            prefix: Vec::new(),
            policy: Policy::Pct {
                seed,
                depth: 3,
                steps: 100,
            },
        },
        None => Schedule::continuing(),
    };
    match run_maybe_traced(&sc, &sched, a.wave.as_deref()) {
        Ok(out) => {
            print_tail(&out);
            verdict_exit(&out.verdict)
        }
        Err(e) => {
            eprintln!("avic-cosim run: {e}");
            ExitCode::from(EXIT_SIM_ERROR)
        }
    }
}

fn run_explore(a: ExploreArgs) -> ExitCode {
    let (mut f, mut sc) = match cell(&a.cell) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("avic-cosim explore: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match a.cell.rtl.load("explore", &[Flavor::Plain]) {
        Ok(rtl) => {
            f.scenario.rtl = rtl.clone();
            sc.rtl = rtl;
        }
        Err(code) => return code,
    }
    let cov = match &a.coverage {
        None => None,
        Some(_) => match coverage_of("explore", &sc.rtl) {
            Ok(c) => {
                f.scenario.rtl = Rtl::Coverage(c.clone());
                sc.rtl = Rtl::Coverage(c.clone());
                Some(c)
            }
            Err(code) => return code,
        },
    };
    let shard = a.shard.unwrap_or(Shard::WHOLE);
    let seeds = a.seeds.unwrap_or(f.seeds);
    let bound = a.bound.unwrap_or(f.bound);
    let t = std::time::Instant::now();
    let draw = drawing(a.quiet);
    // PCT seeds of this shard: seed k is the shard's when k % count == index.
    let mine = |k: u64| k * u64::from(shard.count) + u64::from(shard.index);
    let owned =
        (seeds + u64::from(shard.count) - 1 - u64::from(shard.index)) / u64::from(shard.count);
    let seeds_bar = bar(draw, Some(owned), SEEDS_BAR);
    seeds_bar.set_prefix("explore");
    let found = explore::search_observed(
        &sc,
        owned,
        |k| Policy::Pct {
            seed: mine(k),
            depth: 3,
            steps: 100,
        },
        &seeds_bar,
    );
    seeds_bar.finish_and_clear();
    let (runs, complete, violation, orders) = match found {
        Err(e) => {
            eprintln!("avic-cosim explore: simulation failed: {e}");
            return ExitCode::from(EXIT_SIM_ERROR);
        }
        Ok((Some((k, out)), orders)) => {
            println!("PCT seed {} violates", mine(k));
            (k + 1, false, Some(out), orders)
        }
        Ok((None, pct_orders)) => {
            let runs_bar = bar(draw, None, RUNS_BAR);
            let done = |c: bool| if c { "complete" } else { "partial" };
            // (report line, runs, complete, violation, ordering coverage)
            let r = if a.dpor {
                runs_bar.set_prefix(format!("explore: DPOR, bound {bound}:"));
                explore::dpor_observed(&sc, Some(bound), a.max_runs, shard, &runs_bar).map(|r| {
                    let line = format!(
                        "DPOR (bound {bound}, shard {shard}): {} schedules, {} subtrees, {} \
                         backtrack points, {} races, {} alternatives pruned, {} past the bound, {}",
                        r.runs,
                        r.subtrees,
                        r.backtracks,
                        r.races,
                        r.pruned,
                        r.beyond_bound,
                        done(r.complete && r.bounded == 0)
                    ) + &cut_note(r.bounded);
                    (line, r.runs, r.complete, r.violation, r.orders)
                })
            } else {
                runs_bar.set_prefix(format!("explore: bounded exhaustive, bound {bound}:"));
                let revisit = if a.no_branching {
                    explore::Revisit::Replay
                } else {
                    explore::Revisit::Branch
                };
                explore::bounded_exhaustive_revisit(
                    &sc, bound, a.max_runs, shard, &runs_bar, revisit,
                )
                .map(|r| {
                    let line = format!(
                        "bounded exhaustive (bound {bound}, shard {shard}): {} schedules, {} \
                             subtrees, {}{}",
                        r.runs,
                        r.subtrees,
                        done(r.complete && r.bounded == 0),
                        cut_note(r.bounded)
                    );
                    (line, r.runs, r.complete, r.violation, r.orders)
                })
            };
            runs_bar.finish_and_clear();
            match r {
                Err(e) => {
                    eprintln!("avic-cosim explore: simulation failed: {e}");
                    return ExitCode::from(EXIT_SIM_ERROR);
                }
                Ok((line, n, complete, violation, orders)) => {
                    println!("{line}");
                    (owned + n, complete, violation, pct_orders | orders)
                }
            }
        }
    };
    println!(
        "explored {runs} schedules in {:.1} s (shard {shard}, {} PCT seeds)",
        t.elapsed().as_secs_f64(),
        owned
    );
    println!(
        "ordering coverage: {} of {} orders reached (A before B: A's write was globally visible \
         before B read memory; docs/coverage.md)",
        orders.reached(),
        2 * avic_cosim::coverage::PAIRS.len()
    );
    print!("{}", orders.table("  "));
    if let Some(p) = &a.json {
        let verdict = match violation.as_ref().and_then(|o| o.violation()) {
            Some(v) => format!(
                "{{\"invariant\": {}, \"vcpu\": {}, \"vector\": {}}}",
                report::json_str(v.invariant.name()),
                v.vcpu,
                v.vector
            ),
            None => "null".to_string(),
        };
        let doc = format!(
            "{{\n  \"format\": \"avic-cosim-explore\",\n  \"version\": 1,\n  \"scenario\": {},\n  \
             \"shard\": \"{shard}\",\n  \"pct_seeds\": {owned},\n  \"bound\": {bound},\n  \
             \"schedules\": {runs},\n  \"complete\": {complete},\n  \"violation\": {verdict},\n  \
             \"ordering\": {},\n  \"ordering_unreached\": [{}]\n}}\n",
            report::json_str(&a.cell.scenario),
            orders.to_json(),
            report::unreached_json(orders)
        );
        if let Err(e) = std::fs::write(p, doc) {
            eprintln!("avic-cosim explore: --json {}: {e}", p.display());
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let saved = match &violation {
        Some(out) => save_counterexample(&a.cell.scenario, &f, &sc, out, &a.replay_dir),
        None => Ok(()),
    };
    if let Err(e) = saved {
        eprintln!("avic-cosim explore: {e}");
        return ExitCode::from(EXIT_SIM_ERROR);
    }
    if let (Some(c), Some(p)) = (&cov, &a.coverage) {
        if let Err(code) = write_coverage("explore", c, p) {
            return code;
        }
    }
    match violation {
        Some(out) => verdict_exit(&out.verdict),
        None if complete => verdict_exit(&Verdict::Holds),
        None => {
            println!("verdict: no violation found, search partial");
            ExitCode::SUCCESS
        }
    }
}

fn run_minimize(a: MinimizeArgs) -> ExitCode {
    let name = a.file.display().to_string();
    let mut r = match std::fs::read_to_string(&a.file)
        .map_err(|e| format!("{name}: {e}"))
        .and_then(|t| Replay::parse(&name, &t).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("avic-cosim minimize: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match a.rtl.or_recorded(&r).load("minimize", &[Flavor::Plain]) {
        Ok(rtl) => r.base.rtl = rtl,
        Err(code) => return code,
    }
    let devs = |r: &[u16]| r.iter().filter(|&&x| x != 0).count();
    let min_bar = bar(drawing(a.quiet), None, RUNS_BAR);
    min_bar.set_prefix("minimize:");
    let min = explore::minimize_observed(&r.scenario(), &r.ranks, r.expect.invariant, &min_bar);
    min_bar.finish_and_clear();
    let min = match min {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("NOT REPRODUCED: {name} does not violate {}", r.expect);
            return ExitCode::from(EXIT_NOT_REPRODUCED);
        }
        Err(e) => {
            eprintln!("avic-cosim minimize: simulation failed: {e}");
            return ExitCode::from(EXIT_SIM_ERROR);
        }
    };
    let mut ranks = min.ranks();
    while ranks.last() == Some(&0) {
        ranks.pop();
    }
    println!(
        "{name}: {} deviations in {} choices -> {} deviations in {} choices, {} cycles",
        devs(&r.ranks),
        r.ranks.len(),
        devs(&ranks),
        ranks.len(),
        min.cycles
    );
    let out = a.out.unwrap_or(a.file);
    let text = Replay { ranks, ..r }.render();
    if let Err(e) = std::fs::write(&out, text) {
        eprintln!("avic-cosim minimize: --out {}: {e}", out.display());
        return ExitCode::from(EXIT_USAGE);
    }
    println!("written: {}", out.display());
    ExitCode::SUCCESS
}

/// Minimizes a violating run of `sc`, writes its replay file (when the cell's hardware and KVM
/// are named variants) and its waveform into `dir`.
fn save_counterexample(
    spec: &str,
    f: &ScenarioFile,
    sc: &avic_cosim::world::Scenario,
    out: &Outcome,
    dir: &Path,
) -> Result<(), String> {
    let Some(v) = out.violation() else {
        return Ok(());
    };
    let min = explore::minimize(sc, &out.ranks(), v.invariant)
        .map_err(|e| format!("minimizing: {e}"))?
        .unwrap_or_else(|| out.clone());
    std::fs::create_dir_all(dir).map_err(|e| format!("--replay-dir {}: {e}", dir.display()))?;
    let hw = report::hw_variants().into_iter().find(|h| h.cfg == sc.hw);
    let kvm = report::KVM_ROWS
        .into_iter()
        .find(|k| k.variant == sc.kvm.variant && k.knobs == sc.kvm.knobs);
    let hw_name = hw.map(|h| h.name).unwrap_or("custom");
    let kvm_name = kvm.map(|k| k.name).unwrap_or("custom");
    let stem = dir.join(format!("{}-{hw_name}-{kvm_name}", f.name));
    let mut ranks = min.ranks();
    while ranks.last() == Some(&0) {
        ranks.pop();
    }
    if let (Some(hw), Some(kvm), Some(mv)) = (hw, kvm, min.violation()) {
        let r = Replay {
            scenario: spec.to_string(),
            base: f.scenario.clone(),
            hw,
            kvm,
            ranks: ranks.clone(),
            expect: report::Expect {
                invariant: mv.invariant,
                vcpu: mv.vcpu,
                vector: mv.vector,
            },
            rtl: report::user_rtl_of(&f.scenario),
        };
        let path = stem.with_extension("replay");
        std::fs::write(&path, r.render()).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("replay file: {}", path.display());
    }
    let trace = stem.with_extension("fst");
    let (_, files) =
        wave::record(sc, &Schedule::replay(&ranks), &trace).map_err(|e| e.to_string())?;
    println!(
        "waveform: gtkwave {} {}",
        files.trace.display(),
        files.gtkw.display()
    );
    Ok(())
}
