//! Directed testbenches of the AVIC RTL (`rtl/`) against the APM encodings
//! (../shared/spec/avic-protocol.md section 1) and the hardware ordering variants HW-A, HW-B,
//! HW-D, HW-E and HW-G (section 3).
//!
//! Every bench comes from [`Bench`]: vCPU i (i = 0..3) runs on core i, whose host physical APIC
//! ID is i, and has its backing page at `VmLayout::backing(i)`. Tests assert exact addresses,
//! bits, EXITINFO words, host ids and transaction orders.

use avic_cosim::apic::*;
use avic_cosim::dut::*;
use avic_cosim::ffi::{HwConfig, ModelKind};
use avic_cosim::mem::Memory;
use rstest::{fixture, rstest};

const N: usize = NUM_CORES;

/// The APM's order: one locked IRR set, IsRunning read after it completes, read fresh,
/// destinations handled one by one, host-mode doorbells dropped.
const APM: HwConfig = HwConfig {
    atomic_irr: true,
    isrun_order: 0,
    stale_isrun: false,
    validate_first: false,
    latch_doorbell: false,
};

/// ICR low bits 19:18 = 11b: all excluding self.
const SH_ALL_EXCL: u32 = 3 << 18;
/// ICR low bits 19:18 = 10b: all including self.
const SH_ALL_INCL: u32 = 2 << 18;
/// ICR low bits 19:18 = 01b: self.
const SH_SELF: u32 = 1 << 18;
/// ICR low bit 11: logical destination mode.
const LOGICAL: u32 = 1 << 11;
/// Physical APIC ID table entry bit 62.
const IS_RUNNING: u64 = 1 << 62;

///////////////////
// Shared bench  //
///////////////////

/// Builder of one bench: a memory holding a [`VmLayout`]'s tables and a reset `Dut` over it.
#[derive(Clone, Debug)]
struct Bench {
    cfg: HwConfig,
    layout: VmLayout,
    max_idx: u8,
    /// Physical APIC ID table entries 0..3 (vCPU i: backing(i), host id i).
    phys: [PhysEntry; N],
    /// Logical APIC ID table entries (index, entry).
    log: Vec<(u8, LogEntry)>,
    guest_mode: [bool; N],
    intr_ready: [bool; N],
    cluster: [bool; N],
    /// vCPU run by each core (default: vCPU c on core c).
    vcpu_of: [u8; N],
}

impl Default for Bench {
    fn default() -> Self {
        let layout = VmLayout::default();
        let phys = std::array::from_fn(|i| PhysEntry {
            valid: true,
            is_running: true,
            backing: layout.backing(i as u8),
            host_id: i as u16,
        });
        Bench {
            cfg: APM,
            layout,
            max_idx: 3,
            phys,
            log: Vec::new(),
            guest_mode: [true; N],
            intr_ready: [true; N],
            cluster: [false; N],
            vcpu_of: [0, 1, 2, 3],
        }
    }
}

#[fixture]
fn bench() -> Bench {
    Bench::default()
}

