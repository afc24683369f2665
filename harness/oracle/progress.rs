//! The no-progress invariant: a run that reaches its cycle limit without quiescence is never
//! evidence that anything holds. If the schedule was fair over the end of the run (no action
//! stayed enabled all through the final stretch without being taken), the world is stuck
//! whatever is scheduled: a hang or a livelock, reported with what is still active. Otherwise
//! the run is *cut*: a schedule no machine runs forever (one agent starved by the others),
//! which shows nothing, and a search with cut runs is `partial`.
//!
//! Actions are identified by slots (the world maps its actions to `0..SLOTS`); the idle
//! action (letting a cycle pass) is not an agent and never counts.

use super::{Invariant, Oracle, View, Violation};

/// Number of action slots.
pub const SLOTS: usize = 128;

/// When each action became continuously enabled without being taken.
#[derive(Clone, Debug)]
pub struct Fairness {
    /// Length of the final stretch, in cycles.
    stretch: u64,
    /// Cycle since which the slot has been enabled and not taken.
    since: [u64; SLOTS],
    /// Last cycle the slot was seen enabled (`u64::MAX`: not since it was last taken).
    seen: [u64; SLOTS],
}

impl Fairness {
    /// Judges cut runs over a final stretch of `stretch` cycles.
    pub fn new(stretch: u64) -> Self {
        Fairness {
            stretch: stretch.max(1),
            since: [0; SLOTS],
            seen: [u64::MAX; SLOTS],
        }
    }

    /// The action in `slot` is enabled at `cycle` (cycles counted from the run's start).
    #[inline]
    pub fn enabled(&mut self, slot: usize, cycle: u64) {
        let Some(seen) = self.seen.get_mut(slot) else {
            return;
        };
        if *seen == u64::MAX || *seen + 1 != cycle {
            self.since[slot] = cycle;
        }
        *seen = cycle;
    }

    /// The action in `slot` was taken.
    #[inline]
    pub fn taken(&mut self, slot: usize) {
        if let Some(s) = self.seen.get_mut(slot) {
            *s = u64::MAX;
        }
    }

    /// A slot enabled through the whole final stretch ending at `cycle` without being taken.
    pub fn starved(&self, cycle: u64) -> Option<usize> {
        (0..SLOTS).find(|&s| {
            self.seen[s] != u64::MAX
                && self.seen[s] + 1 >= cycle
                && cycle.saturating_sub(self.since[s]) >= self.stretch
        })
    }

    /// Whether the schedule was fair over the final stretch ending at `cycle`.
    pub fn fair(&self, cycle: u64) -> bool {
        self.starved(cycle).is_none()
    }
}

impl Oracle for Fairness {
    fn at_cycle_limit(&self, w: &dyn View, cycle: u64) -> Option<Violation> {
        let (vcpu, vector) = w.stuck();
        self.fair(cycle).then(|| Violation {
            invariant: Invariant::NoProgress,
            cycle,
            vcpu,
            vector,
            detail: format!(
                "no quiescence after {cycle} cycles under a fair schedule (every action \
                 enabled in the last {} cycles was taken): {}",
                self.stretch,
                w.activity()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_enabled_all_through_the_stretch_and_never_taken_makes_the_run_unfair() {
        let mut f = Fairness::new(10);
        for c in 0..30 {
            f.enabled(3, c);
            if c % 5 == 0 {
                f.enabled(4, c);
            }
            f.enabled(5, c);
            f.taken(5);
        }
        assert_eq!(f.starved(30), Some(3));
        let mut g = Fairness::new(10);
        for c in 0..30 {
            g.enabled(3, c);
            if c == 25 {
                g.taken(3);
            }
        }
        assert!(g.fair(30), "taken within the stretch");
        let mut h = Fairness::new(10);
        for c in 0..30 {
            if c < 15 {
                h.enabled(3, c);
            }
        }
        assert!(h.fair(30), "no longer enabled at the end");
    }
}
