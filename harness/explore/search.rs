//! [`Search`]: the one way to search a scenario (loom's `Builder`): its parameters with their
//! defaults, defined once, and the phases strung together once. The matrix, every command,
//! the examples and the tests run their searches through it.

use super::{
    bounded_exhaustive_revisit, minimize_observed, search_observed, Exhaustive, Revisit, Shard,
};
use crate::coverage::Orders;
use crate::dpor::{dpor_observed, Dpor};
use crate::scenario::file::{DEFAULT_BOUND, DEFAULT_SEEDS};
use crate::scenario::Scenario;
use crate::scenario::ScenarioFile;
use crate::sched::Policy;
use crate::sim::{Outcome, WorldError};
use indicatif::ProgressBar;

/// How the exhaustive phase visits the schedules within the bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Every schedule, each resumed from a snapshot where it leaves the previous one
    /// ([`Revisit::Branch`]; on a user's RTL or a coverage build it re-simulates).
    Enumerate,
    /// Every schedule, each re-simulated from reset ([`Revisit::Replay`]): same results,
    /// slower; for comparisons.
    EnumerateFromReset,
    /// DPOR within the bound ([`crate::dpor`]): one schedule per class of equivalent ones.
    Dpor,
}

/// One search of a scenario's schedules: `seeds` PCT runs first; if none violates an
/// invariant, every schedule within `bound` deviations of the default order (the
/// [`Strategy`]), at most `max_runs` of them; then, when a run violates, its schedule
/// minimized. Build it with [`Search::default`] (the defaults below), [`Search::of_file`]
/// (the scenario file's `[explore]`), [`Search::with_env`] (environment overrides), and the
/// setters; run it with [`Search::run`].
#[derive(Clone, Debug)]
pub struct Search {
    /// PCT seeds tried first. Default [`DEFAULT_SEEDS`] (300); the scenario file's
    /// `[explore] seeds`; `AVIC_COSIM_SEEDS`.
    pub seeds: u64,
    /// PCT bug depth. Default 3.
    pub pct_depth: u8,
    /// PCT change-point range, in choice points. Default 100.
    pub pct_steps: u32,
    /// Deviation bound of the exhaustive phase. Default [`DEFAULT_BOUND`] (2); the scenario
    /// file's `[explore] bound`; `AVIC_COSIM_BOUND`.
    pub bound: u32,
    /// Most schedules the exhaustive phase runs (beyond: the search is partial). Default
    /// 1 000 000; `AVIC_COSIM_MAX_RUNS`.
    pub max_runs: u64,
    /// How the exhaustive phase explores. Default [`Strategy::Enumerate`].
    pub strategy: Strategy,
    /// This job's share of the search: PCT seeds `k` and exhaustive subtrees `k` with
    /// `k % count == index`. Default the whole search.
    pub shard: Shard,
    /// Minimize the violation found. Default `true`.
    pub minimize: bool,
    /// Ticked once per run (minimization included). Default hidden.
    pub progress: ProgressBar,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            seeds: DEFAULT_SEEDS,
            pct_depth: 3,
            pct_steps: 100,
            bound: DEFAULT_BOUND,
            max_runs: 1_000_000,
            strategy: Strategy::Enumerate,
            shard: Shard::WHOLE,
            minimize: true,
            progress: ProgressBar::hidden(),
        }
    }
}

/// The environment variables [`Search::with_env`] reads.
pub const ENV_OVERRIDES: [&str; 3] = [
    "AVIC_COSIM_SEEDS",
    "AVIC_COSIM_BOUND",
    "AVIC_COSIM_MAX_RUNS",
];

/// How a search found its violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoundBy {
    /// PCT with this seed.
    Pct(u64),
    /// The exhaustive phase.
    Exhaustive,
}

/// What a [`Search`] did and found.
#[derive(Debug)]
pub struct SearchResult {
    /// The violating run (minimized when [`Search::minimize`]); its schedule is
    /// [`Outcome::ranks`]. `None`: no run violated an invariant.
    pub violation: Option<Outcome>,
    /// Which phase found it.
    pub found_by: Option<FoundBy>,
    /// Choice points of the violating schedule as found, before minimization.
    pub found_choices: usize,
    /// PCT runs made (up to the violating seed).
    pub pct_runs: u64,
    /// The enumeration's counts, if that phase ran (its `violation` moved to the result's).
    pub exhaustive: Option<Exhaustive>,
    /// DPOR's counts, if that phase ran (its `violation` moved to the result's).
    pub dpor: Option<Dpor>,
    /// Ordering coverage of the PCT and exhaustive runs (not the minimization's).
    pub orders: Orders,
}

impl SearchResult {
    /// Schedules of the exhaustive phase, with the runs that cut it into subtrees.
    pub fn exhaustive_runs(&self) -> u64 {
        match (&self.exhaustive, &self.dpor) {
            (Some(e), _) => e.runs + e.probe_runs,
            (_, Some(d)) => d.runs + d.probe_runs,
            _ => 0,
        }
    }

    /// Every schedule within the bound was run (or, with DPOR, every class).
    pub fn complete(&self) -> bool {
        match (&self.exhaustive, &self.dpor) {
            (Some(e), _) => e.complete,
            (_, Some(d)) => d.complete,
            _ => false,
        }
    }

    /// Runs that reached the cycle bound without quiescence (no verdict).
    pub fn bounded_runs(&self) -> u64 {
        match (&self.exhaustive, &self.dpor) {
            (Some(e), _) => e.bounded,
            (_, Some(d)) => d.bounded,
            _ => 0,
        }
    }

