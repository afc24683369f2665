//! Stateless dynamic partial-order reduction (DPOR: Flanagan and Godefroid, POPL 2005) over the
//! schedules of a scenario, within a deviation bound (the space of
//! [`crate::explore::bounded_exhaustive`]) or without one.
//!
//! Within the bound it is what `explore --dpor` and `matrix --dpor` run: on the bundled seed
//! scenario it completes in every cell of the verdict matrix with fewer schedules than the
//! bounded enumeration (about a quarter fewer), reaching every trace class of its holding runs
//! and the same verdicts (`tb/dpor.rs`). Without a bound it is sound on the small scenarios of
//! `tb/dpor.rs` (checked against the enumeration of every schedule); on the seed it is not
//! claimed to terminate.
//!
//! # Transitions and dependency
//!
//! Each cycle of [`World::run`] is two transitions. The first is the action the schedule took
//! (none when nothing or only [`Action::Idle`] was enabled), with the memory access of the
//! transaction it completed; its *agent* is that action, compared by value ([`Step::agent`];
//! [`Action::Idle`] for a cycle without one). The second is what the RTL did on its own in the
//! cycle ([`Step::rtl`]: the receiver's IRR reads, transactions that need no schedule
//! decision, the routing of exits, interrupts and doorbells after the edge): the passing of
//! time, one agent whose transitions are all dependent on each other. A race between an action
//! and later RTL work is reversed by delaying the action ([`Action::Idle`] at its cycle); a
//! race between RTL work and a later action by running that action at the RTL work's cycle.
//! (With the RTL's work folded into the acting agent's transition, races between an action
//! and the RTL's later reaction to other inputs were invisible, and the bounded cross-check of
//! `tb/dpor.rs` lost classes.)
//!
//! A transition's *footprint* ([`Step::touches`] and [`Step::rtl`], recorded by
//! [`World::record_steps`]) is the set of resources ([`Res`]) it read and wrote:
//! - memory words: host loads (read, tagged with the CPU), store-buffer commits (write, tagged),
//!   locked operations and RTL writes (write), RTL reads (read). A CPU's load and its own
//!   commit of the same word do not conflict ([`Touch::conflicts`]): under x86-TSO the load
//!   returns the same value before (forwarded) and after the commit;
//! - the store-buffer entries of host CPU `c` for a word: stores and commits (write);
//! - RTL core `c`: any change of its inputs (ICR write, VMRUN, guest mode, doorbell, EOI), the
//!   release of one of its held transactions, an RTL event it raised, a kick aimed at it
//!   (write);
//! - vCPU `v` (what others see of its thread): read by every thread step, guest instruction
//!   and timer of `v`; written by a thread step that changes it, an exit routed to it, a
//!   wake-up while it sleeps, a preemption or migration;
//! - the guest of `v` (its instructions, interrupts taken, EOIs) and the oracle's ledger of `v`
//!   (sends to `v`, interrupts `v` takes): write.
//!
//! - the RTL's own memory accesses also read the inputs of their core.
//!
//! Two transitions are *dependent* if they have the same agent (other than [`Action::Idle`],
//! which stands for idling, not a process; the RTL's parts are one agent), or if their
//! footprints conflict.
//!
//! # Races
//!
//! After each execution the whole trace is analysed ([`races`]). Happens-before is dependency
//! in trace order, transitively closed, plus enabling: the last cycle before a scheduled action
//! in which its agent was not enabled happens before it. A race is a pair `i < j` of dependent
//! transitions of different agents where `i` does not happen before `j` through a third one;
//! every such `i` (not only the last, as in F&G: with the RTL's work tied to cycle timing the
//! last-race rule misses traces, which `tb/dpor.rs` would show) gets the agent of `j` (or
//! [`Action::Idle`] when `j` is RTL work) in the backtrack set of its cycle's choice point, or
//! every action enabled there if that one was not.
//! Transitions that were enabled but never taken are raced too (F&G consider the next
//! transition of every agent in every state): the transition that disabled an agent races with
//! it, and an enabled action not taken, whose footprint the world predicts ([`Step::pending`]:
//! drains, timers, preemptions, migrations, guest instructions, completions), races with every
//! conflicting transition while it stays pending (a drain: since its entry was stored). Cycles
//! without a choice have nothing to add.
//!
//! The search is *complete* when every backtrack point was explored within the run cap: then
//! every trace class of this dependency (within `max_cycles`) was run at least once.
//!
//! # Within a deviation bound
//!
//! A backtrack point that would take its schedule past the bound is not run
//! ([`Dpor::beyond_bound`]). Reversing a race at its own choice point can cost more deviations
//! than scheduling the same action earlier, so under a bound each race also adds its action at
//! every earlier choice point of the execution where it was enabled (conservative backtrack
//! points, as in bounded POR, Coons, Musuvathi and McKinley, OOPSLA 2013; their bound counts
//! preemptions, ours deviations from [`crate::sched::Policy::Continue`]). This is checked, not
//! proved: on every cell of the seed scenario (77 today) the bounded search reaches every trace class
//! of the bounded enumeration's holding runs and the same verdicts (`tb/dpor.rs`); with
//! backtrack points only back to where the action became enabled, one cell lost a class.
//!
//! # Parallelism and shards
//!
//! The search starts from the bounded search's fixed frontier (the same 64 subtree roots
//! [`crate::explore::bounded_exhaustive`] cuts its space into, every alternative within the
//! bound at the first few choice points) and runs DPOR below each root, in fixed batches of
//! subtrees. A race whose backtrack point lies above a root needs nothing: the frontier runs
//! every alternative there. [`Shard`] takes the roots `k % count == index`, so the shards'
//! schedules add up to the whole search's (the frontier's probe runs, made by every shard, are
//! counted apart). Below a root, when a choice point has several pending alternatives, they
//! are explored as independent subtrees in parallel (rayon); their backtrack additions to
//! shallower choice points are merged afterwards, in alternative order, as set unions. The
//! batches depend only on the data, so every count and the violation reported are the same
//! whatever the thread count; the violation is the one of the first subtree (in the fixed
//! order) of the first batch that found one.

