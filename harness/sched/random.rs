//! Uniformly random choices.

use super::{mix, ChoicePoint, Scheduler};

/// Uniformly random, seeded: the choice at a point depends on the seed and the point's
/// index only, so a run is a function of the seed.
#[derive(Clone, Copy, Debug)]
pub struct Random {
    /// Seed.
    pub seed: u64,
}

impl Scheduler for Random {
    fn choose(&self, c: &ChoicePoint) -> usize {
        (mix(self.seed ^ mix(c.point as u64)) % c.agents.len() as u64) as usize
    }
}
