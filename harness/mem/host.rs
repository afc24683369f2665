//! Host CPUs on x86-TSO: loads with store forwarding, buffered stores, fences, locked RMWs.

use super::*;

impl Memory {
    // ------------------------------------------------------------------
    // Host CPUs (x86-TSO)
    // ------------------------------------------------------------------

    /// Host load (`MOV` from memory; Linux `READ_ONCE`).
    ///
    /// x86-TSO (Sewell et al., CACM 2010): if the CPU's own store buffer holds stores to
    /// `addr`, their bytes are forwarded, youngest first per byte; bytes no buffered
    /// store covers come from global memory. Logged as `LoadForwarded` if any buffered
    /// byte was used, else `Load`.
    pub fn host_load(&mut self, cpu: u8, addr: u64) -> Result<u64, MemError> {
        let c = self.cpu_index(cpu)?;
        let i = self.index(addr)?;
        let (v, fwd) = self.forward(c, addr, i);
        let kind = if fwd {
            AccessKind::LoadForwarded
        } else {
            AccessKind::Load
        };
        self.record(Agent::Host(cpu), kind, addr, v);
        if let Some(w) = self.watch.as_deref_mut() {
            w.on_read(Agent::Host(cpu), kind, addr, self.actor);
        }
        Ok(v)
    }

    /// Load-acquire (Linux `smp_load_acquire`). On x86 this is a plain `MOV` (TSO never
    /// reorders a load with later loads or stores; the kernel adds only a compiler
    /// barrier), so it is exactly [`Memory::host_load`].
    pub fn load_acquire(&mut self, cpu: u8, addr: u64) -> Result<u64, MemError> {
        self.host_load(cpu, addr)
    }

    /// Host store (`MOV` to memory; Linux `WRITE_ONCE`) of the bytes of `val` enabled by
    /// `mask` (see [`mask_bits`]).
    ///
    /// x86-TSO: the store enters the tail of the CPU's FIFO store buffer and is not
    /// visible to other agents until committed ([`Memory::drain_one`], [`Memory::fence`]
    /// or a locked op). The buffer has a fixed capacity: **if it is full, the oldest
    /// entry is committed first** (logged as a `Commit` before the `Store`), which is
    /// what a real core does when it stalls on a full buffer. Logged as `Store`.
    pub fn host_store(&mut self, cpu: u8, addr: u64, val: u64, mask: u8) -> Result<(), MemError> {
        let c = self.cpu_index(cpu)?;
        self.index(addr)?;
        let value = val & mask_bits(mask);
        let entry = SbEntry { addr, value, mask };
        if self.sb_capacity == 0 {
            // Sequentially consistent mode: write straight through.
            self.record(Agent::Host(cpu), AccessKind::Store, addr, value);
            self.commit(cpu, entry);
            return Ok(());
        }
        if self.sbs[c].is_full() {
            self.drain_oldest(c);
        }
        self.sbs[c].push(entry);
        self.record(Agent::Host(cpu), AccessKind::Store, addr, value);
        Ok(())
    }

    /// Store-release (Linux `smp_store_release`). On x86 this is a plain `MOV` (TSO
    /// never reorders a store with earlier loads or stores; the kernel adds only a
    /// compiler barrier), so it is exactly [`Memory::host_store`]: the store still sits
    /// in the store buffer, and a later load may pass it.
    pub fn store_release(
        &mut self,
        cpu: u8,
        addr: u64,
        val: u64,
        mask: u8,
    ) -> Result<(), MemError> {
        self.host_store(cpu, addr, val, mask)
    }

    /// Commits the oldest store-buffer entry of `cpu` to global memory (the x86-TSO
    /// "write from store buffer to memory" silent transition, taken when the schedule
    /// says). Returns `false` if the buffer was empty (or `cpu` does not exist); nothing
    /// is logged then. Logged as `Commit`.
    pub fn drain_one(&mut self, cpu: u8) -> bool {
        match self.cpu_index(cpu) {
            Ok(c) => self.drain_oldest(c),
            Err(_) => false,
        }
    }

