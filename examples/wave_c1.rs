//! Writes the waveform of the seed's lost wake-up (C1: hardware that reads IsRunning while its
//! IRR update is in flight) for `make wave-check`: `cargo run --release --example wave_c1 --
//! target/wave/c1.vcd` writes the trace, `c1.gtkw` and the translate filters beside it.
//!
//! The schedule is found and minimized by the search `explore` runs ([`Search`]).

use avic_cosim::explore::Search;
use avic_cosim::ffi::HwConfig;
use avic_cosim::kvm::KvmVariant;
use avic_cosim::oracle::Invariant;
use avic_cosim::scenario::Scenario;
use avic_cosim::sched::Schedule;
use avic_cosim::wave;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let path = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/wave/c1.vcd".into()),
    );
    let sc = Scenario::seed(
        KvmVariant::V3,
        HwConfig {
            isrun_order: 1,
            ..avic_cosim::scenario::apm()
        },
    );
    let ranks = match Search::default().seeds(2000).run(&sc) {
        Ok(r) => match r.violation {
            Some(out) if out.violation().map(|v| v.invariant) == Some(Invariant::LostWakeup) => {
                out.ranks()
            }
            _ => {
                eprintln!("wave_c1: no lost wake-up found");
                return ExitCode::FAILURE;
            }
        },
        Err(e) => {
            eprintln!("wave_c1: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("wave_c1: {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    match wave::record(&sc, &Schedule::replay(&ranks), &path) {
        Ok((out, files)) => {
            match out.violation() {
                Some(v) => println!("{v}"),
                None => println!("{:?}", out.verdict),
            }
            println!("trace {}", files.trace.display());
            println!("gtkw  {}", files.gtkw.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wave_c1: {e}");
            ExitCode::FAILURE
        }
    }
}