impl Bench {
    fn cfg(mut self, cfg: HwConfig) -> Self {
        self.cfg = cfg;
        self
    }
    fn max_idx(mut self, m: u8) -> Self {
        self.max_idx = m;
        self
    }
    fn running(mut self, r: [bool; N]) -> Self {
        for (e, r) in self.phys.iter_mut().zip(r) {
            e.is_running = r;
        }
        self
    }
    fn valid(mut self, id: u8, v: bool) -> Self {
        self.phys[id as usize].valid = v;
        self
    }
    fn backing(mut self, id: u8, b: u64) -> Self {
        self.phys[id as usize].backing = b;
        self
    }
    /// Logical table entry `idx` pointing at physical id `phys_id`.
    fn log(mut self, idx: u8, phys_id: u8, valid: bool) -> Self {
        self.log.push((idx, LogEntry { valid, phys_id }));
        self
    }
    fn guest_mode(mut self, core: usize, g: bool) -> Self {
        self.guest_mode[core] = g;
        self
    }
    fn intr_ready(mut self, core: usize, r: bool) -> Self {
        self.intr_ready[core] = r;
        self
    }
    /// No receiver takes interrupts, so delivered IRR bits stay visible in memory.
    fn no_intr(mut self) -> Self {
        self.intr_ready = [false; N];
        self
    }
    /// Core `c` runs vCPU `vcpu_of[c]` (a permutation): its entry names host APIC ID `c`.
    fn place(mut self, vcpu_of: [u8; N]) -> Self {
        self.vcpu_of = vcpu_of;
        for (c, &v) in vcpu_of.iter().enumerate() {
            self.phys[v as usize].host_id = c as u16;
        }
        self
    }
    fn cluster(mut self, core: usize) -> Self {
        self.cluster[core] = true;
        self
    }

    fn build(self) -> Tb {
        let l = self.layout;
        let mut mem = Memory::new(l.mem_size(8), N as u8);
        for (id, e) in self.phys.iter().enumerate() {
            mem.poke(l.phys_entry(id as u8), e.encode()).unwrap();
        }
        for (idx, e) in &self.log {
            let (addr, upper) = l.log_entry(*idx);
            let shift = if upper { 32 } else { 0 };
            let w = mem.peek(addr).unwrap() & !(0xFFFF_FFFF << shift);
            mem.poke(addr, w | u64::from(e.encode()) << shift).unwrap();
        }
        let mut d = Dut::new(ModelKind::Plain, self.cfg, mem).unwrap();
        d.inp.phys_base = l.phys_table;
        d.inp.phys_max_idx = self.max_idx;
        d.inp.log_base = l.log_table;
        for c in 0..N {
            let ci = d.core(c);
            ci.backing = l.backing(self.vcpu_of[c]);
            ci.self_idx = self.vcpu_of[c];
            ci.guest_mode = self.guest_mode[c];
            ci.intr_ready = self.intr_ready[c];
            ci.ldr_cluster = self.cluster[c];
        }
        Tb { d, l }
    }
}

/// An RTL event without its cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    Exit {
        core: usize,
        code: u16,
        info1: u64,
        info2: u64,
    },
    Doorbell {
        core: usize,
        host: u16,
    },
    Dropped {
        core: usize,
    },
    Intr {
        core: usize,
        vector: u8,
    },
}

/// #VMEXIT AVIC_INCOMPLETE_IPI from `core`.
fn exit(core: usize, info1: u64, info2: u64) -> Ev {
    Ev::Exit {
        core,
        code: 0x401,
        info1,
        info2,
    }
}
fn db(core: usize, host: u16) -> Ev {
    Ev::Doorbell { core, host }
}
fn intr(core: usize, vector: u8) -> Ev {
    Ev::Intr { core, vector }
}

/// A port operation as asserted: (op, address, write data; 0 for reads).
type Op = (MemOp, u64, u64);
fn rd(addr: u64) -> Op {
    (MemOp::Read, addr, 0)
}
fn lset(addr: u64, bits: u64) -> Op {
    (MemOp::LockSet, addr, bits)
}
fn lclr(addr: u64, bits: u64) -> Op {
    (MemOp::LockClr, addr, bits)
}
fn wr(addr: u64, data: u64) -> Op {
    (MemOp::Write, addr, data)
}

/// A built bench.
struct Tb {
    d: Dut,
    l: VmLayout,
}

