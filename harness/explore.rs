//! Searches over the schedules of a scenario.
//!
//! [`Search`] is the one way to run a whole search (PCT, then the exhaustive phase, then the
//! minimization) and the only place that strings the phases together; the phases below are
//! its parts, public for the tests that check one of them against another.
//!
//! - [`search`]: seeded PCT or random runs; the violation of the lowest seed.
//! - [`bounded_exhaustive`]: every schedule with at most `bound` deviations from the
//!   [`Policy::Continue`] default (keep running the agent that acted last), enumerated
//!   depth-first as an odometer over the recorded choice points (preemption bounding as in
//!   CHESS, Musuvathi and Qadeer, PLDI 2007). Each schedule either re-simulates from reset
//!   ([`Revisit::Replay`], stateless) or resumes from a snapshot of the world taken at the
//!   choice point where it leaves the previous one ([`Revisit::Branch`], the default on the
//!   bundled RTL); both give the same results.
//! - [`minimize`]: fewer deviations and cycles for a failing schedule, same invariant.
//! - [`dpor`] (re-exported from [`crate::dpor`]): the DPOR search, within the same bound.
//!
//! Runs are spread over all cores with `rayon`, and every result (the violation reported, the
//! counts) is the same whatever the thread count: work is cut into a fixed list of subtrees,
//! processed in fixed batches, and ties go to the lowest index. [`Shard`] splits the subtree
//! list across CI jobs; the shards' counts add up to the whole search.
//!
//! The `*_observed` forms also report progress (one tick of an [`indicatif::ProgressBar`] per
//! run; a hidden bar costs an atomic add) and return the ordering coverage of the runs
//! ([`crate::coverage::Orders`]), a union of per-run bitsets taken over a fixed set of runs, so
//! it too is the same whatever the thread count.

mod search;

pub use search::{FoundBy, Search, SearchResult, Strategy, ENV_OVERRIDES};

use crate::coverage::Orders;
pub use crate::dpor::{dpor, dpor_observed, Dpor};
use crate::ffi::ModelKind;
use crate::oracle::Invariant;
use crate::rtl::Rtl;
use crate::scenario::Scenario;
use crate::sched::{Policy, Schedule};
use crate::sim::{Outcome, Snapshot, Verdict, World, WorldError};
use indicatif::ProgressBar;
use rayon::prelude::*;
use std::fmt;
use std::str::FromStr;

/// Runs `sc` once under `sched` on the plain model.
pub fn run(sc: &Scenario, sched: &Schedule) -> Result<Outcome, WorldError> {
    World::new(sc, ModelKind::Plain)?.run(sched)
}

/// Seeds run between two checks for a violation.
const SEARCH_BATCH: u64 = 64;

/// Tries `policy(seed)` for seeds `0..runs` in parallel; the violating outcome of the lowest
/// seed. Seeds run in whole batches of 64, so the set of runs made (and, on a coverage model,
/// the counters merged, see [`crate::rtl::Coverage`]) is the same whatever the thread count.
pub fn search(
    sc: &Scenario,
    runs: u64,
    policy: impl Fn(u64) -> Policy + Sync,
) -> Result<Option<(u64, Outcome)>, WorldError> {
    search_observed(sc, runs, policy, &ProgressBar::hidden()).map(|(found, _)| found)
}

/// [`search`], ticking `progress` once per run, also returning the ordering coverage of seeds
/// `0..=found` (all seeds when nothing is found). Seeds run in fixed batches of
/// `SEARCH_BATCH`, so the runs made (and the RTL coverage they count) do not depend on the
/// thread count.
pub fn search_observed(
    sc: &Scenario,
    runs: u64,
    policy: impl Fn(u64) -> Policy + Sync,
    progress: &ProgressBar,
) -> Result<(Option<(u64, Outcome)>, Orders), WorldError> {
    let mut orders = Orders::default();
    let mut start = 0;
    while start < runs {
        let end = (start + SEARCH_BATCH).min(runs);
        let batch: Vec<Result<Outcome, WorldError>> = (start..end)
            .into_par_iter()
            .map(|seed| {
                let sched = Schedule {
                    prefix: Vec::new(),
                    policy: policy(seed),
                };
                let r = run(sc, &sched);
                progress.inc(1);
                r
            })
            .collect();
        for (seed, r) in (start..end).zip(batch) {
            let o = r?;
            orders |= o.orders;
            if o.violation().is_some() {
                return Ok((Some((seed, o)), orders));
            }
        }
        start = end;
    }
    Ok((None, orders))
}