use crate::coverage::Orders;
use crate::explore::{frontier, Shard};
use crate::ffi::ModelKind;
use crate::mem::{AccessKind, Agent};
use crate::sched::{index_to_rank, Schedule};
use crate::sim::{Action, Outcome, Res, Step, Touch, Verdict, World, WorldError};
use indicatif::ProgressBar;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What a DPOR search saw.
#[derive(Debug, Default)]
pub struct Dpor {
    /// Schedules run (executions), the frontier's probes not included.
    pub runs: u64,
    /// Runs that cut the search into subtrees (the bounded search's frontier).
    pub probe_runs: u64,
    /// Subtrees the search was cut into (this shard's share of them were run).
    pub subtrees: u64,
    /// Backtrack points added by race analysis (choice point, action), each explored once.
    pub backtracks: u64,
    /// Races found (pairs of dependent, concurrent transitions), summed over executions.
    pub races: u64,
    /// Alternatives at choice points that the reduction never ran (no race asked for them).
    pub pruned: u64,
    /// Backtrack points not run because they would take the schedule past the deviation
    /// bound.
    pub beyond_bound: u64,
    /// Runs that reached the cycle bound without quiescence.
    pub bounded: u64,
    /// The whole reduced space was explored within the run cap (and no violation stopped it).
    pub complete: bool,
    /// The violating outcome of the first violating execution in the search's fixed order
    /// (depth first; parallel alternatives in enabled order).
    pub violation: Option<Outcome>,
    /// Ordering coverage of every run made.
    pub orders: Orders,
}

/// A choice point of the current execution.
struct Frame {
    enabled: Vec<Action>,
    default: usize,
    /// Rank taken in the current execution.
    rank: u16,
    backtrack: Vec<bool>,
    done: Vec<bool>,
}

impl Frame {
    fn pending(&self) -> Vec<usize> {
        (0..self.enabled.len())
            .filter(|&i| self.backtrack[i] && !self.done[i])
            .collect()
    }

    fn rank_of(&self, idx: usize) -> u16 {
        index_to_rank(idx, self.default) as u16
    }

    /// Adds `a` to the backtrack set (every enabled action if `a` is not enabled); the number
    /// of new entries.
    fn add(&mut self, a: Action) -> u64 {
        let mut new = 0;
        match self.enabled.iter().position(|&e| e == a) {
            Some(i) => {
                if !self.backtrack[i] {
                    self.backtrack[i] = true;
                    new += 1;
                }
            }
            None => {
                for b in self.backtrack.iter_mut() {
                    if !*b {
                        *b = true;
                        new += 1;
                    }
                }
            }
        }
        new
    }
}