impl Tb {
    /// Guest write of ICR (raw halves) on `core`.
    fn icr(&mut self, core: usize, lo: u32, hi: u32) {
        self.d.write_icr(core, lo, hi);
    }
    fn send(&mut self, core: usize, icr: Icr) {
        self.d.write_icr(core, icr.lo(), icr.hi());
    }
    fn step(&mut self) {
        self.d.step().unwrap();
    }
    fn run(&mut self, n: u64) {
        self.d.run(n).unwrap();
    }
    /// Steps until nothing moved for 8 cycles (no sender busy, no request, nothing in flight).
    fn settle(&mut self) {
        let mut idle = 0;
        for _ in 0..5000 {
            self.step();
            let active = (0..N).any(|c| {
                self.d.out.core[c].busy
                    || (0..NUM_PORTS)
                        .any(|p| self.d.out.core[c].port[p].valid || self.d.in_flight(c, p))
            });
            idle = if active { 0 } else { idle + 1 };
            if idle == 8 {
                return;
            }
        }
        panic!("the RTL did not settle");
    }
    fn step_until(&mut self, what: &str, f: impl Fn(&Tb) -> bool) {
        for _ in 0..1000 {
            if f(self) {
                return;
            }
            self.step();
        }
        panic!("timeout waiting for {what}");
    }
    /// Steps until `core` offers its IRR update (the locked set or the write of a split update)
    /// and holds it in flight: the step that accepts it has run when this returns.
    fn hold_irr_update(&mut self, core: usize) {
        self.step_until("an IRR update", |t| {
            let r = t.d.out.core[core].port[PORT_IRR];
            r.valid && matches!(MemOp::from_code(r.op), MemOp::LockSet | MemOp::Write)
        });
        self.d.hold(core, PORT_IRR, true);
        self.step();
        assert!(self.d.in_flight(core, PORT_IRR));
    }
    /// Lets a held port go and steps until its transaction completed.
    fn release(&mut self, core: usize, port: usize) {
        self.d.hold(core, port, false);
        self.step_until("the released transaction", |t| !t.d.in_flight(core, port));
    }

    fn peek(&self, addr: u64) -> u64 {
        self.d.mem.peek(addr).unwrap()
    }
    fn poke(&mut self, addr: u64, v: u64) {
        self.d.mem.poke(addr, v).unwrap();
    }
    /// The IRR register of `vcpu` holding `vector` (the 64-bit word at its address).
    fn irr(&self, vcpu: u8, vector: u8) -> u64 {
        self.peek(irr_word(self.l.backing(vcpu), vector))
    }
    fn isr(&self, vcpu: u8, vector: u8) -> u64 {
        self.peek(isr_word(self.l.backing(vcpu), vector))
    }
    fn irr_addr(&self, vcpu: u8, vector: u8) -> u64 {
        irr_word(self.l.backing(vcpu), vector)
    }
    fn phys(&self, id: u8) -> u64 {
        self.l.phys_entry(id)
    }

    fn evs(&self) -> Vec<Ev> {
        self.d
            .events()
            .iter()
            .map(|e| match *e {
                DutEvent::Exit {
                    core,
                    code,
                    info1,
                    info2,
                    ..
                } => Ev::Exit {
                    core,
                    code,
                    info1,
                    info2,
                },
                DutEvent::Doorbell { core, host_id, .. } => Ev::Doorbell {
                    core,
                    host: host_id,
                },
                DutEvent::DoorbellDropped { core, .. } => Ev::Dropped { core },
                DutEvent::Interrupt { core, vector, .. } => Ev::Intr { core, vector },
            })
            .collect()
    }
    /// Cycle of the first event equal to `ev`.
    fn ev_cycle(&self, ev: Ev) -> u64 {
        let i = self
            .evs()
            .iter()
            .position(|e| *e == ev)
            .unwrap_or_else(|| panic!("no {ev:?}"));
        match self.d.events()[i] {
            DutEvent::Exit { cycle, .. }
            | DutEvent::Doorbell { cycle, .. }
            | DutEvent::DoorbellDropped { cycle, .. }
            | DutEvent::Interrupt { cycle, .. } => cycle,
        }
    }
    fn txns(&self, core: usize, port: usize) -> Vec<Txn> {
        self.d
            .txns()
            .iter()
            .filter(|t| t.core == core && t.port == port)
            .copied()
            .collect()
    }
    /// Completed operations of one port, in completion order.
    fn ops(&self, core: usize, port: usize) -> Vec<Op> {
        self.txns(core, port)
            .iter()
            .map(|t| (t.op, t.addr, if t.op == MemOp::Read { 0 } else { t.wdata }))
            .collect()
    }
    /// Every completed operation on any core's IRR port.
    fn irr_port_ops(&self) -> Vec<(usize, Op)> {
        (0..N)
            .flat_map(|c| self.ops(c, PORT_IRR).into_iter().map(move |o| (c, o)))
            .collect()
    }
}

