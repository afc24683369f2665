//! Directed testbenches of the IPI sender (`rtl/avic_ipi_sender.sv`) through `avic_top`: the
//! destination kinds of APM 15.29.6.1 (physical, logical, shorthands, broadcast), what each
//! delivers (IRR bits, doorbells to host APIC IDs) and the #VMEXIT with its EXITINFO words
//! for invalid types, vectors and targets. The bench: `common/rtl_bench.rs`.

#[path = "common/rtl_bench.rs"]
mod rtl_bench;

use rstest::rstest;
use rtl_bench::*;

/////////////////////////////
// 1-2. Physical delivery  //
/////////////////////////////

/// APM 15.29.6.1 steps 4-5: IRR of the target at backing + 0x200 + 0x10*(v/32), bit v%32, then
/// a doorbell to the entry's host APIC ID (the core running the target, which need not equal
/// the vCPU's APIC ID); that core takes the vector (IRR -> ISR).
#[rstest]
#[case::vec41_to_1(1, 0x41, 0x11220, 0x11120, 1 << 1, [0, 1, 2, 3])]
#[case::vec10_to_2(2, 0x10, 0x12200, 0x12100, 1 << 16, [0, 1, 2, 3])]
#[case::vecff_to_3(3, 0xFF, 0x13270, 0x13170, 1 << 31, [0, 1, 2, 3])]
#[case::vec41_to_1_on_core_3(1, 0x41, 0x11220, 0x11120, 1 << 1, [0, 3, 2, 1])]
#[case::vec9f_to_2_on_core_1(2, 0x9F, 0x12240, 0x12140, 1 << 31, [0, 2, 3, 1])]
fn physical_ipi_to_running_target(
    bench: Bench,
    #[case] dest: u8,
    #[case] vector: u8,
    #[case] irr_at: u64,
    #[case] isr_at: u64,
    #[case] bit: u64,
    #[case] vcpu_of: [u8; N],
) {
    let host = vcpu_of.iter().position(|&v| v == dest).unwrap();
    let mut tb = bench.place(vcpu_of).build();
    tb.send(0, Icr::fixed_physical(vector, dest));
    tb.step_until("the doorbell", |t| !t.evs().is_empty());
    assert_eq!(tb.evs(), [db(0, host as u16)]);
    assert_eq!(tb.peek(irr_at), bit, "IRR bit set before the doorbell");
    let entry = 0x1000 + 8 * u64::from(dest);
    assert_eq!(
        tb.ops(0, PORT_TBL),
        [rd(entry), rd(entry)],
        "entry read, then the IsRunning read"
    );
    assert_eq!(tb.ops(0, PORT_IRR), [lset(irr_at, bit)]);

    tb.settle();
    assert_eq!(tb.evs(), [db(0, host as u16), intr(host, vector)]);
    assert_eq!(tb.peek(irr_at), 0, "IRR bit moved to ISR");
    assert_eq!(tb.peek(isr_at), bit);
    assert!(tb.d.out.core[host].in_service);
    // The receiver scans IRR7 down to the vector's register, clears the bit, sets ISR.
    let top = 0x1_0000 + 0x1000 * u64::from(dest) + 0x270;
    let mut expect: Vec<Op> = (0..=(7 - u64::from(vector >> 5)))
        .map(|n| rd(top - 0x10 * n))
        .collect();
    expect.extend([lclr(irr_at, bit), lset(isr_at, bit)]);
    assert_eq!(tb.ops(host, PORT_RCV), expect);
    // Nothing else touched memory.
    assert!(tb.d.txns().iter().all(|t| t.core == 0 || t.core == host));
}

/// APM step 6: target not running -> IRR set, #VMEXIT 401h, EXITINFO1 = ICRH:ICRL,
/// EXITINFO2 = 1 << 32 | table index; no doorbell.
#[rstest]
#[case::vec41_to_2(2, 0x41, 0x0200_0000_0000_0041, 0x1_0000_0002)]
#[case::vecec_to_3(3, 0xEC, 0x0300_0000_0000_00EC, 0x1_0000_0003)]
fn physical_ipi_to_target_not_running(
    bench: Bench,
    #[case] dest: u8,
    #[case] vector: u8,
    #[case] info1: u64,
    #[case] info2: u64,
) {
    let mut tb = bench.running([true, true, false, false]).build();
    tb.send(0, Icr::fixed_physical(vector, dest));
    tb.settle();
    assert_eq!(tb.evs(), [exit(0, info1, info2)]);
    assert_eq!(
        tb.irr(dest, vector),
        vector_bit(vector),
        "IRR set before the exit"
    );
    let irr_at = tb.irr_addr(dest, vector);
    assert_eq!(tb.ops(0, PORT_IRR), [lset(irr_at, vector_bit(vector))]);
    assert_eq!(tb.ops(0, PORT_TBL), [rd(tb.phys(dest)), rd(tb.phys(dest))]);
    let irr_done = tb.txns(0, PORT_IRR)[0].completed;
    assert!(tb.ev_cycle(exit(0, info1, info2)) > irr_done);
    assert!(
        tb.txns(dest.into(), PORT_RCV).is_empty(),
        "no doorbell, no evaluation"
    );
}