/// One subtree's result: counts, violation, and backtrack additions to shallower points.
#[derive(Default)]
struct Sub {
    res: Dpor,
    /// (choice point, action) for choice points above the subtree's root.
    adds: Vec<(usize, Action)>,
    /// [`trace_class`] of every run, when collected.
    classes: BTreeSet<String>,
}

impl Sub {
    /// Adds a later subtree's counts, classes and violation (the first one found stays); its
    /// backtrack additions above its root, and whether it completed.
    fn merge(&mut self, p: Sub) -> (Vec<(usize, Action)>, bool) {
        let r = &mut self.res;
        r.runs += p.res.runs;
        r.races += p.res.races;
        r.pruned += p.res.pruned;
        r.bounded += p.res.bounded;
        r.beyond_bound += p.res.beyond_bound;
        r.orders |= p.res.orders;
        r.backtracks += p.res.backtracks;
        if r.violation.is_none() {
            r.violation = p.res.violation;
        }
        self.classes.extend(p.classes);
        (p.adds, p.res.complete)
    }
}

/// Runs `sc` under `ranks`, recording steps.
pub fn run_recorded(sc: &crate::scenario::Scenario, ranks: &[u16]) -> Result<Outcome, WorldError> {
    let mut w = World::new(sc, ModelKind::Plain)?;
    w.record_steps();
    w.run(&Schedule::replay(ranks))
}

/// Every Mazurkiewicz trace of `sc` (see the module doc) with a schedule of at most `bound`
/// deviations from the [`crate::sched::Policy::Continue`] default (`None`: no bound),
/// stopping at the first violation or after about `max_runs` executions (the subtrees of a
/// parallel batch share the runs left when it started, and a choice point's parallel
/// alternatives each get what their subtree had left, so a batch may pass the cap).
pub fn dpor(
    sc: &crate::scenario::Scenario,
    bound: Option<u32>,
    max_runs: u64,
) -> Result<Dpor, WorldError> {
    dpor_observed(sc, bound, max_runs, Shard::WHOLE, &ProgressBar::hidden())
}

/// [`dpor`] restricted to one shard (see the module doc), ticking `progress` once per run.
pub fn dpor_observed(
    sc: &crate::scenario::Scenario,
    bound: Option<u32>,
    max_runs: u64,
    shard: Shard,
    progress: &ProgressBar,
) -> Result<Dpor, WorldError> {
    Ok(search(sc, bound, max_runs, shard, false, progress)?.res)
}

/// [`dpor`], not stopping at violations, also returning the [`trace_class`] of every run (for
/// cross-checking the reduction against [`bounded_classes`]). [`Dpor::violation`] is then the
/// first violating execution in the search's order.
pub fn dpor_classes(
    sc: &crate::scenario::Scenario,
    bound: Option<u32>,
    max_runs: u64,
) -> Result<(Dpor, BTreeSet<String>), WorldError> {
    let sub = search(
        sc,
        bound,
        max_runs,
        Shard::WHOLE,
        true,
        &ProgressBar::hidden(),
    )?;
    Ok((sub.res, sub.classes))
}

/// Subtrees run between two checks for a violation or the run cap.
const BATCH: usize = 16;

/// DPOR in each subtree of the bounded search's fixed frontier that `shard` owns, in fixed
/// batches. The frontier enumerates every alternative (within the bound) at its choice points,
/// so races whose backtrack point lies above a subtree's root need no action.
fn search(
    sc: &crate::scenario::Scenario,
    bound: Option<u32>,
    max_runs: u64,
    shard: Shard,
    collect: bool,
    progress: &ProgressBar,
) -> Result<Sub, WorldError> {
    let (roots, probes, orders) = frontier(sc, bound.unwrap_or(u32::MAX), progress)?;
    let mine: Vec<&Vec<u16>> = roots
        .iter()
        .enumerate()
        .filter(|(k, _)| shard.owns(*k))
        .map(|(_, r)| r)
        .collect();
    let mut all = Sub::default();
    all.res.probe_runs = probes;
    all.res.subtrees = roots.len() as u64;
    all.res.orders = orders;
    for batch in mine.chunks(BATCH) {
        // The runs left, shared among the batch's subtrees.
        let left = max_runs
            .saturating_sub(all.res.runs)
            .div_ceil(batch.len() as u64);
        let parts = batch
            .par_iter()
            .map(|root| subtree(sc, root, left, collect, bound, progress))
            .collect::<Result<Vec<_>, _>>()?;
        let mut stop = false;
        for p in parts {
            // Backtrack points above the roots: the frontier ran every alternative there.
            let (_, complete) = all.merge(p);
            stop |= !complete;
        }
        if stop || all.res.runs >= max_runs {
            return Ok(all);
        }
    }
    all.res.complete = true;
    Ok(all)
}

