//! Simulated shared physical memory: x86-TSO host CPUs and RTL memory ports.
//!
//! One flat, word-granular memory (64-bit words at 8-byte aligned byte addresses) is
//! shared by two kinds of agent:
//!
//! * **Host CPUs** (the KVM software model). Each host CPU follows the x86-TSO abstract
//!   machine of Sewell, Sarkar, Owens, Zappa Nardelli and Myreen, "x86-TSO: A Rigorous
//!   and Usable Programmer's Model for x86 Multiprocessors", CACM 53(7), 2010: stores go
//!   into a per-CPU FIFO store buffer, loads read the CPU's own buffer first (youngest
//!   matching store wins) and then memory, buffered stores reach memory one at a time
//!   in program order when the schedule says so ([`Memory::drain_one`]), `MFENCE`
//!   drains the buffer ([`Memory::fence`]) and `LOCK`-prefixed instructions drain the
//!   buffer and then act atomically on memory ([`Memory::host_lock_or`] and friends).
//!   The only reordering this allows is a load overtaking an older store to a different
//!   address (the SB litmus test); the MP (message passing) pattern is safe because the
//!   buffer is FIFO.
//! * **RTL memory ports** of the Verilated AVIC model. A port transaction acts on global
//!   memory at the moment the harness completes it ([`Memory::rtl_read`],
//!   [`Memory::rtl_write`], [`Memory::rtl_lock_set`], [`Memory::rtl_lock_clear`]); any
//!   buffering the hardware does is modelled in the RTL, not here.
//!
//! Partial writes carry an 8-bit byte mask: bit `i` enables byte `i` of the word, i.e.
//! bits `8*i .. 8*i+8` (little-endian, as on x86). See [`mask_bits`].
//!
//! Every access is appended to an access log ([`Access`]) stamped with the current
//! cycle ([`Memory::set_cycle`]), for the oracles and the waveform's software lanes.
//! [`Memory::peek`], [`Memory::poke`] and [`Memory::visible_to`] are debugger-style
//! accesses and are never logged.
//!
//! No operation allocates per access (store buffers are pre-allocated rings; the log is
//! pre-reserved, though it grows if a run outlives the reservation), and no operation
//! panics on a bad address or CPU number: it returns a [`MemError`].

use crate::coverage::{OrderWatch, Orders, NO_ACTOR};
use std::fmt;
use std::sync::Arc;

/// Size of one memory word in bytes; every address must be a multiple of this.
pub const WORD_BYTES: u64 = 8;

/// Byte mask that enables all eight bytes of a word (a full 64-bit store).
pub const FULL_MASK: u8 = 0xff;

/// Store-buffer capacity per host CPU used by [`Memory::new`].
///
/// x86-TSO (Sewell et al., CACM 2010) has unbounded buffers; real cores have a few
/// dozen entries. Eight is more than any KVM path modelled here keeps in flight between
/// two barriers, so the bound rarely forces a commit.
pub const DEFAULT_SB_CAPACITY: usize = 8;

/// Access-log entries reserved by [`Memory::new`].
pub const DEFAULT_LOG_CAPACITY: usize = 4096;

/// Expands a byte mask into a 64-bit bit mask: bit `i` of `mask` selects bits
/// `8*i .. 8*i+8` (byte `i`, little-endian as on x86).
///
/// `mask_bits(0x0f) == 0x0000_0000_ffff_ffff`.
pub fn mask_bits(mask: u8) -> u64 {
    let mut bits = 0u64;
    for i in 0..8 {
        if mask & (1 << i) != 0 {
            bits |= 0xffu64 << (8 * i);
        }
    }
    bits
}

/// Errors from memory accesses. Never a panic: every bad address or CPU number is one
/// of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum MemError {
    /// The byte address is not a multiple of [`WORD_BYTES`].
    #[error("address {addr:#018x} is not 8-byte aligned")]
    Misaligned {
        /// The offending byte address.
        addr: u64,
    },
    /// The byte address lies at or beyond the end of memory.
    #[error("address {addr:#018x} is out of range (memory is {size:#x} bytes)")]
    OutOfRange {
        /// The offending byte address.
        addr: u64,
        /// Size of the memory in bytes.
        size: u64,
    },
    /// The host CPU number is not less than the number of host CPUs.
    #[error("host CPU {cpu} does not exist (memory has {n_cpus} host CPUs)")]
    NoSuchCpu {
        /// The offending CPU number.
        cpu: u8,
        /// Number of host CPUs the memory was built with.
        n_cpus: usize,
    },
    /// A snapshot of another memory's shape was restored.
    #[error("a snapshot of a memory of {words} words and {cpus} host CPUs does not fit this one")]
    Snapshot {
        /// Words of the snapshot's memory.
        words: usize,
        /// Host CPUs of the snapshot's memory.
        cpus: usize,
    },
}

/// Who performed an access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agent {
    /// Host CPU `n` (software: the KVM model), subject to x86-TSO.
    Host(u8),
    /// Memory port `port` of RTL core `core` (hardware: the Verilated AVIC model).
    Rtl {
        /// RTL core index.
        core: u8,
        /// Memory port index within the core.
        port: u8,
    },
}

impl fmt::Display for Agent {
    /// `host1`, or `rtl0.p2` for core 0 port 2. Honours width/alignment flags.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match *self {
            Agent::Host(cpu) => format!("host{cpu}"),
            Agent::Rtl { core, port } => format!("rtl{core}.p{port}"),
        };
        f.pad(&s)
    }
}

