//! Observers of a run: what records a run without being part of it (the waveform's software
//! lanes, [`crate::wave::Lanes`]). The loop calls them at fixed points of every cycle; they see
//! the world read-only, so a run is the same with or without them, and this module needs
//! nothing from the recorders.

use super::{Action, Verdict, World};

/// Sees every cycle of a run ([`World::run_with`]).
pub trait Observer {
    /// At the start of a cycle, after the choice point (if any) and before the action.
    fn begin(&mut self, w: &World);
    /// At the end of the cycle, after the edge and the routing of the RTL's outputs; `acted`
    /// is the action the schedule took, `None` when the cycle just passed.
    fn end(&mut self, w: &World, acted: Option<Action>);
    /// Once, when the run ends with `verdict` at RTL cycle `cycle`.
    fn finish(&mut self, verdict: &Verdict, cycle: u64);
}

/// No observer: the loop of an ordinary run (monomorphised away).
impl Observer for () {
    fn begin(&mut self, _: &World) {}
    fn end(&mut self, _: &World, _: Option<Action>) {}
    fn finish(&mut self, _: &Verdict, _: u64) {}
}
