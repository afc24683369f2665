//! The default order: keep running the agent that acted last.

use super::{ChoicePoint, Scheduler};

/// Keeps running the agent that acted last while it is enabled, else the first enabled (the
/// default of bounded exhaustive search: every other choice is a deviation).
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultOrder;

impl Scheduler for DefaultOrder {
    fn choose(&self, c: &ChoicePoint) -> usize {
        c.default
    }
}