/// What kind of access an [`Access`] log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// Host load served from global memory (plain `MOV`, `READ_ONCE`,
    /// `smp_load_acquire`).
    Load,
    /// Host load with at least one byte forwarded from the CPU's own store buffer
    /// (x86-TSO store-to-load forwarding).
    LoadForwarded,
    /// Host store issued into the CPU's store buffer (not yet globally visible).
    Store,
    /// Oldest store-buffer entry of a host CPU written to global memory (now visible to
    /// every agent).
    Commit,
    /// Host `LOCK`-prefixed read-modify-write (`set_bit`, `clear_bit`, `cmpxchg`,
    /// `xchg`), performed atomically on memory after draining the buffer.
    LockedRmw,
    /// Host full fence (`MFENCE`, `smp_mb`, ...), after draining the buffer.
    Fence,
    /// RTL port read of global memory.
    RtlRead,
    /// RTL port (masked) write to global memory.
    RtlWrite,
    /// RTL port atomic OR (set bits) on global memory.
    RtlLockSet,
    /// RTL port atomic AND-NOT (clear bits) on global memory.
    RtlLockClear,
}

impl AccessKind {
    /// Short lower-case name used by [`Access`]'s `Display` (at most 7 characters).
    pub fn name(self) -> &'static str {
        match self {
            AccessKind::Load => "load",
            AccessKind::LoadForwarded => "load-fw",
            AccessKind::Store => "store",
            AccessKind::Commit => "commit",
            AccessKind::LockedRmw => "lockrmw",
            AccessKind::Fence => "fence",
            AccessKind::RtlRead => "rtl-rd",
            AccessKind::RtlWrite => "rtl-wr",
            AccessKind::RtlLockSet => "rtl-set",
            AccessKind::RtlLockClear => "rtl-clr",
        }
    }
}

impl fmt::Display for AccessKind {
    /// The [`AccessKind::name`]. Honours width/alignment flags.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// One entry of the access log.
///
/// Meaning of `value` by kind:
/// * `Load`, `LoadForwarded`, `RtlRead`: the value returned.
/// * `Store`: the stored data with bytes outside the mask zeroed.
/// * `Commit`, `LockedRmw`, `RtlWrite`, `RtlLockSet`, `RtlLockClear`: the word in global
///   memory *after* the access (the old value is what the operation returned).
/// * `Fence`: the number of store-buffer entries the fence drained (`addr` is 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Cycle current when the access happened (see [`Memory::set_cycle`]).
    pub cycle: u64,
    /// Who performed it.
    pub agent: Agent,
    /// What it was.
    pub kind: AccessKind,
    /// Byte address of the word (0 for fences).
    pub addr: u64,
    /// Value, as described on [`Access`].
    pub value: u64,
}

impl fmt::Display for Access {
    /// One line, e.g. `cycle 12  host1  store   0x0000000000001200 = 0x0000000000000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cycle {}  {:<5}  {:<7} {:#018x} = {:#018x}",
            self.cycle, self.agent, self.kind, self.addr, self.value
        )
    }
}

/// One buffered host store: an x86-TSO store-buffer entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SbEntry {
    /// Byte address of the word (8-byte aligned, in range).
    pub addr: u64,
    /// Data; bytes outside `mask` are zero.
    pub value: u64,
    /// Byte mask: bit `i` enables byte `i` (see [`mask_bits`]).
    pub mask: u8,
}

/// Fixed-capacity FIFO ring, allocated once at construction.
#[derive(Debug)]
struct StoreBuffer {
    slots: Box<[SbEntry]>,
    head: usize,
    len: usize,
}

impl Clone for StoreBuffer {
    fn clone(&self) -> Self {
        StoreBuffer {
            slots: self.slots.clone(),
            head: self.head,
            len: self.len,
        }
    }

    /// In place when the capacities agree (restoring a snapshot allocates nothing).
    fn clone_from(&mut self, src: &Self) {
        if self.slots.len() == src.slots.len() {
            self.slots.copy_from_slice(&src.slots);
        } else {
            self.slots = src.slots.clone();
        }
        self.head = src.head;
        self.len = src.len;
    }
}

impl StoreBuffer {
    fn new(capacity: usize) -> Self {
        StoreBuffer {
            slots: vec![SbEntry::default(); capacity].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == self.slots.len()
    }

    /// Caller guarantees `!is_full()`.
    fn push(&mut self, e: SbEntry) {
        let cap = self.slots.len();
        self.slots[(self.head + self.len) % cap] = e;
        self.len += 1;
    }

    fn pop(&mut self) -> Option<SbEntry> {
        if self.len == 0 {
            return None;
        }
        let e = self.slots[self.head];
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        Some(e)
    }

    fn iter(&self) -> SbEntries<'_> {
        SbEntries {
            slots: &self.slots,
            head: self.head,
            front: 0,
            back: self.len,
        }
    }
}

/// Iterator over one host CPU's store-buffer entries, oldest first
/// (returned by [`Memory::sb_entries`]).
#[derive(Debug, Clone)]
pub struct SbEntries<'a> {
    slots: &'a [SbEntry],
    head: usize,
    front: usize,
    back: usize,
}

impl Iterator for SbEntries<'_> {
    type Item = SbEntry;

    fn next(&mut self) -> Option<SbEntry> {
        if self.front == self.back {
            return None;
        }
        let e = self.slots[(self.head + self.front) % self.slots.len()];
        self.front += 1;
        Some(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for SbEntries<'_> {
    fn next_back(&mut self) -> Option<SbEntry> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        Some(self.slots[(self.head + self.back) % self.slots.len()])
    }
}

impl ExactSizeIterator for SbEntries<'_> {}

/// Words per chunk of the written-chunk map of [`Memory`] (what a snapshot copies).
const CHUNK_WORDS: usize = 8;

/// A [`Memory`] saved by [`Memory::snapshot`]: the chunks written since the base image (the
/// image itself is shared, not copied), the store buffers, the ordering watch and the log.
#[derive(Debug, Clone)]
pub struct MemSnapshot {
    base: Arc<[u64]>,
    written: Vec<u64>,
    /// The written chunks' words, in chunk order.
    chunks: Vec<u64>,
    sbs: Vec<StoreBuffer>,
    sb_capacity: usize,
    log: Vec<Access>,
    logging: bool,
    cycle: u64,
    watch: Option<Box<OrderWatch>>,
    actor: u8,
}

