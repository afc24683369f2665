//! PCT: probabilistic concurrency testing.

use super::{mix, ChoicePoint, Scheduler};

/// PCT (Burckhardt et al., ASPLOS 2010): random agent priorities, the highest enabled acts;
/// at `depth - 1` random choice points among the first `steps` the acting agent drops to the
/// lowest priority.
#[derive(Clone, Copy, Debug)]
pub struct Pct {
    /// Seed.
    pub seed: u64,
    /// Bug depth the run targets.
    pub depth: u8,
    /// Choice points over which the change points are drawn.
    pub steps: u32,
}

impl Pct {
    /// The priority of `agent` at `c`: its random base priority, or `d` if it acted at the
    /// `d`-th change point passed (the latest such wins).
    fn priority(&self, c: &ChoicePoint, agent: u64) -> u64 {
        let mut pr = mix(self.seed ^ mix(agent)) | 1 << 63;
        for d in 1..u64::from(self.depth) {
            let cp = mix(self.seed ^ 0xC0FFEE ^ d) % u64::from(self.steps.max(1));
            if c.point as u64 > cp && c.acted.get(cp as usize) == Some(&agent) {
                pr = d;
            }
        }
        pr
    }
}

impl Scheduler for Pct {
    fn choose(&self, c: &ChoicePoint) -> usize {
        (0..c.agents.len())
            .max_by_key(|&i| (self.priority(c, c.agents[i]), std::cmp::Reverse(i)))
            .unwrap_or(0)
    }
}
