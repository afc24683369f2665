//! Directed testbenches of the sender's hardware ordering variants (`rtl/avic_ipi_sender.sv`
//! through `avic_top`): HW-A (locked or split IRR update), HW-B (IsRunning read order), HW-G
//! (stale IsRunning), HW-D (validate first), two senders racing on one IRR word, and the C1
//! lost wake-up's hardware half. The bench: `common/rtl_bench.rs`.

#[path = "common/rtl_bench.rs"]
mod rtl_bench;

use rstest::rstest;
use rtl_bench::*;

///////////////////////////////
// 9. Ordering variants      //
///////////////////////////////

/// HW-A: atomic -> one locked set returning the old word; split -> a read then a byte-masked
/// write of old | bit.
#[rstest]
fn irr_update_ops(bench: Bench, #[values(true, false)] atomic_irr: bool) {
    let mut tb = bench
        .cfg(HwConfig { atomic_irr, ..APM })
        .intr_ready(1, false)
        .build();
    tb.poke(0x11220, 1 << 26); // 0x5A pending in IRR2, the register of 0x41
    tb.send(0, Icr::fixed_physical(0x41, 1));
    tb.settle();
    let t = tb.txns(0, PORT_IRR);
    if atomic_irr {
        assert_eq!(tb.ops(0, PORT_IRR), [lset(0x11220, 1 << 1)]);
        assert_eq!(t[0].old, 1 << 26);
    } else {
        assert_eq!(
            tb.ops(0, PORT_IRR),
            [rd(0x11220), wr(0x11220, 1 << 26 | 1 << 1)]
        );
        assert_eq!(t[0].old, 1 << 26);
        assert!(t[1].accepted > t[0].completed);
    }
    assert_eq!(tb.peek(0x11220), 1 << 26 | 1 << 1);
    assert_eq!(tb.evs(), [db(0, 1)]);
}

/// HW-B: with the IRR update held in flight, the IsRunning re-read of the entry is
/// 0: issued only after the update completed; 1: completes while the update is in flight;
/// 2: completes before the update is even accepted. The doorbell always waits for the update.
#[rstest]
fn isrun_read_order(
    bench: Bench,
    #[values(0, 1, 2)] isrun_order: u8,
    #[values(true, false)] atomic_irr: bool,
) {
    let mut tb = bench
        .cfg(HwConfig {
            atomic_irr,
            isrun_order,
            ..APM
        })
        .intr_ready(1, false)
        .build();
    tb.send(0, Icr::fixed_physical(0x41, 1));
    tb.hold_irr_update(0);
    tb.run(30);
    let reads_while_held = tb.ops(0, PORT_TBL).len();
    assert_eq!(reads_while_held, if isrun_order == 0 { 1 } else { 2 });
    assert_eq!(
        tb.evs(),
        [],
        "no doorbell while the IRR update is in flight"
    );
    tb.release(0, PORT_IRR);
    tb.settle();
    assert_eq!(tb.ops(0, PORT_TBL), [rd(0x1008), rd(0x1008)]);
    let upd = *tb.txns(0, PORT_IRR).last().unwrap();
    assert_eq!(
        upd.op,
        if atomic_irr {
            MemOp::LockSet
        } else {
            MemOp::Write
        }
    );
    let reread = tb.txns(0, PORT_TBL)[1];
    match isrun_order {
        0 => assert!(reread.accepted > upd.completed, "{reread} / {upd}"),
        1 => assert!(reread.accepted > upd.accepted && reread.completed < upd.completed),
        _ => assert!(reread.completed < upd.accepted),
    }
    assert_eq!(tb.evs(), [db(0, 1)]);
    assert!(tb.ev_cycle(db(0, 1)) > upd.completed);
}