/// One part of a search split across jobs: subtrees `k` with `k % count == index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    /// This job's index, `0..count`.
    pub index: u32,
    /// Number of jobs.
    pub count: u32,
}

impl Shard {
    /// The whole search.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether item `k` of a fixed list is this shard's.
    pub fn owns(&self, k: usize) -> bool {
        k % self.count as usize == self.index as usize
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `i/n` with `0 <= i < n`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: expected i/n, e.g. 0/4"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: shard index `{i}` is not a number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: shard count `{n}` is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("`{s}`: need 0 <= index < count"));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a bounded exhaustive search saw.
#[derive(Debug)]
pub struct Exhaustive {
    /// Schedules run (each distinct schedule within the bound once).
    pub runs: u64,
    /// Extra runs spent discovering the subtrees (not distinct schedules).
    pub probe_runs: u64,
    /// Subtrees the search was cut into (this shard's share of them were run).
    pub subtrees: u64,
    /// Every schedule within the bound (of this shard) was run.
    pub complete: bool,
    /// Runs that reached the cycle bound without quiescence.
    pub bounded: u64,
    /// The violating outcome of the lowest subtree, if any.
    pub violation: Option<Outcome>,
    /// Ordering coverage of every run made (the subtree discovery runs included).
    pub orders: Orders,
}

/// Subtrees discovered before the parallel phase (fixed, so results do not depend on the
/// thread count).
const FRONTIER: usize = 64;
/// Subtrees run between two checks for a violation or the run cap.
const BATCH: usize = 16;

/// Every schedule of `sc` with at most `bound` non-default choices, stopping after the batch
/// that finds a violation or reaches `max_runs`.
pub fn bounded_exhaustive(
    sc: &Scenario,
    bound: u32,
    max_runs: u64,
) -> Result<Exhaustive, WorldError> {
    bounded_exhaustive_shard(sc, bound, max_runs, Shard::WHOLE)
}

/// [`bounded_exhaustive`] restricted to one shard.
pub fn bounded_exhaustive_shard(
    sc: &Scenario,
    bound: u32,
    max_runs: u64,
    shard: Shard,
) -> Result<Exhaustive, WorldError> {
    bounded_exhaustive_observed(sc, bound, max_runs, shard, &ProgressBar::hidden())
}

/// How the depth-first search of [`bounded_exhaustive`] gets to the choice point where a
/// schedule leaves the previous one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Revisit {
    /// Re-simulate from reset (a new world per schedule).
    Replay,
    /// Restore a snapshot taken there ([`World::snapshot`], on the [`ModelKind::Savable`]
    /// build). Only the bundled RTL has that build: on a user's RTL or a coverage build the
    /// search replays.
    Branch,
}

impl Revisit {
    /// What `sc` can use of `self`: [`Revisit::Branch`] needs the bundled RTL.
    pub fn for_scenario(self, sc: &Scenario) -> Revisit {
        match (self, &sc.rtl) {
            (Revisit::Branch, Rtl::Bundled) => Revisit::Branch,
            _ => Revisit::Replay,
        }
    }
}

/// [`bounded_exhaustive_shard`], ticking `progress` once per run.
pub fn bounded_exhaustive_observed(
    sc: &Scenario,
    bound: u32,
    max_runs: u64,
    shard: Shard,
    progress: &ProgressBar,
) -> Result<Exhaustive, WorldError> {
    bounded_exhaustive_revisit(sc, bound, max_runs, shard, progress, Revisit::Branch)
}

/// [`bounded_exhaustive_observed`] with a choice of [`Revisit`] (for comparisons: the results
/// are the same either way).
pub fn bounded_exhaustive_revisit(
    sc: &Scenario,
    bound: u32,
    max_runs: u64,
    shard: Shard,
    progress: &ProgressBar,
    revisit: Revisit,
) -> Result<Exhaustive, WorldError> {
    let revisit = revisit.for_scenario(sc);
    let (roots, probe_runs, probe_orders) = frontier(sc, bound, progress)?;
    let mine: Vec<&Vec<u16>> = roots
        .iter()
        .enumerate()
        .filter(|(k, _)| shard.owns(*k))
        .map(|(_, r)| r)
        .collect();
    let mut res = Exhaustive {
        runs: 0,
        probe_runs,
        subtrees: roots.len() as u64,
        complete: false,
        bounded: 0,
        violation: None,
        orders: probe_orders,
    };
    for batch in mine.chunks(BATCH) {
        let parts = batch
            .par_iter()
            .map(|root| subtree(sc, root, bound, max_runs, progress, revisit))
            .collect::<Result<Vec<_>, _>>()?;
        for p in parts {
            res.orders |= p.orders;
            res.runs += p.runs;
            res.bounded += p.bounded;
            if res.violation.is_none() {
                res.violation = p.violation;
            }
            if !p.complete {
                return Ok(res);
            }
        }
        if res.violation.is_some() || res.runs >= max_runs {
            return Ok(res);
        }
    }
    res.complete = true;
    Ok(res)
}

/// Prefixes whose subtrees partition the bounded schedule space, in a fixed order.
pub(crate) fn frontier(
    sc: &Scenario,
    bound: u32,
    progress: &ProgressBar,
) -> Result<(Vec<Vec<u16>>, u64, Orders), WorldError> {
    let mut nodes: Vec<(Vec<u16>, bool)> = vec![(Vec::new(), true)];
    let mut probes = 0;
    let mut orders = Orders::default();
    while nodes.len() < FRONTIER {
        let Some(i) = nodes.iter().position(|n| n.1) else {
            break;
        };
        let (p, _) = nodes.remove(i);
        let out = run(sc, &Schedule::replay(&p))?;
        progress.inc(1);
        orders |= out.orders;
        probes += 1;
        let Some(&(_, n)) = out.choices.get(p.len()) else {
            nodes.insert(i, (p, false));
            continue;
        };
        let devs = deviations(&p);
        let kids: Vec<(Vec<u16>, bool)> = (0..n)
            .filter(|&r| devs + u32::from(r != 0) <= bound)
            .map(|r| {
                let mut q = p.clone();
                q.push(r);
                (q, true)
            })
            .collect();
        nodes.splice(i..i, kids);
    }
    Ok((nodes.into_iter().map(|n| n.0).collect(), probes, orders))
}

fn deviations(ranks: &[u16]) -> u32 {
    ranks.iter().filter(|&&r| r != 0).count() as u32
}

/// How [`subtree`] runs each schedule (see [`Revisit`]).
enum Runner {
    /// A fresh world per schedule.
    Replay,
    /// One world on the Savable build, and a stack of snapshots of it at the choice points the
    /// search may still branch from, by increasing choice point.
    Branch {
        world: Box<World>,
        stack: Vec<Snapshot>,
    },
}

impl Runner {
    fn new(sc: &Scenario, revisit: Revisit) -> Result<Self, WorldError> {
        Ok(match revisit {
            Revisit::Replay => Runner::Replay,
            Revisit::Branch => Runner::Branch {
                world: Box::new(World::new(sc, ModelKind::Savable)?),
                stack: Vec::new(),
            },
        })
    }

