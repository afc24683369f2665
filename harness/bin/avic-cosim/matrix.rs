//! `avic-cosim matrix`: hardware variants x KVM rows on a scenario, each cell searched (PCT,
//! then the bounded exhaustive search or DPOR), with reports, replay files and waveforms.

use crate::args::{CoverageArgs, MatrixSelect, OutputArgs, RtlArgs, ScenarioArgs, SearchArgs};
use crate::common::{bar, coverage_of, drawing, write_coverage, RUNS_BAR};
use crate::{EXIT_SIM_ERROR, EXIT_USAGE};
use avic_cosim::golden;
use avic_cosim::report::{self, Replay};
use avic_cosim::rtl::{Flavor, Rtl};
use avic_cosim::sched::Schedule;
use avic_cosim::wave;
use indicatif::MultiProgress;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct MatrixArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    #[command(flatten)]
    select: MatrixSelect,
    #[command(flatten)]
    search: SearchArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// Threads the searches use (default: available cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Write JUnit XML (one testcase per cell).
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Write the golden rendering (one line per cell: verdict, invariant, vCPU, vector, what
    /// was searched; no times or counts), as `make golden` keeps it in `tb/golden/NAME.matrix`.
    #[arg(long, value_name = "PATH")]
    golden: Option<PathBuf>,
    /// Do not write a waveform beside each replay file.
    #[arg(long)]
    no_wave: bool,
    /// Also print each cell's ordering coverage (which orders of the protocol's conflicting
    /// accesses the search observed; always in --json).
    #[arg(long)]
    ordering: bool,
    #[command(flatten)]
    rtl: RtlArgs,
    #[command(flatten)]
    coverage: CoverageArgs,
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

/// Runs the matrix: exit 0 when every cell holds, 1 when one is violated or partial.
pub fn run(a: MatrixArgs) -> ExitCode {
    let spec = a.scenario.spec();
    let mut file = match a.scenario.load("matrix") {
        Ok(f) => f,
        Err(code) => return code,
    };
    match a.rtl.load("matrix", &[Flavor::Plain]) {
        Ok(rtl) => file.scenario.rtl = rtl,
        Err(code) => return code,
    }
    let cov = match &a.coverage.coverage {
        None => None,
        Some(_) => match coverage_of("matrix", &file.scenario.rtl) {
            Ok(c) => {
                file.scenario.rtl = Rtl::Coverage(c.clone());
                Some(c)
            }
            Err(code) => return code,
        },
    };
    let hws = dedup(&a.select.hw, &report::hw_variants());
    let kvms = dedup(&a.select.kvm, &report::KVM_ROWS);
    let search = match a.search.search("matrix", &file, false) {
        Ok(s) => s,
        Err(code) => return code,
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
    let draw = drawing(a.out.quiet);
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
    let search = search.progress(runs_bar.clone());
    let result = report::run_matrix(spec, &file.scenario, &hws, &kvms, &search, &cells_bar);
    runs_bar.finish_and_clear();
    cells_bar.finish_and_clear();
    let mut m = match result {
        Ok(m) => m,
        Err(e) => {
            eprintln!("avic-cosim matrix: simulation failed: {e}");
            return ExitCode::from(EXIT_SIM_ERROR);
        }
    };
    let dir = &a.out.replay_dir;
    if let Err(e) = report::write_replays(&mut m, &file.scenario, dir) {
        eprintln!("avic-cosim matrix: --replay-dir {}: {e}", dir.display());
        return ExitCode::from(EXIT_USAGE);
    }
    print!("{}", report::table(&m));
    if a.ordering {
        print!("{}", report::ordering_tables(&m));
    }
    if m.violations() > 0 {
        println!("replay files: {}", dir.display());
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
                dir = dir.display()
            );
        }
    }
    for (flag, path, text) in [
        (
            "--json",
            &a.out.json,
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
    if let (Some(c), Some(p)) = (&cov, &a.coverage.coverage) {
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