impl MemSnapshot {
    /// Words saved besides the shared base image.
    pub fn saved_words(&self) -> usize {
        self.chunks.len()
    }
}

/// The chunks set in `map`, in order.
fn set_chunks(map: &[u64]) -> impl Iterator<Item = usize> + '_ {
    map.iter().enumerate().flat_map(|(k, &bits)| {
        let mut b = bits;
        std::iter::from_fn(move || {
            (b != 0).then(|| {
                let t = b.trailing_zeros() as usize;
                b &= b - 1;
                k * 64 + t
            })
        })
    })
}

/// The shared physical memory: flat word storage, one x86-TSO store buffer per host
/// CPU, and the access log.
///
/// `Clone` is cheap enough for exploration to fork worlds: it copies the words, the
/// buffers and the log. [`Memory::snapshot`] is cheaper still: it saves only the chunks of
/// words written since a base image ([`Memory::set_base`]).
#[derive(Debug, Clone)]
pub struct Memory {
    words: Vec<u64>,
    /// Bit per chunk of [`CHUNK_WORDS`] words: written since the base image was taken.
    written: Vec<u64>,
    /// The words as of [`Memory::set_base`], shared with the snapshots taken since.
    base: Option<Arc<[u64]>>,
    sbs: Vec<StoreBuffer>,
    sb_capacity: usize,
    log: Vec<Access>,
    logging: bool,
    cycle: u64,
    /// Ordering coverage of the run, when watched ([`Memory::watch_orders`]).
    watch: Option<Box<OrderWatch>>,
    /// The vCPU whose KVM thread is acting, or [`NO_ACTOR`] ([`Memory::set_actor`]).
    actor: u8,
    /// Writes to the tapped range since the last [`Memory::clear_tapped`] ([`Memory::tap`]).
    tap: Tap,
}

/// A write that changed global memory inside the range given to [`Memory::tap`]: what the
/// oracles of the APIC state and of IPI accounting watch (the backing pages), whoever wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapWrite {
    /// Who wrote.
    pub agent: Agent,
    /// How: `Commit`, `LockedRmw`, `RtlWrite`, `RtlLockSet` or `RtlLockClear`.
    pub kind: AccessKind,
    /// Byte address of the word.
    pub addr: u64,
    /// The word before the write.
    pub old: u64,
    /// The word after it.
    pub new: u64,
    /// The operand: the bits a locked set or clear names, the masked data of a write or a
    /// commit, the new word of any other locked op.
    pub data: u64,
    /// The vCPU whose KVM thread was acting ([`Memory::set_actor`]), or [`NO_ACTOR`].
    pub actor: u8,
}

/// Writes per cycle the tap holds without growing (a fence drains at most a store buffer,
/// each RTL port completes at most one transaction).
const TAP_CAPACITY: usize = 64;

#[derive(Debug, Clone, Default)]
struct Tap {
    range: std::ops::Range<u64>,
    writes: Vec<TapWrite>,
}

impl Memory {
    /// A zeroed memory of `size_bytes` bytes (rounded up to whole 8-byte words) shared by
    /// `n_host_cpus` host CPUs, each with a [`DEFAULT_SB_CAPACITY`]-entry store buffer,
    /// and an access log reserved for [`DEFAULT_LOG_CAPACITY`] entries. Logging is on.
    pub fn new(size_bytes: u64, n_host_cpus: u8) -> Self {
        Self::with_capacity(
            size_bytes,
            n_host_cpus,
            DEFAULT_SB_CAPACITY,
            DEFAULT_LOG_CAPACITY,
        )
    }

    /// Like [`Memory::new`] with an explicit store-buffer capacity per host CPU and
    /// access-log reservation.
    ///
    /// `sb_capacity == 0` gives sequentially consistent host CPUs: every store commits
    /// immediately (logged as `Store` then `Commit`). Useful as a baseline that the SB
    /// litmus outcome needs the buffer.
    pub fn with_capacity(
        size_bytes: u64,
        n_host_cpus: u8,
        sb_capacity: usize,
        log_capacity: usize,
    ) -> Self {
        let n_words = size_bytes.div_ceil(WORD_BYTES) as usize;
        Memory {
            words: vec![0; n_words],
            written: vec![0; n_words.div_ceil(CHUNK_WORDS).div_ceil(64)],
            base: None,
            sbs: (0..n_host_cpus)
                .map(|_| StoreBuffer::new(sb_capacity))
                .collect(),
            sb_capacity,
            log: Vec::with_capacity(log_capacity),
            logging: true,
            cycle: 0,
            watch: None,
            actor: NO_ACTOR,
            tap: Tap::default(),
        }
    }

    /// Records every later write to a word in `range` (byte addresses) for
    /// [`Memory::tapped`], until [`Memory::clear_tapped`]; reserves room so that recording
    /// allocates nothing.
    pub fn tap(&mut self, range: std::ops::Range<u64>) {
        self.tap = Tap {
            range,
            writes: Vec::with_capacity(TAP_CAPACITY),
        };
    }

    /// The writes to the tapped range since the last [`Memory::clear_tapped`], in order.
    pub fn tapped(&self) -> &[TapWrite] {
        &self.tap.writes
    }

    /// Forgets the tapped writes (keeps the allocation).
    pub fn clear_tapped(&mut self) {
        self.tap.writes.clear();
    }

    /// Notes a write of word `i` (for snapshots).
    #[inline]
    fn mark(&mut self, i: usize) {
        let c = i / CHUNK_WORDS;
        self.written[c / 64] |= 1 << (c % 64);
    }

    /// Words `CHUNK_WORDS * c ..` of chunk `c` (the last chunk may be short).
    fn chunk_range(&self, c: usize) -> std::ops::Range<usize> {
        let lo = c * CHUNK_WORDS;
        lo..(lo + CHUNK_WORDS).min(self.words.len())
    }

    /// Takes the current words as the base image of later snapshots: a snapshot then copies
    /// only the chunks written since. Copies the whole memory once.
    pub fn set_base(&mut self) {
        self.base = Some(Arc::from(self.words.as_slice()));
        self.written.iter_mut().for_each(|w| *w = 0);
    }