/// Trace classes, each with the ranks of the first schedule that reached it.
pub type Classes = BTreeMap<String, Vec<u16>>;

/// The [`trace_class`] of every schedule of `sc` with at most `bound` deviations from the
/// default (the space of [`crate::explore::bounded_exhaustive`]); `None` if there are more
/// than `max_runs` of them. With a bound at least the number of choice points, every schedule.
pub fn bounded_classes(
    sc: &crate::scenario::Scenario,
    bound: u32,
    max_runs: u64,
) -> Result<Option<(u64, Classes)>, WorldError> {
    let mut classes = BTreeMap::new();
    let mut prefix: Vec<u16> = Vec::new();
    let mut runs = 0;
    loop {
        if runs >= max_runs {
            return Ok(None);
        }
        let out = run_recorded(sc, &prefix)?;
        runs += 1;
        classes
            .entry(trace_class(&out))
            .or_insert_with(|| out.ranks());
        match crate::explore::next_prefix(&out.choices, bound, 0) {
            Some(p) => prefix = p,
            None => return Ok(Some((runs, classes))),
        }
    }
}

/// The [`trace_class`] of every schedule of `sc`, by naive enumeration of every choice at every
/// choice point (no reduction, no bound); `None` if there are more than `max_runs` schedules.
pub fn all_classes(
    sc: &crate::scenario::Scenario,
    max_runs: u64,
) -> Result<Option<(u64, BTreeSet<String>)>, WorldError> {
    // No deviation bound: the odometer of the bounded search visits every schedule.
    Ok(bounded_classes(sc, u32::MAX, max_runs)?.map(|(runs, c)| (runs, c.into_keys().collect())))
}