    /// "holds" in the sense of the matrix: no violation, the exhaustive phase complete, and
    /// no run cut at the cycle bound.
    pub fn holds(&self) -> bool {
        self.violation.is_none() && self.complete() && self.bounded_runs() == 0
    }
}

impl Search {
    /// The defaults with the scenario file's `[explore] seeds` and `bound`.
    pub fn of_file(f: &ScenarioFile) -> Self {
        Search {
            seeds: f.seeds,
            bound: f.bound,
            ..Search::default()
        }
    }

    /// `self` with the environment's overrides (`AVIC_COSIM_SEEDS`, `AVIC_COSIM_BOUND`,
    /// `AVIC_COSIM_MAX_RUNS`); `Err` names a variable that is set but not a number.
    pub fn with_env(mut self) -> Result<Self, String> {
        fn var<T: std::str::FromStr>(name: &str) -> Result<Option<T>, String> {
            match std::env::var(name) {
                Ok(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("{name}={v}: not a number")),
                Err(_) => Ok(None),
            }
        }
        if let Some(s) = var(ENV_OVERRIDES[0])? {
            self.seeds = s;
        }
        if let Some(b) = var(ENV_OVERRIDES[1])? {
            self.bound = b;
        }
        if let Some(m) = var(ENV_OVERRIDES[2])? {
            self.max_runs = m;
        }
        Ok(self)
    }

    /// Sets [`Search::seeds`].
    pub fn seeds(mut self, seeds: u64) -> Self {
        self.seeds = seeds;
        self
    }

    /// Sets [`Search::bound`].
    pub fn bound(mut self, bound: u32) -> Self {
        self.bound = bound;
        self
    }

    /// Sets [`Search::max_runs`].
    pub fn max_runs(mut self, max_runs: u64) -> Self {
        self.max_runs = max_runs;
        self
    }

    /// Sets [`Search::strategy`].
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Sets [`Search::shard`].
    pub fn shard(mut self, shard: Shard) -> Self {
        self.shard = shard;
        self
    }

    /// Sets [`Search::minimize`].
    pub fn minimize(mut self, minimize: bool) -> Self {
        self.minimize = minimize;
        self
    }

    /// Sets [`Search::progress`].
    pub fn progress(mut self, progress: ProgressBar) -> Self {
        self.progress = progress;
        self
    }

    /// The PCT policy of seed `seed`.
    pub fn pct(&self, seed: u64) -> Policy {
        Policy::Pct {
            seed,
            depth: self.pct_depth,
            steps: self.pct_steps,
        }
    }

    /// How many PCT seeds are this shard's.
    pub fn pct_seeds(&self) -> u64 {
        self.shard_seeds().0
    }

    /// The PCT seeds of this shard: `(count, k -> seed)`.
    fn shard_seeds(&self) -> (u64, impl Fn(u64) -> u64 + Sync) {
        let (i, n) = (u64::from(self.shard.index), u64::from(self.shard.count));
        ((self.seeds + n - 1 - i) / n, move |k| k * n + i)
    }

    /// Runs the search on `sc`. Every result is the same whatever the thread count.
    pub fn run(&self, sc: &Scenario) -> Result<SearchResult, WorldError> {
        let (owned, seed_of) = self.shard_seeds();
        let (found, orders) = search_observed(sc, owned, |k| self.pct(seed_of(k)), &self.progress)?;
        let mut res = SearchResult {
            violation: None,
            found_by: None,
            found_choices: 0,
            pct_runs: owned,
            exhaustive: None,
            dpor: None,
            orders,
        };
        let found = match found {
            Some((k, out)) => {
                res.pct_runs = k + 1;
                Some((out, FoundBy::Pct(seed_of(k))))
            }
            None => self.exhaustive_phase(sc, &mut res)?,
        };
        let Some((out, by)) = found else {
            return Ok(res);
        };
        res.found_by = Some(by);
        res.found_choices = out.choices.len();
        let small = match (self.minimize, out.violation()) {
            (true, Some(v)) => minimize_observed(sc, &out.ranks(), v.invariant, &self.progress)?,
            _ => None,
        };
        res.violation = Some(small.unwrap_or(out));
        Ok(res)
    }

    /// The exhaustive phase: its counts into `res`, its violation returned.
    fn exhaustive_phase(
        &self,
        sc: &Scenario,
        res: &mut SearchResult,
    ) -> Result<Option<(Outcome, FoundBy)>, WorldError> {
        let p = &self.progress;
        let violation = match self.strategy {
            Strategy::Dpor => {
                let mut d = dpor_observed(sc, Some(self.bound), self.max_runs, self.shard, p)?;
                res.orders |= d.orders;
                let v = d.violation.take();
                res.dpor = Some(d);
                v
            }
            Strategy::Enumerate | Strategy::EnumerateFromReset => {
                let revisit = if self.strategy == Strategy::Enumerate {
                    Revisit::Branch
                } else {
                    Revisit::Replay
                };
                let mut e = bounded_exhaustive_revisit(
                    sc,
                    self.bound,
                    self.max_runs,
                    self.shard,
                    p,
                    revisit,
                )?;
                res.orders |= e.orders;
                let v = e.violation.take();
                res.exhaustive = Some(e);
                v
            }
        };
        Ok(violation.map(|o| (o, FoundBy::Exhaustive)))
    }
}