/// EXITINFO1 of an ICR write.
fn info1(lo: u32, hi: u32) -> u64 {
    u64::from(hi) << 32 | u64::from(lo)
}

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

//////////////////
// 8. Receiver  //
//////////////////

#[derive(Clone, Copy, Debug)]
enum Trigger {
    Vmrun,
    Doorbell,
    SelfIpi,
    /// Host software's WRMSR to the doorbell MSR naming core 1.
    SwDoorbell,
}

impl Trigger {
    /// Starts an evaluation on core 1; the IPI triggers send vector 0x30 to vCPU 1.
    fn fire(self, tb: &mut Tb) {
        match self {
            Trigger::Vmrun => tb.d.core(1).vmrun = true,
            Trigger::Doorbell => tb.send(0, Icr::fixed_physical(0x30, 1)),
            Trigger::SelfIpi => tb.icr(1, SH_SELF | 0x30, 0),
            Trigger::SwDoorbell => tb.d.core(1).sw_doorbell = true,
        }
    }
}

/// Several vectors pending: the highest is taken first (IRR -> ISR); one in service at a time;
/// each EOI clears its ISR bit and the next highest is taken. Vectors 0-15 are never taken.
#[rstest]
fn receiver_priority_and_eoi(
    bench: Bench,
    #[values(
        Trigger::Vmrun,
        Trigger::Doorbell,
        Trigger::SelfIpi,
        Trigger::SwDoorbell
    )]
    t: Trigger,
) {
    let mut tb = bench.build();
    let pending = [0x05u8, 0x20, 0x3F, 0x85, 0x9E, 0xE2];
    for v in pending {
        let a = tb.irr_addr(1, v);
        let w = tb.peek(a);
        tb.poke(a, w | vector_bit(v));
    }
    t.fire(&mut tb);
    tb.settle();
    // 0x30 is pending too when the trigger was an IPI of 0x30.
    let order: Vec<u8> = [0xE2, 0x9E, 0x85, 0x3F, 0x30, 0x20]
        .into_iter()
        .filter(|&v| v != 0x30 || matches!(t, Trigger::Doorbell | Trigger::SelfIpi))
        .collect();
    assert_eq!(tb.evs().last(), Some(&intr(1, 0xE2)));
    assert_eq!(tb.irr(1, 0xE2), 0);
    assert_eq!(tb.isr(1, 0xE2), 1 << 2);
    assert!(tb.d.out.core[1].in_service);
    // First acceptance: IRR7 holds 0xE2.
    let rcv0 = tb.ops(1, PORT_RCV);
    assert_eq!(
        rcv0,
        [rd(0x11270), lclr(0x11270, 1 << 2), lset(0x11170, 1 << 2)]
    );
    tb.run(50);
    assert_eq!(
        tb.evs()
            .iter()
            .filter(|e| matches!(e, Ev::Intr { .. }))
            .count(),
        1
    );
    // First EOI: ISR7 clear, scan IRR7..IRR4, take 0x9E.
    tb.d.core(1).eoi = true;
    tb.settle();
    assert_eq!(
        tb.ops(1, PORT_RCV)[3..],
        [
            lclr(0x11170, 1 << 2),
            rd(0x11270),
            rd(0x11260),
            rd(0x11250),
            rd(0x11240),
            lclr(0x11240, 1 << 30),
            lset(0x11140, 1 << 30),
        ]
    );
    for w in order.windows(2) {
        let (prev, v) = (w[0], w[1]);
        assert_eq!(tb.evs().last(), Some(&intr(1, v)), "after EOI of {prev:#x}");
        assert_eq!(tb.isr(1, prev) & vector_bit(prev), 0);
        assert_eq!(tb.isr(1, v), vector_bit(v));
        assert_eq!(tb.irr(1, v) & vector_bit(v), 0);
        tb.d.core(1).eoi = true;
        tb.settle();
    }
    let taken: Vec<Ev> = tb
        .evs()
        .into_iter()
        .filter(|e| matches!(e, Ev::Intr { .. }))
        .collect();
    assert_eq!(taken, order.iter().map(|&v| intr(1, v)).collect::<Vec<_>>());
    assert!(!tb.d.out.core[1].in_service);
    assert_eq!(tb.irr(1, 0x05), 1 << 5, "vector 5 stays pending");
    for n in 0..8 {
        assert_eq!(
            tb.peek(0x11200 + 0x10 * n),
            if n == 0 { 1 << 5 } else { 0 },
            "IRR{n}"
        );
        assert_eq!(tb.peek(0x11100 + 0x10 * n), 0, "ISR{n}");
    }
}

