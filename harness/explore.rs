//! Searches over the schedules of a scenario.
//!
//! - [`search`]: seeded random or PCT runs until one violates an invariant.
//! - [`bounded_exhaustive`]: every schedule with at most `bound` deviations from the
//!   [`Policy::Continue`] default (keep running the agent that acted last), enumerated
//!   depth-first as a stateless odometer over the recorded choice points (preemption bounding
//!   as in CHESS, Musuvathi and Qadeer, PLDI 2007).

use crate::ffi::ModelKind;
use crate::world::{Outcome, Policy, Scenario, Schedule, Verdict, World, WorldError};

/// Runs `sc` once under `sched` on the plain model.
pub fn run(sc: &Scenario, sched: &Schedule) -> Result<Outcome, WorldError> {
    World::new(sc, ModelKind::Plain)?.run(sched)
}

/// Tries `policy(seed)` for seeds `0..runs`; the first violating outcome and its seed.
pub fn search(
    sc: &Scenario,
    runs: u64,
    policy: impl Fn(u64) -> Policy,
) -> Result<Option<(u64, Outcome)>, WorldError> {
    for seed in 0..runs {
        let out = run(
            sc,
            &Schedule {
                prefix: Vec::new(),
                policy: policy(seed),
            },
        )?;
        if out.violation().is_some() {
            return Ok(Some((seed, out)));
        }
    }
    Ok(None)
}

/// What a bounded exhaustive search saw.
#[derive(Debug)]
pub struct Exhaustive {
    /// Schedules run.
    pub runs: u64,
    /// Every schedule within the bound was run (false: stopped at `max_runs`).
    pub complete: bool,
    /// Runs that reached the cycle bound without quiescence.
    pub bounded: u64,
    /// The first violating outcome.
    pub violation: Option<Outcome>,
}

/// Every schedule of `sc` with at most `bound` non-default choices, up to `max_runs` runs;
/// stops at the first violation.
pub fn bounded_exhaustive(
    sc: &Scenario,
    bound: u32,
    max_runs: u64,
) -> Result<Exhaustive, WorldError> {
    let mut prefix: Vec<u16> = Vec::new();
    let mut res = Exhaustive {
        runs: 0,
        complete: false,
        bounded: 0,
        violation: None,
    };
    loop {
        if res.runs >= max_runs {
            return Ok(res);
        }
        let out = run(
            sc,
            &Schedule {
                prefix: prefix.clone(),
                policy: Policy::Continue,
            },
        )?;
        res.runs += 1;
        match out.verdict {
            Verdict::Violated(_) => {
                res.violation = Some(out);
                return Ok(res);
            }
            Verdict::Bound => res.bounded += 1,
            Verdict::Holds => {}
        }
        match next_prefix(&out.choices, bound) {
            Some(p) => prefix = p,
            None => {
                res.complete = true;
                return Ok(res);
            }
        }
    }
}

/// The odometer step: the deepest choice point that can take its next rank within the bound.
fn next_prefix(choices: &[(u16, u16)], bound: u32) -> Option<Vec<u16>> {
    let mut devs: Vec<u32> = Vec::with_capacity(choices.len() + 1);
    devs.push(0);
    for &(r, _) in choices {
        devs.push(devs.last().copied().unwrap_or(0) + u32::from(r != 0));
    }
    for j in (0..choices.len()).rev() {
        let (r, n) = choices[j];
        if r + 1 < n && devs[j] < bound {
            let mut p: Vec<u16> = choices[..j].iter().map(|c| c.0).collect();
            p.push(r + 1);
            return Some(p);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::next_prefix;

    #[test]
    fn odometer_respects_the_deviation_bound() {
        // Two binary choice points, bound 1: (0,0) -> (0,1) -> (1,..) -> done.
        assert_eq!(next_prefix(&[(0, 2), (0, 2)], 1), Some(vec![0, 1]));
        assert_eq!(next_prefix(&[(0, 2), (1, 2)], 1), Some(vec![1]));
        assert_eq!(next_prefix(&[(1, 2), (0, 2)], 1), None);
        assert_eq!(next_prefix(&[(1, 2), (0, 2)], 2), Some(vec![1, 1]));
    }
}
