//! The cycle counter, the access log and the debug accesses (never logged).

use super::*;

impl Memory {
    // ------------------------------------------------------------------
    // Cycle and log
    // ------------------------------------------------------------------

    /// Sets the cycle stamped on subsequent log entries.
    pub fn set_cycle(&mut self, cycle: u64) {
        self.cycle = cycle;
    }

    /// The cycle currently stamped on log entries.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// Turns access logging on or off (off for fast exploration; the memory semantics
    /// are identical either way).
    pub fn set_logging(&mut self, on: bool) {
        self.logging = on;
    }

    /// Whether accesses are being logged.
    pub fn logging(&self) -> bool {
        self.logging
    }

    /// The access log, oldest first.
    pub fn log(&self) -> &[Access] {
        &self.log
    }

    /// Shows every visible write and every global read to `w` from now on, whether logging
    /// is on or not (the ordering coverage: [`crate::coverage::OrderWatch`]).
    pub fn observe(&mut self, w: impl MemObserver) {
        self.watch = Some(Box::new(w));
    }

    /// The observer given to [`Memory::observe`], if it is a `T`.
    pub fn observer<T: MemObserver>(&self) -> Option<&T> {
        self.watch
            .as_deref()
            .and_then(|w| w.as_any().downcast_ref())
    }

    /// Names the vCPU whose KVM thread performs the next accesses ([`NO_ACTOR`]: none), for
    /// the ordering coverage (which loads are a software sender's).
    pub fn set_actor(&mut self, vcpu: u8) {
        self.actor = vcpu;
    }

    /// Empties the access log (keeps its allocation).
    pub fn clear_log(&mut self) {
        self.log.clear();
    }

    // ------------------------------------------------------------------
    // Debug access (never logged)
    // ------------------------------------------------------------------

    /// The word in global memory at `addr`, ignoring every store buffer. Not logged.
    pub fn peek(&self, addr: u64) -> Result<u64, MemError> {
        Ok(self.words[self.index(addr)?])
    }

    /// Writes `val` straight to global memory at `addr`, bypassing the store buffers
    /// (for initialisation: tables and backing pages before the run). Not logged.
    pub fn poke(&mut self, addr: u64, val: u64) -> Result<(), MemError> {
        let i = self.index(addr)?;
        self.words[i] = val;
        self.mark(i);
        Ok(())
    }

    /// What [`Memory::host_load`] on `cpu` would return now (own store buffer forwarded
    /// over global memory). Not logged.
    pub fn visible_to(&self, cpu: u8, addr: u64) -> Result<u64, MemError> {
        let c = self.cpu_index(cpu)?;
        let i = self.index(addr)?;
        Ok(self.forward(c, addr, i).0)
    }
}