/////////////////////////
// 3. Invalid targets  //
/////////////////////////

/// Index above AVIC_PHYSICAL_MAX_INDEX or an entry with V=0 -> cause 2; V=1 with a zero backing
/// page -> cause 3; EXITINFO2[11:0] = the index; no IRR write anywhere.
#[rstest]
#[case::index_above_max(Bench::default().max_idx(2), 3, 0x2_0000_0003, &[])]
#[case::index_fe(Bench::default(), 0xFE, 0x2_0000_00FE, &[])]
#[case::entry_not_valid(Bench::default().valid(2, false), 2, 0x2_0000_0002, &[0x1010])]
#[case::no_backing_page(Bench::default().backing(1, 0), 1, 0x3_0000_0001, &[0x1008])]
fn physical_ipi_to_invalid_target(
    #[case] bench: Bench,
    #[case] dest: u8,
    #[case] info2: u64,
    #[case] tbl_reads: &[u64],
    #[values(false, true)] validate_first: bool,
) {
    let mut tb = bench
        .cfg(HwConfig {
            validate_first,
            ..APM
        })
        .build();
    tb.send(0, Icr::fixed_physical(0x41, dest));
    tb.settle();
    assert_eq!(tb.evs(), [exit(0, 0x41 | u64::from(dest) << 56, info2)]);
    assert_eq!(
        tb.ops(0, PORT_TBL),
        tbl_reads.iter().map(|&a| rd(a)).collect::<Vec<_>>()
    );
    assert_eq!(tb.irr_port_ops(), []);
    for v in 0..4 {
        assert_eq!(tb.irr(v, 0x41), 0);
    }
}

//////////////////////////////////////////////
// 4. Interrupt type and vector validation  //
//////////////////////////////////////////////

/// Not Fixed, or level triggered -> cause 0 (checked before the vector); vector < 16 -> cause 4.
/// Either way EXITINFO2[11:0] = 0 and no memory transaction at all.
#[rstest]
#[case::fixed_level(0x0000_C041, 0x0100_0000, 0)]
#[case::lowest_priority(0x0000_0141, 0x0100_0000, 0)]
#[case::smi(0x0000_0241, 0x0100_0000, 0)]
#[case::nmi(0x0000_0441, 0x0100_0000, 0)]
#[case::init_vector_0(0x0000_0500, 0x0100_0000, 0)]
#[case::startup(0x0000_0610, 0x0100_0000, 0)]
#[case::nmi_broadcast(0x000C_0402, 0, 0)]
#[case::vector_0(0x0000_0000, 0x0100_0000, 4)]
#[case::vector_15(0x0000_000F, 0x0100_0000, 4)]
#[case::vector_15_logical(0x0000_080F, 0x0100_0000, 4)]
#[case::vector_15_dest_ff(0x0000_000F, 0xFF00_0000, 4)]
#[case::vector_15_self(0x0004_000F, 0, 4)]
#[case::vector_15_all_excl(0x000C_000F, 0, 4)]
fn invalid_type_or_vector(bench: Bench, #[case] lo: u32, #[case] hi: u32, #[case] cause: u64) {
    let mut tb = bench.build();
    tb.icr(0, lo, hi);
    tb.settle();
    assert_eq!(tb.evs(), [exit(0, info1(lo, hi), cause << 32)]);
    assert_eq!(tb.d.txns(), []);
}

//////////////////
// 5. Self IPI  //
//////////////////

