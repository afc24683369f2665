//! `avic-cosim replay`: reruns a replay file's schedule and checks that it reproduces the
//! recorded violation.

use crate::args::{parse_wave, CellSelect, RtlArgs};
use crate::common::{print_tail, run_maybe_traced, wave_flavors};
use crate::{EXIT_NOT_REPRODUCED, EXIT_SIM_ERROR, EXIT_USAGE};
use avic_cosim::report::Replay;
use avic_cosim::sched::Schedule;
use avic_cosim::sim::Verdict;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// A replay file (format 2, or the `avic-cosim-replay 1` format).
    file: PathBuf,
    /// Replay the recorded schedule on this hardware / KVM instead of the recorded one (does
    /// the counterexample survive a fix?).
    #[command(flatten)]
    cell: CellSelect,
    /// Write the run's waveform (.vcd or .fst) and its .gtkw.
    #[arg(long, value_name = "FILE.vcd|FILE.fst", value_parser = parse_wave)]
    wave: Option<String>,
    #[command(flatten)]
    rtl: RtlArgs,
}

/// Reads and parses replay file `path`; prints the error as `avic-cosim CMD: ...`.
pub fn read(cmd: &str, path: &Path) -> Result<Replay, ExitCode> {
    let name = path.display().to_string();
    std::fs::read_to_string(path)
        .map_err(|e| format!("{name}: {e}"))
        .and_then(|t| Replay::parse(&name, &t).map_err(|e| e.to_string()))
        .map_err(|e| {
            eprintln!("avic-cosim {cmd}: {e}");
            ExitCode::from(EXIT_USAGE)
        })
}

/// Exit 1 when the recorded violation is reproduced, 3 when it is not.
pub fn run(a: ReplayArgs) -> ExitCode {
    let name = a.file.display().to_string();
    let mut r = match read("replay", &a.file) {
        Ok(r) => r,
        Err(code) => return code,
    };
    a.cell.apply_replay(&mut r);
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