    /// Saves the memory: the chunks written since the base image (all of them when no base
    /// was set), the store buffers, the ordering watch and the log.
    pub fn snapshot(&self) -> MemSnapshot {
        let (base, written) = match &self.base {
            Some(b) => (b.clone(), self.written.clone()),
            None => (
                Arc::from(self.words.as_slice()),
                vec![0; self.written.len()],
            ),
        };
        let mut chunks = Vec::with_capacity(set_chunks(&written).count() * CHUNK_WORDS);
        for c in set_chunks(&written) {
            chunks.extend_from_slice(&self.words[self.chunk_range(c)]);
        }
        MemSnapshot {
            base,
            written,
            chunks,
            sbs: self.sbs.clone(),
            sb_capacity: self.sb_capacity,
            log: self.log.clone(),
            logging: self.logging,
            cycle: self.cycle,
            watch: self.watch.clone(),
            actor: self.actor,
        }
    }

    /// Puts the memory back in the state `s` holds. When `s` shares this memory's base image
    /// only the chunks written in either are copied; otherwise the whole image is. `Err` if
    /// `s` is of a memory of another size.
    pub fn restore(&mut self, s: &MemSnapshot) -> Result<(), MemError> {
        if s.base.len() != self.words.len() || s.sbs.len() != self.sbs.len() {
            return Err(MemError::Snapshot {
                words: s.base.len(),
                cpus: s.sbs.len(),
            });
        }
        let shared = self.base.as_ref().is_some_and(|b| Arc::ptr_eq(b, &s.base));
        if !shared {
            self.words.copy_from_slice(&s.base);
            self.written.iter_mut().for_each(|w| *w = 0);
            self.base = Some(s.base.clone());
        }
        // Chunks written here but not in `s` go back to the base image.
        for k in 0..self.written.len() {
            let stale = self.written[k] & !s.written[k];
            for c in set_chunks(std::slice::from_ref(&stale)) {
                let r = self.chunk_range(k * 64 + c);
                self.words[r.clone()].copy_from_slice(&s.base[r]);
            }
        }
        let mut at = 0;
        for c in set_chunks(&s.written) {
            let r = self.chunk_range(c);
            let n = r.len();
            self.words[r].copy_from_slice(&s.chunks[at..at + n]);
            at += n;
        }
        self.written.copy_from_slice(&s.written);
        self.sbs.clone_from_slice(&s.sbs);
        self.sb_capacity = s.sb_capacity;
        self.log.clone_from(&s.log);
        self.logging = s.logging;
        self.cycle = s.cycle;
        match (&mut self.watch, &s.watch) {
            (Some(w), Some(x)) => **w = (**x).clone(),
            (w, x) => w.clone_from(x),
        }
        self.actor = s.actor;
        // Snapshots are taken between cycles, when the world has consumed the tap.
        self.tap.writes.clear();
        Ok(())
    }

    /// Size of the memory in bytes (a multiple of [`WORD_BYTES`]).
    pub fn size_bytes(&self) -> u64 {
        self.words.len() as u64 * WORD_BYTES
    }

    /// Number of host CPUs.
    pub fn n_host_cpus(&self) -> usize {
        self.sbs.len()
    }

    /// Store-buffer capacity of each host CPU.
    pub fn sb_capacity(&self) -> usize {
        self.sb_capacity
    }

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

    /// Records ordering coverage from now on ([`crate::coverage`]): every visible write and
    /// every read of the watched words updates `w`, whether logging is on or not.
    pub fn watch_orders(&mut self, w: OrderWatch) {
        self.watch = Some(Box::new(w));
    }