/// Shorthand 01: own backing page's IRR (no table read: our own entry is even invalid here),
/// no exit, no doorbell; the local receiver takes the vector. Split updates merge with a
/// vector already pending in the same register.
#[rstest]
fn self_ipi(
    bench: Bench,
    #[values(true, false)] atomic_irr: bool,
    #[values(0, 1, 2)] isrun_order: u8,
    #[values(false, true)] validate_first: bool,
) {
    let cfg = HwConfig {
        atomic_irr,
        isrun_order,
        validate_first,
        ..APM
    };
    let mut tb = bench.cfg(cfg).valid(2, false).build();
    let at = 0x12230; // backing(2) + 0x200 + 0x10 * (0x66 >> 5)
    tb.poke(at, 1 << 1); // 0x61 pending
    tb.icr(2, SH_SELF | 0x66, 0xFE00_0000); // destination field ignored
    tb.settle();
    let expect = if atomic_irr {
        vec![lset(at, 1 << 6)]
    } else {
        vec![rd(at), wr(at, 1 << 6 | 1 << 1)]
    };
    assert_eq!(tb.ops(2, PORT_IRR), expect);
    assert_eq!(tb.ops(2, PORT_TBL), []);
    assert_eq!(tb.evs(), [intr(2, 0x66)]);
    assert_eq!(tb.peek(at), 1 << 1, "0x66 moved to ISR, 0x61 still pending");
    assert_eq!(tb.peek(0x12130), 1 << 6);
    assert!((0..N)
        .filter(|&c| c != 2)
        .all(|c| tb.txns(c, PORT_RCV).is_empty()));
}

///////////////////
// 6. Broadcast  //
///////////////////

/// Shorthand 11: every valid entry but the sender's gets IRR; doorbells exactly to the running
/// ones, then #VMEXIT cause 1 naming the first destination not running.
#[rstest]
#[case::mixed([true, true, false, true], &[1, 3], Some(2))]
#[case::first_not_running_reported([true, false, true, false], &[2], Some(1))]
#[case::all_running([true; 4], &[1, 2, 3], None)]
#[case::none_running([true, false, false, false], &[], Some(1))]
fn broadcast_excluding_self(
    bench: Bench,
    #[case] running: [bool; N],
    #[case] doorbells: &[u16],
    #[case] not_running: Option<u64>,
    #[values(false, true)] validate_first: bool,
) {
    let cfg = HwConfig {
        validate_first,
        ..APM
    };
    let mut tb = bench.cfg(cfg).running(running).no_intr().build();
    tb.icr(0, SH_ALL_EXCL | 0x52, 0);
    tb.settle();
    let mut expect: Vec<Ev> = doorbells.iter().map(|&h| db(0, h)).collect();
    if let Some(i) = not_running {
        expect.push(exit(0, 0x000C_0052, 1 << 32 | i));
    }
    assert_eq!(tb.evs(), expect);
    for v in 1..4 {
        assert_eq!(tb.irr(v, 0x52), 1 << 18, "vCPU {v}");
    }
    assert_eq!(tb.irr(0, 0x52), 0, "sender's own IRR untouched");
    assert_eq!(
        tb.ops(0, PORT_IRR),
        [
            lset(0x11220, 1 << 18),
            lset(0x12220, 1 << 18),
            lset(0x13220, 1 << 18)
        ]
    );
    let deliver = [0x1008, 0x1008, 0x1010, 0x1010, 0x1018, 0x1018].map(rd);
    let tbl = tb.ops(0, PORT_TBL);
    if validate_first {
        assert_eq!(tbl[..3], [0x1008, 0x1010, 0x1018].map(rd));
        assert_eq!(tbl[3..], deliver);
    } else {
        assert_eq!(tbl, deliver);
    }
    let last_irr = tb.txns(0, PORT_IRR).last().unwrap().completed;
    for e in tb.d.events() {
        if let DutEvent::Exit { cycle, .. } = e {
            assert!(*cycle > last_irr, "HW-C: every IRR set before the exit");
        }
    }
}

/// Shorthand 10, or destination FFh (physical or logical): every valid entry including the
/// sender's own; invalid entries (4, 5 here) are skipped, not reported.
#[rstest]
#[case::all_including_self(SH_ALL_INCL | 0x52, 0)]
#[case::physical_dest_ff(0x52, 0xFF00_0000)]
#[case::logical_dest_ff(LOGICAL | 0x52, 0xFF00_0000)]
fn broadcast_including_self(bench: Bench, #[case] lo: u32, #[case] hi: u32) {
    let mut tb = bench
        .max_idx(5)
        .running([true, true, false, true])
        .no_intr()
        .build();
    tb.icr(1, lo, hi);
    tb.settle();
    assert_eq!(
        tb.evs(),
        [
            db(1, 0),
            db(1, 1),
            db(1, 3),
            exit(1, info1(lo, hi), 0x1_0000_0002)
        ]
    );
    for v in 0..4 {
        assert_eq!(tb.irr(v, 0x52), 1 << 18, "vCPU {v}");
    }
    let irr: Vec<Op> = (0..4)
        .map(|v| lset(0x10220 + 0x1000 * v, 1 << 18))
        .collect();
    assert_eq!(tb.ops(1, PORT_IRR), irr);
    let tbl = [
        0x1000, 0x1000, 0x1008, 0x1008, 0x1010, 0x1010, 0x1018, 0x1018, 0x1020, 0x1028,
    ];
    assert_eq!(tb.ops(1, PORT_TBL), tbl.map(rd));
}

