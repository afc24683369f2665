//! Replay: forced choices, then another strategy.

use super::{rank_to_index, ChoicePoint, Scheduler};

/// Takes the `prefix`'s ranks at the first choice points (rank 0 is the default, see
/// [`super::index_to_rank`]; ranks past the enabled count wrap), then defers to `then`.
#[derive(Clone, Copy, Debug)]
pub struct Replay<'a, S> {
    /// Ranks of the first choice points.
    pub prefix: &'a [u16],
    /// The strategy after the prefix.
    pub then: &'a S,
}

impl<S: Scheduler> Scheduler for Replay<'_, S> {
    fn choose(&self, c: &ChoicePoint) -> usize {
        match self.prefix.get(c.point) {
            Some(&r) => rank_to_index(r, c.default, c.agents.len()),
            None => self.then.choose(c),
        }
    }
}
