//! What several commands share: progress bars, traced runs, coverage builds, verdict output.

use crate::EXIT_USAGE;
use avic_cosim::explore;
use avic_cosim::rtl::{Coverage, Flavor, Rtl, RtlOptions, UserRtl};
use avic_cosim::scenario::Scenario;
use avic_cosim::sched::Schedule;
use avic_cosim::sim::{Outcome, Verdict};
use avic_cosim::wave;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// Log events `run` and `replay` print.
const TAIL: usize = 30;

/// Template of a bar counting schedules.
pub const RUNS_BAR: &str = "{spinner} {prefix} {pos} schedules ({per_sec}) {elapsed}";

/// Whether progress bars are drawn: stderr is a terminal and `--quiet` was not given.
pub fn drawing(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A bar of `len` steps (a counting spinner when `None`), hidden unless `draw`.
pub fn bar(draw: bool, len: Option<u64>, template: &str) -> ProgressBar {
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

/// Runs `sched` on `sc`, through [`wave::record`] when a waveform is asked for.
pub fn run_maybe_traced(
    sc: &Scenario,
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
pub fn coverage_of(cmd: &str, rtl: &Rtl) -> Result<Arc<Coverage>, ExitCode> {
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
pub fn write_coverage(cmd: &str, cov: &Coverage, path: &Path) -> Result<(), ExitCode> {
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
pub fn wave_flavors(wave: bool) -> Vec<Flavor> {
    if wave {
        vec![Flavor::Plain, Flavor::Vcd]
    } else {
        vec![Flavor::Plain]
    }
}

/// Prints the last events of `out`.
pub fn print_tail(out: &Outcome) {
    let skip = out.log.len().saturating_sub(TAIL);
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

/// Prints the verdict; exit 0 when every invariant holds, else 1.
pub fn verdict_exit(v: &Verdict) -> ExitCode {
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

/// `ranks` without trailing default choices (a replay continues in the default order).
pub fn trimmed(mut ranks: Vec<u16>) -> Vec<u16> {
    while ranks.last() == Some(&0) {
        ranks.pop();
    }
    ranks
}
