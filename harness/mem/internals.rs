//! Internals: word access, the store-buffer drain, the log and the write tap.

use super::*;

impl Memory {
    // ------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------

    pub(super) fn index(&self, addr: u64) -> Result<usize, MemError> {
        if addr & (WORD_BYTES - 1) != 0 {
            return Err(MemError::Misaligned { addr });
        }
        let i = addr / WORD_BYTES;
        if i >= self.words.len() as u64 {
            return Err(MemError::OutOfRange {
                addr,
                size: self.size_bytes(),
            });
        }
        Ok(i as usize)
    }

    pub(super) fn cpu_index(&self, cpu: u8) -> Result<usize, MemError> {
        let c = cpu as usize;
        if c < self.sbs.len() {
            Ok(c)
        } else {
            Err(MemError::NoSuchCpu {
                cpu,
                n_cpus: self.sbs.len(),
            })
        }
    }

    /// Memory word at index `i` overlaid with `cpu`'s buffered stores to `addr`, oldest
    /// to youngest (so the youngest wins per byte). Second result: any byte forwarded.
    pub(super) fn forward(&self, c: usize, addr: u64, i: usize) -> (u64, bool) {
        let mut w = self.words[i];
        let mut fwd = false;
        for e in self.sbs[c].iter() {
            if e.addr == addr && e.mask != 0 {
                let m = mask_bits(e.mask);
                w = (w & !m) | (e.value & m);
                fwd = true;
            }
        }
        (w, fwd)
    }

    pub(super) fn record(&mut self, agent: Agent, kind: AccessKind, addr: u64, value: u64) {
        if self.logging {
            self.log.push(Access {
                cycle: self.cycle,
                agent,
                kind,
                addr,
                value,
            });
        }
    }

    /// Writes a (validated) entry to global memory and logs the `Commit`.
    pub(super) fn commit(&mut self, cpu: u8, e: SbEntry) {
        let i = (e.addr / WORD_BYTES) as usize;
        let m = mask_bits(e.mask);
        let old = self.words[i];
        let new = (old & !m) | (e.value & m);
        self.words[i] = new;
        self.mark(i);
        self.record(Agent::Host(cpu), AccessKind::Commit, e.addr, new);
        self.watch_write(
            Agent::Host(cpu),
            AccessKind::Commit,
            e.addr,
            old,
            new,
            e.value & m,
        );
    }

    /// Tells the ordering watch and the tap about a write; `data` is the operand the tap
    /// records ([`TapWrite::data`]).
    #[inline]
    pub(super) fn watch_write(
        &mut self,
        agent: Agent,
        kind: AccessKind,
        addr: u64,
        old: u64,
        new: u64,
        data: u64,
    ) {
        if let Some(w) = self.watch.as_deref_mut() {
            w.on_write(agent, kind, addr, old, new, self.actor);
        }
        if self.tap.range.contains(&addr) {
            self.tap.writes.push(TapWrite {
                agent,
                kind,
                addr,
                old,
                new,
                data,
                actor: self.actor,
            });
        }
    }

    pub(super) fn drain_oldest(&mut self, c: usize) -> bool {
        match self.sbs[c].pop() {
            Some(e) => {
                self.commit(c as u8, e);
                true
            }
            None => false,
        }
    }

    pub(super) fn drain_all_of(&mut self, c: usize) -> usize {
        let mut n = 0;
        while self.drain_oldest(c) {
            n += 1;
        }
        n
    }

    /// A locked op on `addr`; `data` is its operand for the tap (bits set or cleared).
    pub(super) fn locked_rmw(
        &mut self,
        cpu: u8,
        addr: u64,
        data: u64,
        op: impl FnOnce(u64) -> u64,
    ) -> Result<u64, MemError> {
        let c = self.cpu_index(cpu)?;
        let i = self.index(addr)?;
        self.drain_all_of(c);
        let old = self.words[i];
        let new = op(old);
        self.words[i] = new;
        self.mark(i);
        self.record(Agent::Host(cpu), AccessKind::LockedRmw, addr, new);
        self.watch_write(
            Agent::Host(cpu),
            AccessKind::LockedRmw,
            addr,
            old,
            new,
            data,
        );
        Ok(old)
    }
}
