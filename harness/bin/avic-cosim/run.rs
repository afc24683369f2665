//! `avic-cosim run`: one run of one cell (named on the first line: scenario, hardware, KVM,
//! schedule), its verdict and last events, optionally a waveform.

use crate::args::{parse_wave, CellSelect, RtlArgs, ScenarioArgs};
use crate::common::{print_tail, run_maybe_traced, verdict_exit, wave_flavors};
use crate::EXIT_SIM_ERROR;
use avic_cosim::explore::Search;
use avic_cosim::report::{hw_variant_of, kvm_row_of};
use avic_cosim::sched::Schedule;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    #[command(flatten)]
    cell: CellSelect,
    /// PCT seed of the schedule (default: the default order, no random choice).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Write a waveform (.vcd or .fst) and its .gtkw.
    #[arg(long, value_name = "FILE.vcd|FILE.fst", value_parser = parse_wave)]
    wave: Option<String>,
    #[command(flatten)]
    rtl: RtlArgs,
}

/// One run: exit 0 when every invariant holds, 1 otherwise.
pub fn run(a: RunArgs) -> ExitCode {
    let f = match a.scenario.load("run") {
        Ok(f) => f,
        Err(code) => return code,
    };
    let mut sc = f.scenario.clone();
    a.cell.apply(&mut sc);
    match a.rtl.load("run", &wave_flavors(a.wave.is_some())) {
        Ok(rtl) => sc.rtl = rtl,
        Err(code) => return code,
    }
    let sched = match a.seed {
        Some(seed) => Schedule {
            prefix: Vec::new(),
            policy: Search::of_file(&f).pct(seed),
        },
        None => Schedule::continuing(),
    };
    println!(
        "run: scenario {}, hw {}, kvm {}, {}",
        a.scenario.spec(),
        hw_variant_of(sc.hw).name,
        kvm_row_of(sc.kvm.variant, sc.kvm.knobs).name,
        a.seed.map_or_else(
            || "the default order".to_string(),
            |s| format!("PCT seed {s}")
        )
    );
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