/// HW-G: IsRunning taken from the entry read before the IRR update: one table read per
/// destination, no re-read, in every HW-B order.
#[rstest]
fn stale_isrun_reads_each_entry_once(bench: Bench, #[values(0, 1, 2)] isrun_order: u8) {
    let cfg = HwConfig {
        stale_isrun: true,
        isrun_order,
        ..APM
    };
    let mut tb = bench
        .cfg(cfg)
        .running([true, true, false, true])
        .no_intr()
        .build();
    tb.icr(0, SH_ALL_EXCL | 0x52, 0);
    tb.settle();
    assert_eq!(tb.ops(0, PORT_TBL), [0x1008, 0x1010, 0x1018].map(rd));
    assert_eq!(
        tb.evs(),
        [db(0, 1), db(0, 3), exit(0, 0x000C_0052, 0x1_0000_0002)]
    );
}

/// HW-D, the B2 probe: logical destination {entry 0 -> vCPU 1, entry 1 -> vCPU 2, entry 2 V=0}.
/// validate_first: the exit comes before any IRR write. Otherwise vCPUs 1 and 2 got their IRR
/// bits (and doorbells) before the cause-2 exit.
#[rstest]
fn validate_first_b2_probe(bench: Bench, #[values(true, false)] validate_first: bool) {
    let b = bench
        .cfg(HwConfig {
            validate_first,
            ..APM
        })
        .no_intr();
    let mut tb = b.log(0, 1, true).log(1, 2, true).log(2, 3, false).build();
    tb.send(0, Icr::fixed_logical(0x41, 0b111));
    tb.settle();
    let x = exit(0, 0x0700_0000_0000_0841, 0x2_0000_0002);
    if validate_first {
        assert_eq!(tb.evs(), [x]);
        assert_eq!(tb.irr_port_ops(), []);
        assert_eq!(
            tb.ops(0, PORT_TBL),
            [0x2000, 0x1008, 0x2000, 0x1010, 0x2008].map(rd)
        );
        assert_eq!((tb.irr(1, 0x41), tb.irr(2, 0x41)), (0, 0));
    } else {
        assert_eq!(tb.evs(), [db(0, 1), db(0, 2), x]);
        assert_eq!(
            tb.ops(0, PORT_IRR),
            [lset(0x11220, 1 << 1), lset(0x12220, 1 << 1)]
        );
        let exit_at = tb.ev_cycle(x);
        assert!(tb.txns(0, PORT_IRR).iter().all(|t| t.completed < exit_at));
        assert_eq!((tb.irr(1, 0x41), tb.irr(2, 0x41)), (1 << 1, 1 << 1));
        assert_eq!(
            tb.ops(0, PORT_TBL),
            [0x2000, 0x1008, 0x1008, 0x2000, 0x1010, 0x1010, 0x2008].map(rd)
        );
    }
    assert_eq!(tb.irr(3, 0x41), 0);
}

/// HW-D with every destination valid: a validation pass over all of them, then delivery.
#[rstest]
fn validate_first_all_valid(bench: Bench) {
    let b = bench
        .cfg(HwConfig {
            validate_first: true,
            ..APM
        })
        .no_intr();
    let mut tb = b.log(0, 1, true).log(1, 2, true).build();
    tb.send(0, Icr::fixed_logical(0x41, 0b11));
    tb.settle();
    assert_eq!(tb.evs(), [db(0, 1), db(0, 2)]);
    assert_eq!(
        tb.ops(0, PORT_TBL),
        [0x2000, 0x1008, 0x2000, 0x1010, 0x2000, 0x1008, 0x1008, 0x2000, 0x1010, 0x1010].map(rd)
    );
    assert_eq!(
        tb.ops(0, PORT_IRR),
        [lset(0x11220, 1 << 1), lset(0x12220, 1 << 1)]
    );
}

////////////////////////////////////////
// 10. Two senders on one IRR word    //
////////////////////////////////////////

#[derive(Clone, Copy, Debug)]
enum Sched {
    /// Both write ICR in the same cycle, nothing held.
    Together,
    /// Core 1 writes ICR this many cycles after core 0.
    Stagger(u64),
    /// Both updates held in flight, then released in this order.
    Release([usize; 2]),
}