/////////////////
// 7. Logical  //
/////////////////

/// Flat: bit i of the destination selects logical entry i. Cluster: dest[7:4] is the cluster,
/// dest[3:0] the mask, entry cluster*4+bit. Entries share 64-bit words (odd index = upper half);
/// the unselected halves hold decoys pointing elsewhere.
#[rstest]
#[case::flat(false, 0b0000_0101, &[(0, 2), (1, 1), (2, 3), (3, 1)], &[2, 3], &[0x2000, 0x1010, 0x1010, 0x2008, 0x1018, 0x1018])]
#[case::flat_upper_halves(false, 0b1000_0010, &[(0, 3), (1, 1), (6, 3), (7, 2)], &[1, 2], &[0x2000, 0x1008, 0x1008, 0x2018, 0x1010, 0x1010])]
#[case::cluster(true, 0x2A, &[(8, 2), (9, 1), (10, 0), (11, 3)], &[1, 3], &[0x2020, 0x1008, 0x1008, 0x2028, 0x1018, 0x1018])]
#[case::cluster_0(true, 0x05, &[(0, 3), (1, 1), (2, 2), (3, 1)], &[3, 2], &[0x2000, 0x1018, 0x1018, 0x2008, 0x1010, 0x1010])]
fn logical_ipi(
    bench: Bench,
    #[case] cluster: bool,
    #[case] dest: u8,
    #[case] log: &[(u8, u8)],
    #[case] targets: &[u8],
    #[case] tbl_reads: &[u64],
) {
    let mut b = bench.no_intr();
    for &(idx, phys) in log {
        b = b.log(idx, phys, true);
    }
    if cluster {
        b = b.cluster(0);
    }
    let mut tb = b.build();
    tb.send(0, Icr::fixed_logical(0x77, dest));
    tb.settle();
    let dbs: Vec<Ev> = targets.iter().map(|&t| db(0, t.into())).collect();
    assert_eq!(tb.evs(), dbs);
    let irr: Vec<Op> = targets
        .iter()
        .map(|&t| lset(0x10230 + 0x1000 * u64::from(t), 1 << 23))
        .collect();
    assert_eq!(tb.ops(0, PORT_IRR), irr);
    assert_eq!(
        tb.ops(0, PORT_TBL),
        tbl_reads.iter().map(|&a| rd(a)).collect::<Vec<_>>()
    );
    for v in 0..4 {
        let want = if targets.contains(&v) { 1 << 23 } else { 0 };
        assert_eq!(tb.irr(v, 0x77), want, "vCPU {v}");
    }
}

/// A logical entry with V=0 (or pointing at an invalid or out-of-range physical entry) met
/// before any valid one -> cause 2 with that index, nothing delivered.
#[rstest]
#[case::flat_entry_invalid(false, 0x03, &[(0, 1, false), (1, 2, true)], 0x2_0000_0000)]
#[case::cluster_entry_invalid(true, 0x11, &[(4, 3, false), (5, 2, true)], 0x2_0000_0004)]
#[case::phys_entry_invalid(false, 0x01, &[(0, 3, true)], 0x2_0000_0003)]
#[case::phys_id_above_max(false, 0x01, &[(0, 9, true)], 0x2_0000_0009)]
fn logical_invalid_target(
    bench: Bench,
    #[case] cluster: bool,
    #[case] dest: u8,
    #[case] log: &[(u8, u8, bool)],
    #[case] info2: u64,
    #[values(false, true)] validate_first: bool,
) {
    let mut b = bench
        .cfg(HwConfig {
            validate_first,
            ..APM
        })
        .valid(3, false);
    for &(idx, phys, valid) in log {
        b = b.log(idx, phys, valid);
    }
    if cluster {
        b = b.cluster(0);
    }
    let mut tb = b.build();
    tb.send(0, Icr::fixed_logical(0x77, dest));
    tb.settle();
    assert_eq!(tb.evs(), [exit(0, 0x877 | u64::from(dest) << 56, info2)]);
    assert_eq!(tb.irr_port_ops(), []);
    for v in 0..4 {
        assert_eq!(tb.irr(v, 0x77), 0);
    }
}
