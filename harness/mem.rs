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

/// Words per chunk of the written-chunk map of [`Memory`] (what a snapshot copies).
const CHUNK_WORDS: usize = 8;

/// A [`Memory`] saved by [`Memory::snapshot`]: the chunks written since the base image (the
/// image itself is shared, not copied), the store buffers, the observer and the log.
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
    watch: Option<Box<dyn MemObserver>>,
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
    /// The observer of the accesses, if any ([`Memory::observe`]).
    watch: Option<Box<dyn MemObserver>>,
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
    /// was set), the store buffers, the observer and the log.
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
        self.watch.clone_from(&s.watch);
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
}

mod host;
mod internals;
mod log;
mod observer;
mod ports;
mod store_buffer;
#[cfg(test)]
mod tests;

pub use observer::{MemObserver, NO_ACTOR};
pub use store_buffer::SbEntries;
use store_buffer::StoreBuffer;
