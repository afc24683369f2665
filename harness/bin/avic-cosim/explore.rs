//! `avic-cosim explore`: one cell's search (PCT seeds, then the bounded exhaustive search or
//! DPOR), optionally one shard of it; a violation is minimized and saved as a replay file and
//! a waveform.

use crate::args::{
    CellSelect, CoverageArgs, OutputArgs, RtlArgs, ScenarioArgs, SearchArgs, EXPLORE_MAX_RUNS,
};
use crate::common::{
    bar, coverage_of, drawing, trimmed, verdict_exit, write_coverage, RUNS_BAR, SEEDS_BAR,
};
use crate::{EXIT_SIM_ERROR, EXIT_USAGE};
use avic_cosim::explore::{self, Shard};
use avic_cosim::report::{self, Budget, Replay};
use avic_cosim::rtl::{Flavor, Rtl};
use avic_cosim::scenario::ScenarioFile;
use avic_cosim::sched::{Policy, Schedule};
use avic_cosim::wave;
use avic_cosim::world::{Outcome, Scenario, Verdict};
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
    let shard = a.search.shard.unwrap_or(Shard::WHOLE);
    let seeds = a.search.seeds.unwrap_or(f.seeds);
    let bound = a.search.bound.unwrap_or(f.bound);
    let max_runs = a.search.max_runs.unwrap_or(EXPLORE_MAX_RUNS);
    let budget = Budget::of(&f);
    let t = std::time::Instant::now();
    let draw = drawing(a.out.quiet);
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
            depth: budget.pct_depth,
            steps: budget.pct_steps,
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
            let r = if a.search.dpor {
                runs_bar.set_prefix(format!("explore: DPOR, bound {bound}:"));
                explore::dpor_observed(&sc, Some(bound), max_runs, shard, &runs_bar).map(|r| {
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
                explore::bounded_exhaustive_revisit(&sc, bound, max_runs, shard, &runs_bar, revisit)
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

/// Minimizes a violating run of `sc`, writes its replay file (whatever the hardware and KVM:
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
    let min = explore::minimize(sc, &out.ranks(), v.invariant)
        .map_err(|e| format!("minimizing: {e}"))?
        .unwrap_or_else(|| out.clone());
    std::fs::create_dir_all(dir).map_err(|e| format!("--replay-dir {}: {e}", dir.display()))?;
    let ranks = trimmed(min.ranks());
    let mv = min.violation().unwrap_or(v);
    let r = Replay::of_run(spec, &f.scenario, sc, ranks.clone(), mv);
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