    /// Runs `prefix` (then the default). Branching, the world already stands at the choice
    /// point where `prefix` leaves the previous schedule ([`Runner::branch_at`]), and the run
    /// saves it at every later choice point the search may branch from: those after the
    /// prefix (where it takes the default) while the prefix leaves a deviation to spend.
    fn run(&mut self, sc: &Scenario, prefix: &[u16], bound: u32) -> Result<Outcome, WorldError> {
        match self {
            Runner::Replay => run(sc, &Schedule::replay(prefix)),
            Runner::Branch { world, stack } => {
                let (from, spare) = (prefix.len(), deviations(prefix) < bound);
                world.run_observed(&Schedule::replay(prefix), |w| {
                    if spare && w.choice_point() >= from {
                        stack.push(w.snapshot()?);
                    }
                    Ok(())
                })
            }
        }
    }

    /// Prepares the run of a schedule that leaves the previous one at choice point `j`:
    /// drops the snapshots past `j` (their subtrees are done) and restores the one at `j`,
    /// kept for its next rank.
    fn branch_at(&mut self, sc: &Scenario, j: usize) -> Result<(), WorldError> {
        let Runner::Branch { world, stack } = self else {
            return Ok(());
        };
        while stack.last().is_some_and(|s| s.choice_point() > j) {
            stack.pop();
        }
        match stack.last() {
            Some(s) if s.choice_point() == j => world.restore(s),
            // Not reached (every point the odometer picks was saved); replay to stay correct.
            _ => {
                stack.clear();
                **world = World::new(sc, ModelKind::Savable)?;
                Ok(())
            }
        }
    }
}

/// The schedules whose ranks start with `root`, depth first.
fn subtree(
    sc: &Scenario,
    root: &[u16],
    bound: u32,
    max_runs: u64,
    progress: &ProgressBar,
    revisit: Revisit,
) -> Result<Exhaustive, WorldError> {
    let mut runner = Runner::new(sc, revisit)?;
    let mut prefix = root.to_vec();
    let mut res = Exhaustive {
        runs: 0,
        probe_runs: 0,
        subtrees: 1,
        complete: false,
        bounded: 0,
        violation: None,
        orders: Orders::default(),
    };
    loop {
        if res.runs >= max_runs {
            return Ok(res);
        }
        let out = runner.run(sc, &prefix, bound)?;
        progress.inc(1);
        res.orders |= out.orders;
        res.runs += 1;
        match out.verdict {
            Verdict::Violated(_) => {
                res.violation = Some(out);
                res.complete = true;
                return Ok(res);
            }
            Verdict::Bound => res.bounded += 1,
            Verdict::Holds => {}
        }
        match next_prefix(&out.choices, bound, root.len()) {
            Some(p) => {
                runner.branch_at(sc, p.len() - 1)?;
                prefix = p;
            }
            None => {
                res.complete = true;
                return Ok(res);
            }
        }
    }
}

/// The odometer step: the deepest choice point at or after `fixed` that can take its next rank
/// within the bound.
pub(crate) fn next_prefix(choices: &[(u16, u16)], bound: u32, fixed: usize) -> Option<Vec<u16>> {
    let mut devs: Vec<u32> = Vec::with_capacity(choices.len() + 1);
    devs.push(0);
    for &(r, _) in choices {
        devs.push(devs.last().copied().unwrap_or(0) + u32::from(r != 0));
    }
    for j in (fixed..choices.len()).rev() {
        let (r, n) = choices[j];
        if r + 1 < n && devs[j] < bound {
            let mut p: Vec<u16> = choices[..j].iter().map(|c| c.0).collect();
            p.push(r + 1);
            return Some(p);
        }
    }
    None
}

/// Shrinks the ranks of a failing schedule: drops trailing defaults, then resets deviations
/// to the default one at a time (last first) while the run still violates `invariant` for the
/// same vCPU and vector, until nothing more can go. Never returns more deviations or cycles than
/// it was given.
pub fn minimize(
    sc: &Scenario,
    ranks: &[u16],
    invariant: Invariant,
) -> Result<Option<Outcome>, WorldError> {
    minimize_observed(sc, ranks, invariant, &ProgressBar::hidden())
}

/// [`minimize`], ticking `progress` once per run.
pub fn minimize_observed(
    sc: &Scenario,
    ranks: &[u16],
    invariant: Invariant,
    progress: &ProgressBar,
) -> Result<Option<Outcome>, WorldError> {
    let run = |sc: &Scenario, s: &Schedule| {
        progress.inc(1);
        run(sc, s)
    };
    let same = |o: &Outcome, want: Option<(u8, u8)>| match (o.violation(), want) {
        (Some(v), Some(w)) => v.invariant == invariant && (v.vcpu, v.vector) == w,
        (Some(v), None) => v.invariant == invariant,
        _ => false,
    };
    let mut best = run(sc, &Schedule::replay(ranks))?;
    if !same(&best, None) {
        return Ok(None);
    }
    let target = best.violation().map(|v| (v.vcpu, v.vector));
    let mut cur: Vec<u16> = best.ranks();
    loop {
        while cur.last() == Some(&0) {
            cur.pop();
        }
        let mut improved = false;
        for i in (0..cur.len()).rev() {
            if cur[i] == 0 {
                continue;
            }
            let mut cand = cur.clone();
            cand[i] = 0;
            let out = run(sc, &Schedule::replay(&cand))?;
            if same(&out, target) && out.cycles <= best.cycles {
                cur = out.ranks();
                cur.truncate(cand.len().min(cur.len()));
                best = out;
                improved = true;
                break;
            }
        }
        if !improved {
            return Ok(Some(best));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odometer_respects_the_deviation_bound_and_the_fixed_root() {
        // Two binary choice points, bound 1: (0,0) -> (0,1) -> (1,..) -> done.
        assert_eq!(next_prefix(&[(0, 2), (0, 2)], 1, 0), Some(vec![0, 1]));
        assert_eq!(next_prefix(&[(0, 2), (1, 2)], 1, 0), Some(vec![1]));
        assert_eq!(next_prefix(&[(1, 2), (0, 2)], 1, 0), None);
        assert_eq!(next_prefix(&[(1, 2), (0, 2)], 2, 0), Some(vec![1, 1]));
        // Inside the subtree rooted at [0], the first point never changes.
        assert_eq!(next_prefix(&[(0, 2), (1, 2)], 1, 1), None);
    }

    #[test]
    fn shard_parsing() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
        assert!("x/2".parse::<Shard>().unwrap_err().contains("index"));
        assert!((0..8)
            .filter(|&k| Shard { index: 1, count: 3 }.owns(k))
            .eq([1, 4, 7]));
    }
}
