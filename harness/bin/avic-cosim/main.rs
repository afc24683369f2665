//! avic-cosim command-line tool.
//!
//! - `avic-cosim demo [--hw NAME] [--wave FILE.vcd|FILE.fst]` (also with no command): the
//!   bundled default scenario, one guest IPI from vCPU 0 to a running vCPU 1 and one to a
//!   not-running vCPU 2, on the Verilated RTL; prints the port transactions, the RTL events
//!   and the decoded exit information.
//! - `avic-cosim matrix [SCENARIO|--scenario NAME|FILE.toml] [--hw LIST] [--kvm LIST] [--bound N]
//!   [--seeds N] [--max-runs N] [--jobs N] [--json PATH] [--junit PATH] [--golden PATH] [--replay-dir DIR]
//!   [--no-wave] [--shard I/N]`:
//!   the verdict matrix, hardware variants x KVM variants on a bundled scenario (default
//!   `seed`) or a scenario file, each cell searched by PCT then by a bounded exhaustive search
//!   (seeds and bound default to the scenario's `[explore]`); a replay file per violation.
//!   A waveform (`.fst` + `.gtkw`) is written beside every replay file (`--no-wave`: none).
//! - `avic-cosim run [SCENARIO|--scenario S] [--hw H] [--kvm K] [--seed N] [--wave FILE]`: one run
//!   (PCT schedule of seed N, or the default order), its verdict and last events.
//! - `avic-cosim explore [SCENARIO|--scenario S] [--hw H] [--kvm K] [--seeds N] [--bound N]
//!   [--shard I/N] [--dpor] [--max-runs N]`: one cell's search: PCT seeds, then the bounded exhaustive search; with
//!   `--shard` only this job's share (seeds and subtrees `k % N == I`). A violation is minimized
//!   and written as a replay file and a waveform into `--replay-dir`. `--dpor`: the DPOR search
//!   ([`avic_cosim::dpor`], within the same bound) instead of the enumeration, up to `--max-runs`.
//! - `avic-cosim replay FILE [--hw H] [--kvm K] [--wave FILE]`: reruns a replay file's schedule and checks that it
//!   reproduces the recorded violation.
//! - `avic-cosim minimize FILE [--hw H] [--kvm K] [--out FILE]`: shrinks a replay file's schedule (fewer
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
//! `--kvm` takes a generation or row with `+KNOB` parts everywhere (`V4+no-wake-up-mb`,
//! [`avic_cosim::scenario::variants`]); on `replay` and `minimize`, `--hw` / `--kvm` replace
//! the recorded configuration.
//!
//! One file per command; `args.rs` defines the argument groups every command flattens in,
//! `common.rs` what several commands share.
//!
//! Exit codes: `matrix`, `run` and `explore` 0 when every invariant holds, 1 when one is violated;
//! `minimize` 0 when written; `replay` 1 when the recorded violation is reproduced, 3 when it is
//! not (the run holds or breaks something else); 2 for usage and input errors (bad flag or value,
//! unknown variant, malformed replay file, unwritable report, RTL that does not build); 4 when the
//! simulation itself fails; `demo` 0, or 1 when the simulation fails.

mod args;
mod common;
mod demo;
mod explore;
mod matrix;
mod minimize;
mod mutants;
mod replay;
mod run;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit code of usage and input errors.
pub const EXIT_USAGE: u8 = 2;
/// Exit code of `replay` when the recorded violation does not reproduce.
pub const EXIT_NOT_REPRODUCED: u8 = 3;
/// Exit code when the simulation fails (no verdict).
pub const EXIT_SIM_ERROR: u8 = 4;

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
    Demo(demo::DemoArgs),
    /// The verdict matrix: hardware variants x KVM variants on a bundled scenario.
    Matrix(matrix::MatrixArgs),
    /// One run of one cell: verdict, last events, optional waveform.
    Run(run::RunArgs),
    /// One cell's search (PCT, then bounded exhaustive), optionally one shard of it.
    Explore(explore::ExploreArgs),
    /// Replays a replay file written by `matrix` or `explore` and checks its violation.
    Replay(replay::ReplayArgs),
    /// Shrinks a replay file's schedule, keeping its violation.
    Minimize(minimize::MinimizeArgs),
    /// The mutation score: single-point edits of the bundled RTL against the golden matrices.
    Mutants(mutants::MutantsArgs),
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
        None => demo::run(demo::DemoArgs::default()),
        Some(Cmd::Demo(a)) => demo::run(a),
        Some(Cmd::Matrix(a)) => matrix::run(a),
        Some(Cmd::Replay(a)) => replay::run(a),
        Some(Cmd::Run(a)) => run::run(a),
        Some(Cmd::Explore(a)) => explore::run(a),
        Some(Cmd::Minimize(a)) => minimize::run(a),
        Some(Cmd::Mutants(a)) => mutants::run(a),
    }
}
