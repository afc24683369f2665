//! The RTL's memory ports: reads, locked read-modify-writes, writes.

use super::*;

impl Memory {
    // ------------------------------------------------------------------
    // RTL ports
    // ------------------------------------------------------------------

    /// RTL port read: returns the word in global memory at `addr` at the moment the
    /// harness completes the transaction. Sees only committed host stores, never a host
    /// CPU's store buffer. Logged as `RtlRead`.
    pub fn rtl_read(&mut self, core: u8, port: u8, addr: u64) -> Result<u64, MemError> {
        let i = self.index(addr)?;
        let v = self.words[i];
        self.record(Agent::Rtl { core, port }, AccessKind::RtlRead, addr, v);
        if let Some(w) = self.watch.as_deref_mut() {
            w.on_read(
                Agent::Rtl { core, port },
                AccessKind::RtlRead,
                addr,
                self.actor,
            );
        }
        Ok(v)
    }

    /// RTL port write of the bytes of `data` enabled by `mask`, directly to global
    /// memory (immediately visible to every agent). Logged as `RtlWrite` (value = new
    /// word).
    pub fn rtl_write(
        &mut self,
        core: u8,
        port: u8,
        addr: u64,
        data: u64,
        mask: u8,
    ) -> Result<(), MemError> {
        let i = self.index(addr)?;
        let m = mask_bits(mask);
        let old = self.words[i];
        let new = (old & !m) | (data & m);
        self.words[i] = new;
        self.mark(i);
        self.record(Agent::Rtl { core, port }, AccessKind::RtlWrite, addr, new);
        self.watch_write(
            Agent::Rtl { core, port },
            AccessKind::RtlWrite,
            addr,
            old,
            new,
            data & m,
        );
        Ok(())
    }

    /// RTL port atomic set: `mem[addr] |= bits` as one indivisible transaction (the
    /// APM's "atomically set the IRR bit"). Returns the old word. Logged as `RtlLockSet`
    /// (value = new word).
    pub fn rtl_lock_set(
        &mut self,
        core: u8,
        port: u8,
        addr: u64,
        bits: u64,
    ) -> Result<u64, MemError> {
        let i = self.index(addr)?;
        let old = self.words[i];
        self.words[i] = old | bits;
        self.mark(i);
        self.record(
            Agent::Rtl { core, port },
            AccessKind::RtlLockSet,
            addr,
            old | bits,
        );
        self.watch_write(
            Agent::Rtl { core, port },
            AccessKind::RtlLockSet,
            addr,
            old,
            old | bits,
            bits,
        );
        Ok(old)
    }

    /// RTL port atomic clear: `mem[addr] &= !bits` as one indivisible transaction.
    /// Returns the old word. Logged as `RtlLockClear` (value = new word).
    pub fn rtl_lock_clear(
        &mut self,
        core: u8,
        port: u8,
        addr: u64,
        bits: u64,
    ) -> Result<u64, MemError> {
        let i = self.index(addr)?;
        let old = self.words[i];
        self.words[i] = old & !bits;
        self.mark(i);
        self.record(
            Agent::Rtl { core, port },
            AccessKind::RtlLockClear,
            addr,
            old & !bits,
        );
        self.watch_write(
            Agent::Rtl { core, port },
            AccessKind::RtlLockClear,
            addr,
            old,
            old & !bits,
            bits,
        );
        Ok(old)
    }
}