/// intr_ready=0 (RFLAGS.IF clear): the evaluation stays owed and nothing is read; it runs as
/// soon as intr_ready rises, with no new trigger.
#[rstest]
fn receiver_waits_for_intr_ready(
    bench: Bench,
    #[values(
        Trigger::Vmrun,
        Trigger::Doorbell,
        Trigger::SelfIpi,
        Trigger::SwDoorbell
    )]
    t: Trigger,
) {
    let mut tb = bench.intr_ready(1, false).build();
    tb.poke(0x11220, 1 << 2); // 0x42
    t.fire(&mut tb);
    tb.settle();
    tb.run(100);
    assert!(tb.evs().iter().all(|e| !matches!(e, Ev::Intr { .. })));
    assert_eq!(tb.ops(1, PORT_RCV), []);
    tb.d.core(1).intr_ready = true;
    tb.settle();
    assert_eq!(tb.evs().last(), Some(&intr(1, 0x42)));
    assert_eq!(
        tb.ops(1, PORT_RCV),
        [0x11270, 0x11260, 0x11250, 0x11240, 0x11230, 0x11220]
            .map(rd)
            .into_iter()
            .chain([lclr(0x11220, 1 << 2), lset(0x11120, 1 << 2)])
            .collect::<Vec<_>>()
    );
}

/// HW-E: a doorbell to a core in host mode (IsRunning=1, guest_mode=0: halt-polling), from a
/// hardware sender or from host software's WRMSR, is dropped (DoorbellDropped the cycle after it
/// arrives) or latched (db_latched until the next VMRUN); either way no evaluation happens in
/// host mode and the next VMRUN scans IRR and takes the vector.
#[rstest]
fn doorbell_to_host_mode_core(
    bench: Bench,
    #[values(false, true)] latch_doorbell: bool,
    #[values(false, true)] from_software: bool,
) {
    let cfg = HwConfig {
        latch_doorbell,
        ..APM
    };
    let mut tb = bench.cfg(cfg).guest_mode(1, false).build();
    let mut expect = Vec::new();
    if from_software {
        tb.poke(0x11220, 1 << 1); // KVM's set_irr of 0x41
        tb.d.core(1).sw_doorbell = true;
    } else {
        tb.send(0, Icr::fixed_physical(0x41, 1));
        tb.step_until("the doorbell", |t| !t.evs().is_empty());
        expect.push(db(0, 1));
    }
    // The edge at which the doorbell reaches core 1: the WRMSR's own cycle, or the cycle after
    // the sender's doorbell output.
    let arrives = tb.d.cycle();
    tb.settle();
    tb.run(100);
    if latch_doorbell {
        assert!(tb.d.out.core[1].db_latched);
    } else {
        expect.push(Ev::Dropped { core: 1 });
        assert_eq!(tb.ev_cycle(Ev::Dropped { core: 1 }), arrives);
        assert!(!tb.d.out.core[1].db_latched);
    }
    assert_eq!(tb.evs(), expect);
    assert_eq!(tb.ops(1, PORT_RCV), []);
    assert_eq!(tb.irr(1, 0x41), 1 << 1);
    let c = tb.d.core(1);
    c.guest_mode = true;
    c.vmrun = true;
    tb.step();
    assert!(!tb.d.out.core[1].db_latched, "VMRUN consumes the latch");
    tb.settle();
    assert_eq!(tb.evs().last(), Some(&intr(1, 0x41)));
    assert_eq!(tb.isr(1, 0x41), 1 << 1);
    assert_eq!(tb.irr(1, 0x41), 0);
}

