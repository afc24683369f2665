//! Observers of memory: what a run records of the accesses without being part of memory's
//! semantics (the ordering coverage of [`crate::coverage`]). Memory calls its observer at
//! every global read and every write that becomes visible; it knows nothing of what the
//! observer does with them.

use super::{AccessKind, Agent};
use std::any::Any;
use std::fmt;

/// No KVM thread is acting (a store-buffer drain, a timer, the RTL).
pub const NO_ACTOR: u8 = u8::MAX;

/// Sees the accesses of a [`super::Memory`] ([`super::Memory::observe`]). Called on the
/// per-cycle path: an implementation must not allocate.
pub trait MemObserver: fmt::Debug + Send + Sync + 'static {
    /// A read of global memory at `addr` by `agent` (`kind`: a host load or an RTL read);
    /// `actor` is the vCPU whose KVM thread is acting, or [`NO_ACTOR`].
    fn on_read(&mut self, agent: Agent, kind: AccessKind, addr: u64, actor: u8);

    /// A write that became globally visible at `addr` (`old` -> `new`) by `agent`: a host
    /// `Commit` or `LockedRmw`, or an RTL write, locked set or locked clear.
    fn on_write(
        &mut self,
        agent: Agent,
        kind: AccessKind,
        addr: u64,
        old: u64,
        new: u64,
        actor: u8,
    );

    /// A copy of the observer, for a snapshot of the memory.
    fn boxed_clone(&self) -> Box<dyn MemObserver>;

    /// The observer as [`Any`], so its owner can read it back ([`super::Memory::observer`]).
    fn as_any(&self) -> &dyn Any;
}

impl Clone for Box<dyn MemObserver> {
    fn clone(&self) -> Self {
        self.boxed_clone()
    }
}
