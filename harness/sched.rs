//! Schedules: which enabled action each choice point takes.
//!
//! A [`Schedule`] is data (forced ranks, then a [`Policy`]), what replay files and searches
//! pass around. Each policy is a strategy implementing the one [`Scheduler`] trait, one file
//! a strategy (shuttle's `scheduler/` habit): [`DefaultOrder`], [`Random`], [`Pct`], and
//! [`Replay`], which forces the prefix and hands over to the policy after it. The world asks
//! [`Schedule::choose`] at every choice point, with the [`ChoicePoint`] it stands at; the
//! strategies know nothing of the world but agent identities (so that this module imports
//! nothing of the simulator).

mod default_order;
mod pct;
mod random;
mod replay;

pub use default_order::DefaultOrder;
pub use pct::Pct;
pub use random::Random;
pub use replay::Replay;

/// Most actions enabled at one choice point.
pub const MAX_ENABLED: usize = 32;

/// What a strategy sees of a choice point. `agents[i]` identifies the agent of the `i`-th
/// enabled action (the same agent has the same id at every point of a run: a vCPU thread, a
/// guest, a host CPU's store buffer, ...).
#[derive(Clone, Copy, Debug)]
pub struct ChoicePoint<'a> {
    /// Index of the choice point in the run (0 for the first).
    pub point: usize,
    /// The enabled actions' agents, in the world's order (at least two).
    pub agents: &'a [u64],
    /// Index of the default action: the agent that acted last, if still enabled, else 0.
    pub default: usize,
    /// Per earlier choice point: the agent that acted there.
    pub acted: &'a [u64],
}

/// A strategy: picks the index of the enabled action to take at a choice point.
pub trait Scheduler {
    /// The index into `c.agents` of the action to take.
    fn choose(&self, c: &ChoicePoint) -> usize;
}

/// How choices are made where several actions are enabled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Keep running the agent that acted last while it is enabled, else the first enabled
    /// (the default of bounded exhaustive search: every other choice is a deviation).
    Continue,
    /// Uniformly random, seeded.
    Random(u64),
    /// PCT (Burckhardt et al., ASPLOS 2010): random agent priorities, the highest enabled acts;
    /// at `depth - 1` random choice points among the first `steps` the acting agent drops to
    /// the lowest priority.
    Pct {
        /// Seed.
        seed: u64,
        /// Bug depth the run targets.
        depth: u8,
        /// Choice points over which the change points are drawn.
        steps: u32,
    },
}

/// A schedule: forced choices first (as ranks, 0 = the [`Policy::Continue`] default), then a
/// policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Ranks for the first choice points.
    pub prefix: Vec<u16>,
    /// What decides after the prefix.
    pub policy: Policy,
}

impl Schedule {
    /// Default choices everywhere.
    pub fn continuing() -> Self {
        Schedule {
            prefix: Vec::new(),
            policy: Policy::Continue,
        }
    }

    /// Seeded random choices.
    pub fn random(seed: u64) -> Self {
        Schedule {
            prefix: Vec::new(),
            policy: Policy::Random(seed),
        }
    }

    /// PCT with the given seed and depth.
    pub fn pct(seed: u64, depth: u8) -> Self {
        Schedule {
            prefix: Vec::new(),
            policy: Policy::Pct {
                seed,
                depth,
                steps: 400,
            },
        }
    }

    /// Replays recorded ranks.
    pub fn replay(ranks: &[u16]) -> Self {
        Schedule {
            prefix: ranks.to_vec(),
            policy: Policy::Continue,
        }
    }
}

impl Schedule {
    /// The index of the action to take at `c`: the prefix's rank while it lasts, then the
    /// policy's choice.
    pub fn choose(&self, c: &ChoicePoint) -> usize {
        Replay {
            prefix: &self.prefix,
            then: &self.policy,
        }
        .choose(c)
    }
}

impl Scheduler for Policy {
    fn choose(&self, c: &ChoicePoint) -> usize {
        match *self {
            Policy::Continue => DefaultOrder.choose(c),
            Policy::Random(seed) => Random { seed }.choose(c),
            Policy::Pct { seed, depth, steps } => Pct { seed, depth, steps }.choose(c),
        }
    }
}

/// splitmix64: a small, seedable, allocation-free generator.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Rank of a choice: 0 for the default, then the other indices in order (the rank of
/// `enabled[idx]` in a [`Schedule`] prefix when `enabled[default]` is the default).
pub fn index_to_rank(idx: usize, default: usize) -> usize {
    match idx.cmp(&default) {
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Less => idx + 1,
        std::cmp::Ordering::Greater => idx,
    }
}

/// Inverse of [`index_to_rank`]; ranks past the end wrap.
pub fn rank_to_index(rank: u16, default: usize, n: usize) -> usize {
    let r = usize::from(rank) % n;
    if r == 0 {
        default
    } else if r - 1 < default {
        r - 1
    } else {
        r
    }
}
