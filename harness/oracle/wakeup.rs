//! The lost-wake-up invariant: at quiescence no vCPU sleeps in `schedule()` while its IRR
//! holds a vector: nothing is left that would wake it.

use super::{Invariant, Oracle, View, Violation};
use crate::apic::highest_vector;

/// Judges sleeping vCPUs at quiescence; holds no state.
#[derive(Clone, Copy, Debug, Default)]
pub struct WakeupCheck;

impl Oracle for WakeupCheck {
    fn at_quiescence(&self, w: &dyn View, cycle: u64) -> Option<Violation> {
        (0..w.n_vcpus()).find_map(|v| {
            let vector = highest_vector(&w.irr(v))?;
            w.sleeping(v).then(|| Violation {
                invariant: Invariant::LostWakeup,
                cycle,
                vcpu: v,
                vector,
                detail: "sleeps in schedule() with the vector pending in its IRR; nothing is \
                         left to wake it"
                    .into(),
            })
        })
    }
}