/// Core 0 sends 0x40 and core 1 sends 0x45 to vCPU 2: both in IRR2 (0x12220).
fn race(mut tb: Tb, s: Sched) -> Tb {
    let (a, b) = (Icr::fixed_physical(0x40, 2), Icr::fixed_physical(0x45, 2));
    match s {
        Sched::Together => {
            tb.send(0, a);
            tb.send(1, b);
        }
        Sched::Stagger(k) => {
            tb.send(0, a);
            tb.run(k);
            tb.send(1, b);
        }
        Sched::Release(order) => {
            tb.send(0, a);
            tb.send(1, b);
            hold_both_updates(&mut tb);
            tb.run(10);
            assert_eq!(tb.peek(0x12220), 0, "neither update visible while held");
            tb.release(order[0], PORT_IRR);
            tb.release(order[1], PORT_IRR);
        }
    }
    tb.settle();
    tb
}

/// Holds both cores' IRR updates as they are offered, until both are in flight.
fn hold_both_updates(tb: &mut Tb) {
    let mut held = [false; 2];
    for _ in 0..1000 {
        for (c, h) in held.iter_mut().enumerate() {
            let r = tb.d.out.core[c].port[PORT_IRR];
            if !*h && r.valid && matches!(MemOp::from_code(r.op), MemOp::LockSet | MemOp::Write) {
                tb.d.hold(c, PORT_IRR, true);
                *h = true;
            }
        }
        tb.step();
        if held.iter().all(|&h| h) && (0..2).all(|c| tb.d.in_flight(c, PORT_IRR)) {
            return;
        }
    }
    panic!("the IRR updates were never offered");
}

/// HW-A true: both bits set whatever the schedule.
#[rstest]
fn atomic_irr_race_keeps_both_bits(
    bench: Bench,
    #[values(Sched::Together, Sched::Stagger(1), Sched::Stagger(2), Sched::Stagger(5), Sched::Release([0, 1]), Sched::Release([1, 0]))]
    s: Sched,
) {
    let tb = race(bench.intr_ready(2, false).build(), s);
    if let Sched::Release(order) = s {
        let first = tb.txns(order[0], PORT_IRR)[0];
        let second = tb.txns(order[1], PORT_IRR)[0];
        assert_eq!(first.old, 0);
        assert_eq!(
            second.old, first.wdata,
            "the second locked set saw the first"
        );
    }
    assert_eq!(
        tb.irr_port_ops(),
        [(0, lset(0x12220, 1)), (1, lset(0x12220, 1 << 5))]
    );
    assert_eq!(tb.peek(0x12220), 1 | 1 << 5);
    let [a, b] = if let Sched::Release(o) = s { o } else { [0, 1] };
    assert_eq!(tb.evs(), [db(a, 2), db(b, 2)]);
}

/// HW-A false: both reads complete (seeing 0) before either write; the write that lands last
/// overwrites the other's bit.
#[rstest]
#[case::core0_then_core1([0, 1], 1 << 5)]
#[case::core1_then_core0([1, 0], 1)]
fn split_irr_race_loses_a_bit(bench: Bench, #[case] order: [usize; 2], #[case] survivor: u64) {
    let b = bench
        .cfg(HwConfig {
            atomic_irr: false,
            ..APM
        })
        .intr_ready(2, false);
    let tb = race(b.build(), Sched::Release(order));
    assert_eq!(tb.ops(0, PORT_IRR), [rd(0x12220), wr(0x12220, 1)]);
    assert_eq!(tb.ops(1, PORT_IRR), [rd(0x12220), wr(0x12220, 1 << 5)]);
    let (t0, t1) = (tb.txns(0, PORT_IRR), tb.txns(1, PORT_IRR));
    assert_eq!(
        (t0[0].old, t1[0].old),
        (0, 0),
        "both reads saw an empty IRR2"
    );
    assert!(t0[0].completed.max(t1[0].completed) < t0[1].completed.min(t1[1].completed));
    let (first, last) = (
        tb.txns(order[0], PORT_IRR)[1],
        tb.txns(order[1], PORT_IRR)[1],
    );
    assert_eq!(
        last.old, first.wdata,
        "the last write overwrote the first one's bit"
    );
    assert_eq!(tb.peek(0x12220), survivor);
    assert_eq!(tb.evs(), [db(order[0], 2), db(order[1], 2)]);
}