    /// Full fence: `MFENCE`, Linux `smp_mb()` (on x86-64 a `LOCK ADD` to the stack or
    /// `MFENCE`, same effect under x86-TSO), the barrier of `smp_store_mb()` /
    /// `set_current_state()`, and `smp_mb__before_atomic()`/`smp_mb__after_atomic()`
    /// (only compiler barriers on x86, because the adjacent locked op already drains;
    /// modelling them as a fence is conservative and equal whenever the locked op is
    /// adjacent). Commits the whole store buffer of `cpu` in FIFO order (one `Commit`
    /// each), then logs one `Fence` whose value is the number of entries drained, which
    /// is returned. An unknown `cpu` does nothing and returns 0.
    pub fn fence(&mut self, cpu: u8) -> usize {
        let Ok(c) = self.cpu_index(cpu) else {
            return 0;
        };
        let n = self.drain_all_of(c);
        self.record(Agent::Host(cpu), AccessKind::Fence, 0, n as u64);
        n
    }

    /// Host `LOCK OR` (Linux `set_bit`, `test_and_set_bit`, `atomic_or`): drains the
    /// store buffer (x86-TSO: a locked instruction needs an empty buffer and holds the
    /// memory lock), then `mem[addr] |= bits` atomically. Returns the old word. Logged as
    /// the drain's `Commit`s then `LockedRmw` (value = new word).
    pub fn host_lock_or(&mut self, cpu: u8, addr: u64, bits: u64) -> Result<u64, MemError> {
        self.locked_rmw(cpu, addr, bits, |old| old | bits)
    }

    /// Host `LOCK AND` with the complement (Linux `clear_bit`, `test_and_clear_bit`,
    /// `atomic_andnot`): drains the store buffer, then `mem[addr] &= !bits` atomically.
    /// Returns the old word. Logged as the drain's `Commit`s then `LockedRmw`.
    pub fn host_lock_and_not(&mut self, cpu: u8, addr: u64, bits: u64) -> Result<u64, MemError> {
        self.locked_rmw(cpu, addr, bits, |old| old & !bits)
    }

    /// Host `LOCK CMPXCHG` (Linux `cmpxchg`, `try_cmpxchg`): drains the store buffer,
    /// then atomically writes `new` if the word equals `expected`. Returns the old word
    /// (success iff it equals `expected`). A failed compare is still a locked op and
    /// still a full barrier. Logged as the drain's `Commit`s then `LockedRmw`.
    pub fn host_cmpxchg(
        &mut self,
        cpu: u8,
        addr: u64,
        expected: u64,
        new: u64,
    ) -> Result<u64, MemError> {
        self.locked_rmw(
            cpu,
            addr,
            new,
            |old| if old == expected { new } else { old },
        )
    }

    /// Host `XCHG` (implicitly locked; Linux `xchg`, and `smp_store_mb()` on x86, which
    /// is `xchg` with the result discarded): drains the store buffer, then atomically
    /// writes `val`. Returns the old word. Logged as the drain's `Commit`s then
    /// `LockedRmw`.
    pub fn host_xchg(&mut self, cpu: u8, addr: u64, val: u64) -> Result<u64, MemError> {
        self.locked_rmw(cpu, addr, val, |_| val)
    }

    /// Number of stores waiting in `cpu`'s store buffer (0 for an unknown `cpu`).
    pub fn sb_len(&self, cpu: u8) -> usize {
        self.sbs.get(cpu as usize).map_or(0, |sb| sb.len)
    }

    /// The stores waiting in `cpu`'s store buffer, oldest (next to commit) first; empty
    /// for an unknown `cpu`. For the waveform's software lanes and the oracles.
    pub fn sb_entries(&self, cpu: u8) -> SbEntries<'_> {
        match self.sbs.get(cpu as usize) {
            Some(sb) => sb.iter(),
            None => SbEntries {
                slots: &[],
                head: 0,
                front: 0,
                back: 0,
            },
        }
    }

    /// Whether every host CPU's store buffer is empty (all host stores are globally
    /// visible).
    pub fn all_drained(&self) -> bool {
        self.sbs.iter().all(|sb| sb.len == 0)
    }
}
