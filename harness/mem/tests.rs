//! Unit tests and litmus tests of the memory model.
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
