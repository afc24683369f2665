//! `avic-cosim minimize`: shrinks a replay file's schedule (fewer deviations and cycles, same
//! violation); never grows it.

use crate::args::{CellSelect, RtlArgs};
use crate::common::{bar, drawing, trimmed, RUNS_BAR};
use crate::{EXIT_NOT_REPRODUCED, EXIT_SIM_ERROR, EXIT_USAGE};
use avic_cosim::explore;
use avic_cosim::report::{self, Replay};
use avic_cosim::rtl::Flavor;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct MinimizeArgs {
    /// A replay file.
    file: PathBuf,
    /// Where the minimized replay goes (default: over FILE).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Minimize on this hardware / KVM instead of the recorded one (the output records it).
    #[command(flatten)]
    cell: CellSelect,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    rtl: RtlArgs,
}

/// Exit 0 when written, 3 when the file does not reproduce its violation.
pub fn run(a: MinimizeArgs) -> ExitCode {
    let name = a.file.display().to_string();
    let mut r = match crate::replay::read("minimize", &a.file) {
        Ok(r) => r,
        Err(code) => return code,
    };
    a.cell.apply_replay(&mut r);
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
    let ranks = trimmed(min.ranks());
    println!(
        "{name}: {} deviations in {} choices -> {} deviations in {} choices, {} cycles",
        devs(&r.ranks),
        r.ranks.len(),
        devs(&ranks),
        ranks.len(),
        min.cycles
    );
    let out = a.out.unwrap_or(a.file);
    // A format 1 file comes out as format 2, with the scenario's hash.
    let scenario_sha256 = r
        .scenario_sha256
        .clone()
        .or_else(|| report::scenario_sha256(&r.scenario));
    let text = Replay {
        ranks,
        scenario_sha256,
        ..r
    }
    .render();
    if let Err(e) = std::fs::write(&out, text) {
        eprintln!("avic-cosim minimize: --out {}: {e}", out.display());
        return ExitCode::from(EXIT_USAGE);
    }
    println!("written: {}", out.display());
    ExitCode::SUCCESS
}
