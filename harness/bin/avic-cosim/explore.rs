//! `avic-cosim explore`: one cell's search (PCT seeds, then the bounded exhaustive search or
//! DPOR), optionally one shard of it; a violation is minimized and saved as a replay file and
//! a waveform.

use crate::args::{CellSelect, CoverageArgs, OutputArgs, RtlArgs, ScenarioArgs, SearchArgs};
use crate::common::{bar, coverage_of, drawing, trimmed, verdict_exit, write_coverage, RUNS_BAR};
use crate::{EXIT_SIM_ERROR, EXIT_USAGE};
use avic_cosim::explore::FoundBy;
use avic_cosim::report::{self, Replay};
use avic_cosim::rtl::{Flavor, Rtl};
use avic_cosim::scenario::Scenario;
use avic_cosim::scenario::ScenarioFile;
use avic_cosim::sched::Schedule;
use avic_cosim::sim::{Outcome, Verdict};
use avic_cosim::wave;
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ExploreArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    #[command(flatten)]
    cell: CellSelect,
    #[command(flatten)]
    search: SearchArgs,
    /// Re-simulate every exhaustive schedule from reset instead of resuming it from a snapshot
    /// of the RTL and world where it leaves the previous one (same results, slower; the
    /// search of a user's RTL or a coverage build always re-simulates).
    #[arg(long, conflicts_with = "dpor")]
    no_branching: bool,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    rtl: RtlArgs,
    #[command(flatten)]
    coverage: CoverageArgs,
}

/// `", N runs cut at the cycle limit"` when there are any: such a search is partial.
fn cut_note(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} runs cut at the cycle limit (unfair schedules: they show nothing)")
    }
}

/// The search: exit 0 when nothing is violated, 1 when something is.
pub fn run(a: ExploreArgs) -> ExitCode {
    let spec = a.scenario.spec();
    let mut f = match a.scenario.load("explore") {
        Ok(f) => f,
        Err(code) => return code,
    };
    let mut sc = f.scenario.clone();
    a.cell.apply(&mut sc);
    match a.rtl.load("explore", &[Flavor::Plain]) {
        Ok(rtl) => {
            f.scenario.rtl = rtl.clone();
            sc.rtl = rtl;
        }
        Err(code) => return code,
    }
    let cov = match &a.coverage.coverage {
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
    let search = match a.search.search("explore", &f, a.no_branching) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (shard, bound) = (search.shard, search.bound);
    let t = std::time::Instant::now();
    let draw = drawing(a.out.quiet);
    let runs_bar = bar(draw, None, RUNS_BAR);
    runs_bar.set_prefix(format!("explore (shard {shard}, bound {bound}):"));
    let result = search.clone().progress(runs_bar.clone()).run(&sc);
    runs_bar.finish_and_clear();
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("avic-cosim explore: simulation failed: {e}");
            return ExitCode::from(EXIT_SIM_ERROR);
        }
    };
    if let Some(FoundBy::Pct(seed)) = r.found_by {
        println!("PCT seed {seed} violates");
    }
    let done = |c: bool| if c { "complete" } else { "partial" };
    if let Some(d) = &r.dpor {
        println!(
            "DPOR (bound {bound}, shard {shard}): {} schedules, {} subtrees, {} backtrack points, \
             {} races, {} alternatives pruned, {} past the bound, {}{}",
            d.runs,
            d.subtrees,
            d.backtracks,
            d.races,
            d.pruned,
            d.beyond_bound,
            done(d.complete && d.bounded == 0),
            cut_note(d.bounded)
        );
    }
    if let Some(e) = &r.exhaustive {
        println!(
            "bounded exhaustive (bound {bound}, shard {shard}): {} schedules, {} subtrees, {}{}",
            e.runs,
            e.subtrees,
            done(e.complete && e.bounded == 0),
            cut_note(e.bounded)
        );
    }
    let complete = r.complete();
    let runs = r.pct_runs
        + r.exhaustive.as_ref().map_or(0, |e| e.runs)
        + r.dpor.as_ref().map_or(0, |d| d.runs);
    let (owned, orders, violation) = (search.pct_seeds(), r.orders, r.violation);
    println!(
        "explored {runs} schedules in {:.1} s (shard {shard}, {owned} PCT seeds)",
        t.elapsed().as_secs_f64(),
    );
    println!(
        "ordering coverage: {} of {} orders reached (A before B: A's write was globally visible \
         before B read memory; docs/coverage.md)",
        orders.reached(),
        2 * avic_cosim::coverage::PAIRS.len()
    );
    print!("{}", orders.table("  "));
    if let Some(p) = &a.out.json {
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
            report::json_str(spec),
            orders.to_json(),
            report::unreached_json(orders)
        );
        if let Err(e) = std::fs::write(p, doc) {
            eprintln!("avic-cosim explore: --json {}: {e}", p.display());
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let saved = match &violation {
        Some(out) => save_counterexample(spec, &f, &sc, out, &a.out.replay_dir),
        None => Ok(()),
    };
    if let Err(e) = saved {
        eprintln!("avic-cosim explore: {e}");
        return ExitCode::from(EXIT_SIM_ERROR);
    }
    if let (Some(c), Some(p)) = (&cov, &a.coverage.coverage) {
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

/// Writes the (minimized) violating run of `sc` as a replay file (whatever the hardware and KVM:
/// the file records their fields) and its waveform into `dir`.
fn save_counterexample(
    spec: &str,
    f: &ScenarioFile,
    sc: &Scenario,
    out: &Outcome,
    dir: &Path,
) -> Result<(), String> {
    let Some(v) = out.violation() else {
        return Ok(());
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("--replay-dir {}: {e}", dir.display()))?;
    let ranks = trimmed(out.ranks());
    let r = Replay::of_run(spec, &f.scenario, sc, ranks.clone(), v);
    let stem = dir.join(format!("{}-{}-{}", f.name, r.hw.name, r.kvm.name));
    {
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