/// HW-A false without overlap (core 1 starts after core 0 finished): nothing is lost.
#[rstest]
fn split_irr_serialized_keeps_both_bits(bench: Bench) {
    let tb = bench
        .cfg(HwConfig {
            atomic_irr: false,
            ..APM
        })
        .intr_ready(2, false)
        .build();
    let tb = race(tb, Sched::Stagger(30));
    assert_eq!(tb.peek(0x12220), 1 | 1 << 5);
    assert_eq!(tb.txns(1, PORT_IRR)[0].old, 1);
}

////////////////////////////////////////////
// 11. C1: IsRunning cleared mid-update   //
////////////////////////////////////////////

/// The C1 hardware half: the IRR update of core 0 (vector 0x41 to vCPU 1) is held in flight;
/// meanwhile vCPU 1 blocks: software clears IsRunning, leaves guest mode and reads IRR = 0.
/// Then the update lands.
/// - isrun_order 1 / 2 / stale: IsRunning=1 was read before the clear: doorbell to host 1
///   (dropped: host mode), no exit, and vCPU 1 sleeps with IRR[0x41] set.
/// - isrun_order 0: the IsRunning read is issued only after the update completed, sees
///   IsRunning=0, and the sender exits with cause 1.
#[rstest]
#[case::in_flight(1, false, true)]
#[case::isrun_first(2, false, true)]
#[case::stale(0, true, true)]
#[case::after_ack(0, false, false)]
fn c1_isrunning_cleared_while_irr_update_in_flight(
    bench: Bench,
    #[case] isrun_order: u8,
    #[case] stale_isrun: bool,
    #[case] rings: bool,
) {
    let mut tb = bench
        .cfg(HwConfig {
            isrun_order,
            stale_isrun,
            ..APM
        })
        .build();
    tb.send(0, Icr::fixed_physical(0x41, 1));
    tb.hold_irr_update(0);
    tb.run(30);
    let before = tb.txns(0, PORT_TBL);
    let running_entry = 0xC000_0000_0001_1001u64; // V | IR | backing 0x11000 | host 1
    let blocked_entry = 0x8000_0000_0001_1001u64;
    assert!(before.iter().all(|t| t.old == running_entry));
    if isrun_order == 0 {
        assert_eq!(
            before.len(),
            1,
            "only the entry read before the update completes"
        );
        assert!(!tb.d.in_flight(0, PORT_TBL) && !tb.d.out.core[0].port[PORT_TBL].valid);
    } else {
        assert_eq!(before.len(), 2, "IsRunning already read as 1");
    }
    // vCPU 1 blocks: IsRunning := 0, host mode, then its last IRR check sees nothing.
    tb.poke(0x1008, blocked_entry);
    tb.d.core(1).guest_mode = false;
    assert_eq!(tb.peek(0x11220), 0);
    tb.release(0, PORT_IRR);
    tb.settle();
    assert_eq!(tb.peek(0x11220), 1 << 1, "IRR[0x41] landed");
    let tbl = tb.txns(0, PORT_TBL);
    if rings {
        assert_eq!(tb.evs(), [db(0, 1), Ev::Dropped { core: 1 }]);
        assert_eq!(tbl.len(), if stale_isrun { 1 } else { 2 });
        assert!(tbl.iter().all(|t| t.old == running_entry));
    } else {
        assert_eq!(tb.evs(), [exit(0, 0x0100_0000_0000_0041, 0x1_0000_0001)]);
        assert_eq!(tbl.len(), 2);
        assert_eq!(tbl[1].old, blocked_entry, "the re-read saw IsRunning=0");
        assert!(tbl[1].accepted > tb.txns(0, PORT_IRR)[0].completed);
        assert_eq!(tbl[1].old & IS_RUNNING, 0);
    }
}