/// The DFS below the choice-point prefix `root` (ranks).
fn subtree(
    sc: &crate::scenario::Scenario,
    root: &[u16],
    budget: u64,
    collect: bool,
    bound: Option<u32>,
    progress: &ProgressBar,
) -> Result<Sub, WorldError> {
    let d = root.len();
    let mut sub = Sub::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut ranks: Vec<u16> = root.to_vec();
    'runs: loop {
        if sub.res.runs >= budget {
            return Ok(sub);
        }
        let out = run_recorded(sc, &ranks)?;
        sub.res.runs += 1;
        progress.inc(1);
        sub.res.orders |= out.orders;
        if collect {
            sub.classes.insert(trace_class(&out));
        }
        let steps = out.steps.as_deref().unwrap_or(&[]);
        for s in steps {
            let Some(cp) = s.choice else { continue };
            if cp < d + stack.len() {
                continue;
            }
            let n = s.enabled.len();
            let idx = s
                .acted
                .and_then(|a| s.enabled.iter().position(|&e| e == a))
                .unwrap_or(0);
            let mut done = vec![false; n];
            done[idx] = true;
            stack.push(Frame {
                enabled: s.enabled.clone(),
                default: s.default,
                rank: index_to_rank(idx, s.default) as u16,
                backtrack: done.clone(),
                done,
            });
        }
        match out.verdict {
            Verdict::Violated(_) if !collect => {
                sub.res.violation = Some(out);
                return Ok(sub);
            }
            Verdict::Violated(_) => {
                if sub.res.violation.is_none() {
                    sub.res.violation = Some(out.clone());
                }
            }
            Verdict::Bound => sub.res.bounded += 1,
            Verdict::Holds => {}
        }
        let mut rs = races(steps);
        if bound.is_some() {
            rs = widen(steps, rs);
        }
        for (i, a) in rs {
            sub.res.races += 1;
            let Some(cp) = steps[i].choice else { continue };
            if cp < d {
                sub.adds.push((cp, a));
            } else if let Some(f) = stack.get_mut(cp - d) {
                sub.res.backtracks += f.add(a);
            }
        }
        drop(out);
        // The next alternative: the deepest choice point with a pending one.
        loop {
            if stack.is_empty() {
                sub.res.complete = true;
                return Ok(sub);
            }
            let base_dev = root
                .iter()
                .copied()
                .chain(stack[..stack.len() - 1].iter().map(|f| f.rank))
                .filter(|&r| r != 0)
                .count() as u32;
            let top = stack.last_mut().expect("non-empty");
            // Alternatives past the deviation bound are not run.
            for i in top.pending() {
                if bound.is_some_and(|b| base_dev + u32::from(top.rank_of(i) != 0) > b) {
                    top.done[i] = true;
                    sub.res.beyond_bound += 1;
                }
            }
            let pending = top.pending();
            if pending.is_empty() {
                sub.res.pruned += top.done.iter().filter(|&&x| !x).count() as u64;
                stack.pop();
                continue;
            }
            let base: Vec<u16> = root
                .iter()
                .copied()
                .chain(stack[..stack.len() - 1].iter().map(|f| f.rank))
                .collect();
            let top = stack.last_mut().expect("non-empty");
            if pending.len() == 1 {
                let idx = pending[0];
                top.done[idx] = true;
                top.rank = top.rank_of(idx);
                ranks = base;
                ranks.push(top.rank);
                continue 'runs;
            }
            // Several pending alternatives: independent subtrees, in parallel.
            let kids: Vec<Vec<u16>> = pending
                .iter()
                .map(|&idx| {
                    top.done[idx] = true;
                    let mut k = base.clone();
                    k.push(top.rank_of(idx));
                    k
                })
                .collect();
            let left = budget.saturating_sub(sub.res.runs);
            let parts = kids
                .par_iter()
                .map(|k| subtree(sc, k, left, collect, bound, progress))
                .collect::<Result<Vec<_>, _>>()?;
            let mut stop = false;
            for p in parts {
                let (adds, complete) = sub.merge(p);
                for (cp, a) in adds {
                    if cp < d {
                        sub.adds.push((cp, a));
                    } else if let Some(f) = stack.get_mut(cp - d) {
                        sub.res.backtracks += f.add(a);
                    }
                }
                // Out of budget (or stopped by a violation).
                stop |= !complete;
            }
            if stop {
                return Ok(sub);
            }
        }
    }
}

/// A node of the race analysis: the action part or the RTL part of a cycle.
#[derive(Clone, Copy)]
struct Node<'a> {
    cycle: usize,
    /// `None` for the RTL part (the passing of time).
    agent: Option<Action>,
    touches: &'a [Touch],
}

fn nodes(steps: &[Step]) -> Vec<Node<'_>> {
    steps
        .iter()
        .enumerate()
        .flat_map(|(j, s)| {
            [
                Node {
                    cycle: j,
                    agent: Some(s.agent()),
                    touches: &s.touches,
                },
                Node {
                    cycle: j,
                    agent: None,
                    touches: &s.rtl,
                },
            ]
        })
        .collect()
}

fn conflict(a: &[Touch], b: &[Touch]) -> bool {
    a.iter().any(|x| b.iter().any(|y| x.conflicts(y)))
}