    /// The orders observed since [`Memory::watch_orders`] (none when not watched).
    pub fn orders(&self) -> Orders {
        self.watch
            .as_ref()
            .map_or(Orders::default(), |w| w.orders())
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

    // ------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------

    fn index(&self, addr: u64) -> Result<usize, MemError> {
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

    fn cpu_index(&self, cpu: u8) -> Result<usize, MemError> {
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
    fn forward(&self, c: usize, addr: u64, i: usize) -> (u64, bool) {
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

    fn record(&mut self, agent: Agent, kind: AccessKind, addr: u64, value: u64) {
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
    fn commit(&mut self, cpu: u8, e: SbEntry) {
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
    fn watch_write(
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

    fn drain_oldest(&mut self, c: usize) -> bool {
        match self.sbs[c].pop() {
            Some(e) => {
                self.commit(c as u8, e);
                true
            }
            None => false,
        }
    }

    fn drain_all_of(&mut self, c: usize) -> usize {
        let mut n = 0;
        while self.drain_oldest(c) {
            n += 1;
        }
        n
    }

    /// A locked op on `addr`; `data` is its operand for the tap (bits set or cleared).
    fn locked_rmw(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_restore_every_word_whatever_was_written_since() {
        let mut m = Memory::new(0x1000, 2);
        m.poke(0x10, 1).unwrap();
        m.set_base();
        m.poke(0x20, 2).unwrap();
        m.host_store(0, 0x40, 4, FULL_MASK).unwrap();
        let s = m.snapshot();
        assert_eq!(
            s.saved_words(),
            CHUNK_WORDS,
            "one chunk written since the base"
        );
        // Writes after the snapshot, in its chunk and in others, then back.
        m.poke(0x28, 5).unwrap();
        m.poke(0xF00, 6).unwrap();
        m.drain_one(0);
        m.restore(&s).unwrap();
        for (a, v) in [(0x10, 1), (0x20, 2), (0x28, 0), (0xF00, 0), (0x40, 0)] {
            assert_eq!(m.peek(a).unwrap(), v, "word {a:#x}");
        }
        assert_eq!(m.sb_len(0), 1, "the buffered store is back");
        // Into another memory of the same shape (no shared base): the same words.
        let mut other = Memory::new(0x1000, 2);
        other.poke(0x800, 9).unwrap();
        other.restore(&s).unwrap();
        assert_eq!(other.words, m.words);
        // A memory without a base saves everything; of another shape, an error.
        let whole = Memory::new(0x1000, 2).snapshot();
        m.restore(&whole).unwrap();
        assert!(m.words.iter().all(|&w| w == 0));
        assert!(Memory::new(0x800, 2).restore(&s).is_err());
        assert!(Memory::new(0x1000, 3).restore(&s).is_err());
    }
    use std::collections::BTreeSet;

    const X: u64 = 0x100;
    const Y: u64 = 0x200;

    fn mem() -> Memory {
        Memory::new(0x1000, 2)
    }

    #[test]
    fn mask_bits_expands_bytes() {
        assert_eq!(mask_bits(0), 0);
        assert_eq!(mask_bits(FULL_MASK), u64::MAX);
        assert_eq!(mask_bits(0x0f), 0x0000_0000_ffff_ffff);
        assert_eq!(mask_bits(0b1000_0010), 0xff00_0000_0000_ff00);
    }

    #[test]
    fn forwarding_merges_partial_masks_with_memory() {
        let mut m = mem();
        m.poke(X, 0x1111_1111_1111_1111).unwrap();
        // Low 4 bytes from an older store, byte 1 overwritten by a younger one.
        m.host_store(0, X, 0xaaaa_aaaa_aaaa_aaaa, 0x0f).unwrap();
        m.host_store(0, X, 0xbbbb_bbbb_bbbb_bbbb, 0x02).unwrap();
        let expect = 0x1111_1111_aaaa_bbaa;
        assert_eq!(m.host_load(0, X).unwrap(), expect);
        assert_eq!(m.visible_to(0, X).unwrap(), expect);
        assert_eq!(m.log().last().unwrap().kind, AccessKind::LoadForwarded);
        // Global memory untouched; other CPU sees memory.
        assert_eq!(m.peek(X).unwrap(), 0x1111_1111_1111_1111);
        assert_eq!(m.host_load(1, X).unwrap(), 0x1111_1111_1111_1111);
        assert_eq!(m.log().last().unwrap().kind, AccessKind::Load);
        // A store to a different address is not forwarded.
        m.host_store(1, Y, 5, FULL_MASK).unwrap();
        assert_eq!(m.host_load(1, X).unwrap(), 0x1111_1111_1111_1111);
        // After draining, memory holds the merged word.
        assert!(m.drain_one(0));
        assert_eq!(m.peek(X).unwrap(), 0x1111_1111_aaaa_aaaa);
        assert!(m.drain_one(0));
        assert_eq!(m.peek(X).unwrap(), expect);
        assert!(!m.drain_one(0));
        assert_eq!(m.host_load(0, X).unwrap(), expect);
        assert_eq!(m.log().last().unwrap().kind, AccessKind::Load);
    }

    #[test]
    fn youngest_full_store_wins() {
        let mut m = mem();
        m.host_store(0, X, 1, FULL_MASK).unwrap();
        m.host_store(0, X, 2, FULL_MASK).unwrap();
        m.host_store(0, X, 3, 0x01).unwrap();
        assert_eq!(m.host_load(0, X).unwrap(), 3);
        m.host_store(0, X, 0x400, 0x02).unwrap();
        assert_eq!(m.host_load(0, X).unwrap(), 0x403);
    }

    #[test]
    fn buffered_store_invisible_to_others_until_drained() {
        let mut m = mem();
        m.host_store(0, X, 42, FULL_MASK).unwrap();
        assert_eq!(m.sb_len(0), 1);
        assert_eq!(m.host_load(1, X).unwrap(), 0);
        assert_eq!(m.visible_to(1, X).unwrap(), 0);
        assert_eq!(m.peek(X).unwrap(), 0);
        assert_eq!(m.rtl_read(0, 0, X).unwrap(), 0);
        assert!(!m.all_drained());
        assert!(m.drain_one(0));
        assert_eq!(m.sb_len(0), 0);
        assert!(m.all_drained());
        assert_eq!(m.host_load(1, X).unwrap(), 42);
        assert_eq!(m.rtl_read(0, 0, X).unwrap(), 42);
    }

    #[test]
    fn drains_in_fifo_order() {
        let mut m = mem();
        m.host_store(0, X, 1, FULL_MASK).unwrap();
        m.host_store(0, Y, 2, FULL_MASK).unwrap();
        let e: Vec<_> = m.sb_entries(0).collect();
        assert_eq!(
            e,
            vec![
                SbEntry {
                    addr: X,
                    value: 1,
                    mask: FULL_MASK
                },
                SbEntry {
                    addr: Y,
                    value: 2,
                    mask: FULL_MASK
                }
            ]
        );
        assert_eq!(m.sb_entries(0).len(), 2);
        assert_eq!(m.sb_entries(0).next_back().unwrap().addr, Y);
        assert!(m.drain_one(0));
        assert_eq!((m.peek(X).unwrap(), m.peek(Y).unwrap()), (1, 0));
        assert!(m.drain_one(0));
        assert_eq!((m.peek(X).unwrap(), m.peek(Y).unwrap()), (1, 2));
    }

    #[test]
    fn full_buffer_commits_oldest_first() {
        let mut m = Memory::with_capacity(0x1000, 1, 2, 16);
        m.host_store(0, 0x0, 1, FULL_MASK).unwrap();
        m.host_store(0, 0x8, 2, FULL_MASK).unwrap();
        assert_eq!(m.peek(0x0).unwrap(), 0);
        m.host_store(0, 0x10, 3, FULL_MASK).unwrap();
        assert_eq!(m.sb_len(0), 2);
        assert_eq!(m.peek(0x0).unwrap(), 1);
        assert_eq!(m.peek(0x8).unwrap(), 0);
        let addrs: Vec<_> = m.sb_entries(0).map(|e| e.addr).collect();
        assert_eq!(addrs, vec![0x8, 0x10]);
        let kinds: Vec<_> = m.log().iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            vec![
                AccessKind::Store,
                AccessKind::Store,
                AccessKind::Commit,
                AccessKind::Store
            ]
        );
        // The ring wraps correctly over many stores.
        for k in 0..10u64 {
            m.host_store(0, 0x18, k, FULL_MASK).unwrap();
            assert_eq!(m.host_load(0, 0x18).unwrap(), k);
        }
        assert_eq!(m.fence(0), 2);
        assert_eq!(m.peek(0x18).unwrap(), 9);
    }

    #[test]
    fn fence_drains_everything_and_logs() {
        let mut m = mem();
        m.host_store(0, X, 1, FULL_MASK).unwrap();
        m.host_store(0, Y, 2, FULL_MASK).unwrap();
        m.host_store(1, Y, 7, FULL_MASK).unwrap();
        assert_eq!(m.fence(0), 2);
        assert_eq!(m.sb_len(0), 0);
        assert_eq!(m.sb_len(1), 1);
        assert_eq!((m.peek(X).unwrap(), m.peek(Y).unwrap()), (1, 2));
        let last = m.log().last().unwrap();
        assert_eq!(last.kind, AccessKind::Fence);
        assert_eq!(last.value, 2);
        assert_eq!(m.fence(0), 0);
        assert_eq!(m.fence(9), 0);
        assert!(!m.drain_one(9));
    }

    #[test]
    fn locked_ops_drain_first_and_return_old() {
        let mut m = mem();
        m.poke(X, 0b0001).unwrap();
        m.host_store(0, Y, 9, FULL_MASK).unwrap();
        m.host_store(0, X, 0b0100, FULL_MASK).unwrap();
        // lock or sees the buffered 0b0100 (drained to memory first), not 0b0001.
        assert_eq!(m.host_lock_or(0, X, 0b1000).unwrap(), 0b0100);
        assert_eq!(m.sb_len(0), 0);
        assert_eq!(m.peek(Y).unwrap(), 9);
        assert_eq!(m.peek(X).unwrap(), 0b1100);
        let kinds: Vec<_> = m.log().iter().map(|a| a.kind).collect();
        assert_eq!(
            &kinds[2..],
            &[
                AccessKind::Commit,
                AccessKind::Commit,
                AccessKind::LockedRmw
            ]
        );
        assert_eq!(m.log().last().unwrap().value, 0b1100);

        m.host_store(1, Y, 10, FULL_MASK).unwrap();
        assert_eq!(m.host_lock_and_not(1, X, 0b0100).unwrap(), 0b1100);
        assert_eq!(m.peek(X).unwrap(), 0b1000);
        assert_eq!(m.peek(Y).unwrap(), 10);

        // cmpxchg: failure leaves memory, success writes; both drain.
        m.host_store(0, Y, 11, FULL_MASK).unwrap();
        assert_eq!(m.host_cmpxchg(0, X, 0, 77).unwrap(), 0b1000);
        assert_eq!(m.peek(X).unwrap(), 0b1000);
        assert_eq!(m.peek(Y).unwrap(), 11);
        assert_eq!(m.host_cmpxchg(0, X, 0b1000, 77).unwrap(), 0b1000);
        assert_eq!(m.peek(X).unwrap(), 77);

        m.host_store(1, Y, 12, FULL_MASK).unwrap();
        assert_eq!(m.host_xchg(1, X, 5).unwrap(), 77);
        assert_eq!(m.peek(X).unwrap(), 5);
        assert_eq!(m.peek(Y).unwrap(), 12);
    }

    #[test]
    fn rtl_ops_see_only_committed_values() {
        let mut m = mem();
        m.poke(X, 0xf0).unwrap();
        m.host_store(0, X, 0x0f, FULL_MASK).unwrap();
        assert_eq!(m.rtl_read(0, 1, X).unwrap(), 0xf0);
        // RTL atomic set acts on global memory, ignoring the buffered store.
        assert_eq!(m.rtl_lock_set(0, 1, X, 0x100).unwrap(), 0xf0);
        assert_eq!(m.peek(X).unwrap(), 0x1f0);
        // Host CPU 0 still forwards its own store.
        assert_eq!(m.host_load(0, X).unwrap(), 0x0f);
        // Host CPU 1 sees the RTL write immediately.
        assert_eq!(m.host_load(1, X).unwrap(), 0x1f0);
        assert_eq!(m.rtl_lock_clear(1, 0, X, 0x10).unwrap(), 0x1f0);
        assert_eq!(m.peek(X).unwrap(), 0x1e0);
        // Commit overwrites the whole word (full mask).
        assert!(m.drain_one(0));
        assert_eq!(m.rtl_read(0, 1, X).unwrap(), 0x0f);
        // Masked RTL write.
        m.rtl_write(0, 0, X, 0xaabb_ccdd, 0b0010).unwrap();
        assert_eq!(m.peek(X).unwrap(), 0xcc0f);
    }

    #[test]
    fn log_entries_have_cycle_agent_kind() {
        let mut m = mem();
        m.set_cycle(3);
        m.host_store(1, X, 1, FULL_MASK).unwrap();
        m.set_cycle(12);
        m.rtl_read(2, 1, X).unwrap();
        m.drain_one(1);
        m.set_cycle(13);
        m.host_load(0, X).unwrap();
        m.fence(0);
        m.rtl_write(0, 3, Y, 6, FULL_MASK).unwrap();
        m.rtl_lock_set(0, 0, Y, 8).unwrap();
        m.rtl_lock_clear(0, 0, Y, 2).unwrap();
        m.host_lock_or(1, Y, 1).unwrap();
        let got: Vec<_> = m
            .log()
            .iter()
            .map(|a| (a.cycle, a.agent, a.kind, a.addr, a.value))
            .collect();
        let rtl = |core, port| Agent::Rtl { core, port };
        assert_eq!(
            got,
            vec![
                (3, Agent::Host(1), AccessKind::Store, X, 1),
                (12, rtl(2, 1), AccessKind::RtlRead, X, 0),
                (12, Agent::Host(1), AccessKind::Commit, X, 1),
                (13, Agent::Host(0), AccessKind::Load, X, 1),
                (13, Agent::Host(0), AccessKind::Fence, 0, 0),
                (13, rtl(0, 3), AccessKind::RtlWrite, Y, 6),
                (13, rtl(0, 0), AccessKind::RtlLockSet, Y, 14),
                (13, rtl(0, 0), AccessKind::RtlLockClear, Y, 12),
                (13, Agent::Host(1), AccessKind::LockedRmw, Y, 13),
            ]
        );
        assert_eq!(
            m.log()[0].to_string(),
            "cycle 3  host1  store   0x0000000000000100 = 0x0000000000000001"
        );
        assert_eq!(
            m.log()[1].to_string(),
            "cycle 12  rtl2.p1  rtl-rd  0x0000000000000100 = 0x0000000000000000"
        );

        // peek/poke/visible_to are not logged; logging can be disabled; clear_log.
        let n = m.log().len();
        m.poke(X, 5).unwrap();
        m.peek(X).unwrap();
        m.visible_to(0, X).unwrap();
        assert_eq!(m.log().len(), n);
        m.set_logging(false);
        m.host_store(0, X, 1, FULL_MASK).unwrap();
        m.fence(0);
        assert_eq!(m.log().len(), n);
        assert_eq!(m.peek(X).unwrap(), 1);
        m.set_logging(true);
        m.clear_log();
        assert!(m.log().is_empty());
    }

    #[test]
    fn errors_for_bad_addresses_and_cpus() {
        let mut m = Memory::new(0x40, 2);
        assert_eq!(m.size_bytes(), 0x40);
        let mis = MemError::Misaligned { addr: 0x12 };
        let oor = MemError::OutOfRange {
            addr: 0x40,
            size: 0x40,
        };
        assert_eq!(m.peek(0x12), Err(mis));
        assert_eq!(m.peek(0x40), Err(oor));
        assert_eq!(m.poke(0x41, 0), Err(MemError::Misaligned { addr: 0x41 }));
        assert_eq!(m.host_load(0, 0x12), Err(mis));
        assert_eq!(m.host_store(0, 0x40, 1, FULL_MASK), Err(oor));
        assert_eq!(m.host_lock_or(0, 0x40, 1), Err(oor));
        assert_eq!(m.host_lock_and_not(0, 0x12, 1), Err(mis));
        assert_eq!(m.host_cmpxchg(0, 0x40, 0, 1), Err(oor));
        assert_eq!(m.host_xchg(0, 0x40, 1), Err(oor));
        assert_eq!(m.rtl_read(0, 0, 0x12), Err(mis));
        assert_eq!(m.rtl_write(0, 0, 0x40, 0, FULL_MASK), Err(oor));
        assert_eq!(
            m.rtl_lock_set(0, 0, u64::MAX - 7, 1).unwrap_err(),
            MemError::OutOfRange {
                addr: u64::MAX - 7,
                size: 0x40
            }
        );
        assert_eq!(m.rtl_lock_clear(0, 0, 0x12, 1), Err(mis));
        assert_eq!(
            m.host_load(2, 0),
            Err(MemError::NoSuchCpu { cpu: 2, n_cpus: 2 })
        );
        assert_eq!(
            m.visible_to(7, 0),
            Err(MemError::NoSuchCpu { cpu: 7, n_cpus: 2 })
        );
        // Failed accesses change nothing and log nothing.
        assert_eq!(m.sb_len(0), 0);
        assert!(m.log().is_empty());
        assert_eq!(m.sb_len(5), 0);
        assert_eq!(m.sb_entries(5).count(), 0);
        // Messages name the address.
        assert!(mis.to_string().contains("0x0000000000000012"));
        assert!(oor.to_string().contains("0x0000000000000040"));
        // Size rounds up to whole words.
        let m2 = Memory::new(13, 1);
        assert_eq!(m2.size_bytes(), 16);
        assert!(m2.peek(8).is_ok());
    }

    #[test]
    fn clone_is_independent() {
        let mut a = mem();
        a.host_store(0, X, 1, FULL_MASK).unwrap();
        let mut b = a.clone();
        b.drain_one(0);
        assert_eq!(a.peek(X).unwrap(), 0);
        assert_eq!(b.peek(X).unwrap(), 1);
        assert_eq!(a.sb_len(0), 1);
        assert_eq!(b.log().len(), a.log().len() + 1);
    }

    // ------------------------------------------------------------------
    // Litmus tests by explicit enumeration of interleavings
    // ------------------------------------------------------------------

    /// One step of a litmus thread.
    #[derive(Clone, Copy, Debug)]
    enum Op {
        /// Full store of a value.
        St(u64, u64),
        /// Load into register `r`.
        Ld(u64, usize),
        /// mfence.
        Fence,
        /// Store-buffer drain of the CPU (no-op when empty): the TSO silent step.
        Drain,
    }

    /// A litmus thread: the host CPU it runs on and its ops.
    type Thread = (u8, Vec<Op>);

    /// Runs every interleaving of `threads` (each thread's ops in program order) and
    /// returns the set of final register files. Also counts interleavings.
    fn explore(threads: &[Thread], n_regs: usize) -> (BTreeSet<Vec<u64>>, usize) {
        fn go(
            m: &Memory,
            threads: &[Thread],
            pcs: &mut Vec<usize>,
            regs: &mut Vec<u64>,
            out: &mut BTreeSet<Vec<u64>>,
            count: &mut usize,
        ) {
            let mut any = false;
            for t in 0..threads.len() {
                let (cpu, ops) = &threads[t];
                if pcs[t] == ops.len() {
                    continue;
                }
                any = true;
                let mut m2 = m.clone();
                let saved = regs.clone();
                match ops[pcs[t]] {
                    Op::St(a, v) => m2.host_store(*cpu, a, v, FULL_MASK).unwrap(),
                    Op::Ld(a, r) => regs[r] = m2.host_load(*cpu, a).unwrap(),
                    Op::Fence => {
                        m2.fence(*cpu);
                    }
                    Op::Drain => {
                        m2.drain_one(*cpu);
                    }
                }
                pcs[t] += 1;
                go(&m2, threads, pcs, regs, out, count);
                pcs[t] -= 1;
                *regs = saved;
            }
            if !any {
                out.insert(regs.clone());
                *count += 1;
            }
        }
        let mut m = Memory::new(0x1000, 2);
        m.set_logging(false);
        let mut out = BTreeSet::new();
        let mut count = 0;
        go(
            &m,
            threads,
            &mut vec![0; threads.len()],
            &mut vec![0; n_regs],
            &mut out,
            &mut count,
        );
        (out, count)
    }

    /// SB: CPU0 `x=1; [mfence;] r0=y`, CPU1 `y=1; [mfence;] r1=x`, plus each CPU's
    /// store-buffer drain as an independent step that may happen at any point.
    fn sb_threads(fenced: bool) -> Vec<Thread> {
        let cpu = |me: u64, other: u64, r: usize| {
            let mut v = vec![Op::St(me, 1)];
            if fenced {
                v.push(Op::Fence);
            }
            v.push(Op::Ld(other, r));
            v
        };
        vec![
            (0, cpu(X, Y, 0)),
            (1, cpu(Y, X, 1)),
            (0, vec![Op::Drain]),
            (1, vec![Op::Drain]),
        ]
    }

    #[test]
    fn litmus_sb_without_fences_allows_both_zero() {
        let (outs, count) = explore(&sb_threads(false), 2);
        // 6!/(2!2!1!1!) = 180 interleavings of the four sequences.
        assert_eq!(count, 180);
        assert!(outs.contains(&vec![0, 0]), "TSO must allow r0==0 && r1==0");
        for o in [vec![0, 1], vec![1, 0], vec![1, 1]] {
            assert!(outs.contains(&o), "outcome {o:?} should be reachable");
        }
    }

    #[test]
    fn litmus_sb_with_fences_forbids_both_zero() {
        let (outs, count) = explore(&sb_threads(true), 2);
        // 8!/(3!3!1!1!) = 1120 interleavings.
        assert_eq!(count, 1120);
        assert!(
            !outs.contains(&vec![0, 0]),
            "mfence must forbid r0==0 && r1==0"
        );
        for o in [vec![0, 1], vec![1, 0], vec![1, 1]] {
            assert!(outs.contains(&o), "outcome {o:?} should be reachable");
        }
    }

    #[test]
    fn litmus_sb_locked_ops_as_fences_forbid_both_zero() {
        // x86: a locked RMW is a full barrier (set_bit; then read IsRunning).
        let mut seen = BTreeSet::new();
        // Explicit enumeration of the 4!/(2!2!) = 6 interleavings of the two
        // two-step threads (the locked op leaves nothing buffered to drain).
        let orders: [[u8; 4]; 6] = [
            [0, 0, 1, 1],
            [0, 1, 0, 1],
            [0, 1, 1, 0],
            [1, 0, 0, 1],
            [1, 0, 1, 0],
            [1, 1, 0, 0],
        ];
        for order in orders {
            let mut m = mem();
            let mut pc = [0usize; 2];
            let mut r = [0u64; 2];
            for cpu in order {
                let (me, other) = if cpu == 0 { (X, Y) } else { (Y, X) };
                if pc[cpu as usize] == 0 {
                    m.host_lock_or(cpu, me, 1).unwrap();
                } else {
                    r[cpu as usize] = m.host_load(cpu, other).unwrap();
                }
                pc[cpu as usize] += 1;
            }
            seen.insert(r);
        }
        assert!(!seen.contains(&[0, 0]));
        assert!(seen.contains(&[1, 1]));
    }

    #[test]
    fn litmus_sb_sequentially_consistent_mode_forbids_both_zero() {
        // With capacity 0 every store writes through, so SB's relaxed outcome vanishes.
        fn run(order: &[u8]) -> [u64; 2] {
            let mut m = Memory::with_capacity(0x1000, 2, 0, 0);
            let mut pc = [0usize; 2];
            let mut r = [0u64; 2];
            for &cpu in order {
                let (me, other) = if cpu == 0 { (X, Y) } else { (Y, X) };
                if pc[cpu as usize] == 0 {
                    m.host_store(cpu, me, 1, FULL_MASK).unwrap();
                    assert_eq!(m.sb_len(cpu), 0);
                } else {
                    r[cpu as usize] = m.host_load(cpu, other).unwrap();
                }
                pc[cpu as usize] += 1;
            }
            r
        }
        for order in [
            [0, 0, 1, 1],
            [0, 1, 0, 1],
            [0, 1, 1, 0],
            [1, 0, 0, 1],
            [1, 0, 1, 0],
            [1, 1, 0, 0],
        ] {
            assert_ne!(run(&order), [0, 0], "order {order:?}");
        }
    }

    #[test]
    fn litmus_mp_fifo_buffer_forbids_flag_without_data() {
        // CPU0: data=1; flag=1 (two buffered stores, two drain steps).
        // CPU1: r0=flag; r1=data.
        const DATA: u64 = X;
        const FLAG: u64 = Y;
        let threads: Vec<Thread> = vec![
            (0, vec![Op::St(DATA, 1), Op::St(FLAG, 1)]),
            (1, vec![Op::Ld(FLAG, 0), Op::Ld(DATA, 1)]),
            (0, vec![Op::Drain, Op::Drain]),
        ];
        let (outs, count) = explore(&threads, 2);
        // 6!/(2!2!2!) = 90 interleavings.
        assert_eq!(count, 90);
        assert!(
            !outs.contains(&vec![1, 0]),
            "TSO forbids flag==1 && data==0"
        );
        for o in [vec![0, 0], vec![0, 1], vec![1, 1]] {
            assert!(outs.contains(&o), "outcome {o:?} should be reachable");
        }
    }
}