/// A #VMEXIT (guest_mode falls) while the receiver's IRR scan read is offered: the read is
/// still accepted and completed (no protocol error), its result is dropped even when it holds
/// the pending bit, nothing moves to ISR in host mode, and the next VMRUN takes the vector.
/// (Regression: the RTL used to abandon an accepted read and trip its own response assertion,
/// and to claim a vector found by a read that completed after the exit.)
#[rstest]
#[case::at_first_scan_read(0x11270)]
#[case::at_read_holding_the_bit(0x11220)]
fn receiver_guest_exit_during_scan(bench: Bench, #[case] exit_at: u64) {
    let mut tb = bench.build();
    tb.poke(0x11220, 1 << 1);
    tb.d.core(1).vmrun = true;
    tb.step_until("the scan read", |t| {
        let r = t.d.out.core[1].port[PORT_RCV];
        r.valid && r.addr == exit_at
    });
    tb.d.core(1).guest_mode = false;
    tb.settle();
    tb.run(50);
    let reads: Vec<Op> = [0x11270, 0x11260, 0x11250, 0x11240, 0x11230, 0x11220]
        .into_iter()
        .filter(|&a| a >= exit_at)
        .map(rd)
        .collect();
    assert_eq!(tb.ops(1, PORT_RCV), reads);
    assert_eq!(tb.evs(), []);
    assert_eq!((tb.irr(1, 0x41), tb.isr(1, 0x41)), (1 << 1, 0));
    let c = tb.d.core(1);
    c.guest_mode = true;
    c.vmrun = true;
    tb.settle();
    assert_eq!(tb.evs(), [intr(1, 0x41)]);
    assert_eq!((tb.irr(1, 0x41), tb.isr(1, 0x41)), (0, 1 << 1));
}

/// An EOI with nothing in service is a no-op: it must not retire the next accepted vector.
/// (Regression: the RTL latched it and cleared the next ISR bit without a guest EOI.)
#[rstest]
fn spurious_eoi_is_ignored(bench: Bench) {
    let mut tb = bench.build();
    tb.d.core(1).eoi = true;
    tb.run(5);
    tb.poke(0x11220, 1 << 1);
    tb.d.core(1).vmrun = true;
    tb.settle();
    tb.run(50);
    assert_eq!(tb.evs(), [intr(1, 0x41)]);
    assert!(tb.d.out.core[1].in_service);
    assert_eq!(tb.isr(1, 0x41), 1 << 1);
    let rcv = tb.ops(1, PORT_RCV);
    assert_eq!(
        rcv[rcv.len() - 2..],
        [lclr(0x11220, 1 << 1), lset(0x11120, 1 << 1)]
    );
    assert!(rcv.iter().all(|o| o.0 != MemOp::LockClr || o.1 != 0x11120));
}

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