/// The races of a trace, as backtrack points `(cycle, action)`: pairs of dependent transitions
/// `x < y` of different agents where `x` does not happen before `y` through another
/// transition, and the races of pending transitions (see `pending_races`). Each cycle is two
/// transitions: the action's part, then the RTL's own part (the passing of time, one agent
/// whose cycles are all dependent). To reverse a race whose later side is an action, its agent
/// runs at the cycle of the earlier side; to reverse one whose later side is the RTL, the
/// earlier action is delayed: [`Action::Idle`] at its cycle.
///
/// Happens-before is dependency in trace order, transitively closed, plus *enabling*: the
/// cycle after which the agent of a scheduled action became enabled (the last cycle before it
/// where it was not) happens before it. [`Action::Idle`] gets no enabling edge.
pub fn races(steps: &[Step]) -> Vec<(usize, Action)> {
    let ns = nodes(steps);
    let m = ns.len();
    let words = m.div_ceil(64);
    let mut hb = vec![0u64; m * words];
    let mut out = Vec::new();
    let mut direct = Vec::new();
    let mut through = vec![0u64; words];
    // Earlier nodes by resource touched, and the last node of each agent: the dependent
    // earlier nodes of a node without comparing every pair. Of an agent's earlier nodes only
    // the last is needed: it happens after all the others.
    let mut by_res: HashMap<Res, Vec<(usize, Touch)>> = HashMap::new();
    let mut last: HashMap<Option<Action>, usize> = HashMap::new();
    for y in 0..m {
        direct.clear();
        let agent = ns[y].agent;
        if agent != Some(Action::Idle) {
            direct.extend(last.get(&agent).copied());
        }
        for t in ns[y].touches {
            for (x, u) in by_res.get(&t.res).into_iter().flatten() {
                if u.conflicts(t) {
                    direct.push(*x);
                }
            }
        }
        direct.sort_unstable();
        direct.dedup();
        for t in ns[y].touches {
            by_res.entry(t.res).or_default().push((y, *t));
        }
        last.insert(agent, y);
        through.iter_mut().for_each(|w| *w = 0);
        for &x in &direct {
            for w in 0..words {
                through[w] |= hb[x * words + w];
            }
        }
        let j = ns[y].cycle;
        let enabler = match (ns[y].agent, steps[j].acted) {
            (Some(_), Some(a)) if a != Action::Idle => {
                (0..j).rev().find(|&k| !steps[k].enabled.contains(&a))
            }
            _ => None,
        };
        if let Some(e) = enabler {
            for x in [2 * e, 2 * e + 1] {
                for w in 0..words {
                    through[w] |= hb[x * words + w];
                }
                through[x / 64] |= 1 << (x % 64);
            }
        }
        for &x in &direct {
            let via = through[x / 64] >> (x % 64) & 1 == 1;
            if via || ns[x].agent == ns[y].agent {
                continue;
            }
            let later = ns[y].agent.unwrap_or(Action::Idle);
            // Delaying an action behind the RTL's own work, or running an action earlier.
            out.push((ns[x].cycle, later));
        }
        let row = &mut hb[y * words..(y + 1) * words];
        row.copy_from_slice(&through);
        for &x in &direct {
            row[x / 64] |= 1 << (x % 64);
        }
    }
    pending_races(steps, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

/// Races of transitions that were enabled but not taken, which the executed trace does not
/// show (F&G consider the next transition of every agent in every state). A transition that
/// disables an enabled agent is in race with it. A pending action with a predicted footprint
/// ([`Step::pending`]) races with every transition of another agent that conflicts with it
/// while it is pending with that footprint (for a drain: since its entry was stored).
fn pending_races(steps: &[Step], out: &mut Vec<(usize, Action)>) {
    let m = steps.len();
    for k in 0..m {
        let a = steps[k].agent();
        for &p in &steps[k].enabled {
            if p == a || p == Action::Idle {
                continue;
            }
            if steps.get(k + 1).is_some_and(|n| !n.enabled.contains(&p)) {
                out.push((k, p));
            }
        }
        for (p, fp) in &steps[k].pending {
            let p = *p;
            if p == a {
                continue;
            }
            // Only at the end of the window in which it is pending with this footprint.
            let same =
                |n: &Step| n.agent() != p && n.pending.iter().any(|(q, f)| *q == p && f == fp);
            if steps.get(k + 1).is_some_and(same) {
                continue;
            }
            let start = (0..k)
                .rev()
                .find(|&i| !same(&steps[i]))
                .map_or(0, |i| i + 1);
            // A drain's entry may have been stored before it became the oldest.
            let lo = match p {
                Action::Drain(c) => {
                    let sb: Vec<Res> = fp
                        .iter()
                        .filter(|t| matches!(t.res, Res::Sb(..)))
                        .map(|t| t.res)
                        .collect();
                    let _ = c;
                    (0..k)
                        .rev()
                        .find(|&i| {
                            steps[i].agent() != p
                                && steps[i]
                                    .touches
                                    .iter()
                                    .any(|t| t.write && sb.contains(&t.res))
                        })
                        .map_or(0, |i| i + 1)
                        .min(start)
                }
                _ => start,
            };
            for (i, s) in steps.iter().enumerate().take(k + 1).skip(lo) {
                if (s.agent() != p && conflict(&s.touches, fp)) || conflict(&s.rtl, fp) {
                    out.push((i, p));
                }
            }
        }
    }
}

/// A run's class for comparing searches: the verdict, and per memory word the sequence of
/// writes (agent, new value), each followed by the sorted reads (agent, value) that saw it (a
/// load forwarded from the CPU's own store buffer counts as a read of that store's commit).
/// Two schedules in the same Mazurkiewicz trace have the same class.
pub fn trace_class(out: &Outcome) -> String {
    type Seg = ((String, u64), Vec<(String, u64)>);
    let mut words: BTreeMap<u64, Vec<Seg>> = BTreeMap::new();
    // Forwarded loads waiting for the commit of the store they read: (word, CPU) -> values.
    let mut forwarded: BTreeMap<(u64, u8), Vec<u64>> = BTreeMap::new();
    for a in out.accesses.as_deref().unwrap_or(&[]) {
        let who = match a.agent {
            Agent::Host(c) => format!("h{c}"),
            Agent::Rtl { core, port } => format!("r{core}.{port}"),
        };
        let segs = words
            .entry(a.addr)
            .or_insert_with(|| vec![(("init".into(), 0), Vec::new())]);
        match (a.kind, a.agent) {
            (AccessKind::Load | AccessKind::RtlRead, _) => {
                if let Some(s) = segs.last_mut() {
                    s.1.push((who, a.value));
                }
            }
            // A forwarded load reads the store it forwards from: it counts as a read of that
            // store's commit (as a load after the commit would), so that the class does not
            // depend on where a CPU's commit falls among its own loads.
            (AccessKind::LoadForwarded, Agent::Host(c)) => {
                forwarded.entry((a.addr, c)).or_default().push(a.value);
            }
            (AccessKind::Commit, Agent::Host(c)) => {
                let mut reads = Vec::new();
                if let Some(f) = forwarded.get_mut(&(a.addr, c)) {
                    f.retain(|&v| {
                        let hit = v == a.value;
                        if hit {
                            reads.push((who.clone(), v));
                        }
                        !hit
                    });
                }
                segs.push(((who, a.value), reads));
            }
            (
                AccessKind::Commit
                | AccessKind::LockedRmw
                | AccessKind::RtlWrite
                | AccessKind::RtlLockSet
                | AccessKind::RtlLockClear,
                _,
            ) => segs.push(((who, a.value), Vec::new())),
            _ => {}
        }
    }
    let mut s = match &out.verdict {
        Verdict::Holds => "holds".to_string(),
        Verdict::Bound => "bound".to_string(),
        Verdict::Violated(v) => format!("{:?} v{} {:#x}", v.invariant, v.vcpu, v.vector),
    };
    for ((addr, c), vs) in forwarded {
        if !vs.is_empty() {
            s.push_str(&format!(
                "|{addr:#x} h{c} forwarded, never committed: {vs:?}"
            ));
        }
    }
    for (addr, segs) in words {
        s.push_str(&format!("|{addr:#x}:"));
        for ((w, v), mut rs) in segs {
            rs.sort();
            s.push_str(&format!(" {w}={v:#x}{rs:?}"));
        }
    }
    s
}

/// Under a deviation bound, also the earlier choice points of each race's backtrack action:
/// every choice point before the race's in which that action was enabled. Reversing a race at its own point may take more deviations than
/// the bound allows where scheduling the action earlier takes fewer (the conservative
/// backtracking points of bounded POR, Coons, Musuvathi and McKinley, OOPSLA 2013, for a bound
/// on deviations rather than preemptions). Without it the bounded search loses trace classes
/// that the bounded enumeration reaches (`tb/dpor.rs`).
fn widen(steps: &[Step], races: Vec<(usize, Action)>) -> Vec<(usize, Action)> {
    let mut out = races.clone();
    for &(i, a) in &races {
        for (k, s) in steps.iter().enumerate().take(i) {
            if s.choice.is_some() && s.enabled.contains(&a) {
                out.push((k, a));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}
