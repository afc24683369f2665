//! `avic-cosim mutants`: the command line of [`avic_cosim::mutants`].

use avic_cosim::mutants::{self, Class, Outcome, Score, Setup};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::EXIT_USAGE;

#[derive(clap::Args, Debug)]
pub struct MutantsArgs {
    /// The mutant list.
    #[arg(long, value_name = "FILE", default_value = "tb/mutants/mutants.toml")]
    list: PathBuf,
    /// Only these mutants, comma-separated ids (in this order).
    #[arg(
        long,
        value_name = "ID,...",
        value_delimiter = ',',
        conflicts_with = "quick"
    )]
    only: Vec<String>,
    /// Only the quick subset (`quick = true` in the list), as `.ci/run` runs it.
    #[arg(long)]
    quick: bool,
    /// The golden matrices the mutants' matrices are compared with.
    #[arg(long, value_name = "DIR", default_value = "tb/golden")]
    golden_dir: PathBuf,
    /// The scenario files (every `*.toml`; each needs its golden file).
    #[arg(long, value_name = "DIR", default_value = "scenarios")]
    scenarios: PathBuf,
    /// Only these scenarios, comma-separated names (default: all).
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    scenario: Vec<String>,
    /// The repository whose `rtl/` is mutated.
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo: PathBuf,
    /// Threads the searches use (default: available cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
}

pub fn run(a: MutantsArgs) -> ExitCode {
    let start = Instant::now();
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("avic-cosim mutants: {e}");
        ExitCode::from(EXIT_USAGE)
    };
    let all = match mutants::load_list(&a.list) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let chosen = if a.quick {
        all.iter().filter(|m| m.quick).cloned().collect()
    } else if a.only.is_empty() {
        all.clone()
    } else {
        match mutants::select(&all, &a.only) {
            Ok(l) => l,
            Err(e) => return fail(&e),
        }
    };
    // Every mutant must apply before any runs: a list broken by an RTL change fails at once.
    for m in &all {
        if let Err(e) = mutants::apply(m, &a.repo) {
            return fail(&e);
        }
    }
    let only = (!a.scenario.is_empty()).then_some(a.scenario.as_slice());
    let plan = match mutants::plan(&a.scenarios, &a.golden_dir, only) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    if let Some(j) = a.jobs {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(j))
            .build_global()
        {
            return fail(&format!("--jobs {j}: {e}"));
        }
    }
    let cells: usize = plan.iter().map(|p| p.cells.len()).sum();
    let classes: Vec<&str> = Class::ALL
        .iter()
        .filter(|c| chosen.iter().any(|m| m.covers == **c))
        .map(|c| c.name())
        .collect();
    println!(
        "{} mutants of {} ({}), against {} golden cells of {} scenarios ({}), cheapest first",
        chosen.len(),
        a.list.display(),
        classes.join(", "),
        cells,
        plan.len(),
        plan.iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let setup = Setup::new(&a.repo, None);
    let mut outs: Vec<Outcome> = Vec::with_capacity(chosen.len());
    for m in &chosen {
        match mutants::run_mutant(m, &setup, &plan) {
            Ok(o) => {
                println!("{o}");
                let _ = std::io::stdout().flush();
                outs.push(o);
            }
            Err(e) => return fail(&e),
        }
    }
    let score = Score::of(&outs);
    println!("{}", score.line(&a.list, start.elapsed().as_secs_f64()));
    if score.perfect() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
