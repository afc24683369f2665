//! The bench of the directed RTL testbenches (`tb/rtl_*.rs`; `#[path = "common/rtl_bench.rs"]
//! mod rtl_bench;`), against the APM encodings (../shared/spec/avic-protocol.md section 1) and
//! the hardware ordering variants HW-A, HW-B, HW-D, HW-E and HW-G (section 3).
//!
//! Every bench comes from [`Bench`]: vCPU i (i = 0..3) runs on core i, whose host physical APIC
//! ID is i, and has its backing page at `VmLayout::backing(i)`. Tests assert exact addresses,
//! bits, EXITINFO words, host ids and transaction orders.

// Each test file uses a part of the bench.
#![allow(dead_code)]

pub use avic_cosim::apic::*;
pub use avic_cosim::dut::*;
pub use avic_cosim::ffi::{HwConfig, ModelKind};
pub use avic_cosim::mem::Memory;
use rstest::fixture;

pub const N: usize = DEFAULT_CORES;

/// The APM's order: one locked IRR set, IsRunning read after it completes, read fresh,
/// destinations handled one by one, host-mode doorbells dropped.
pub const APM: HwConfig = HwConfig {
    atomic_irr: true,
    isrun_order: 0,
    stale_isrun: false,
    validate_first: false,
    latch_doorbell: false,
};

/// ICR low bits 19:18 = 11b: all excluding self.
pub const SH_ALL_EXCL: u32 = 3 << 18;
/// ICR low bits 19:18 = 10b: all including self.
pub const SH_ALL_INCL: u32 = 2 << 18;
/// ICR low bits 19:18 = 01b: self.
pub const SH_SELF: u32 = 1 << 18;
/// ICR low bit 11: logical destination mode.
pub const LOGICAL: u32 = 1 << 11;
/// Physical APIC ID table entry bit 62.
pub const IS_RUNNING: u64 = 1 << 62;

///////////////////
// Shared bench  //
///////////////////

/// Builder of one bench: a memory holding a [`VmLayout`]'s tables and a reset `Dut` over it.
#[derive(Clone, Debug)]
pub struct Bench {
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
pub fn bench() -> Bench {
    Bench::default()
}

impl Bench {
    pub fn cfg(mut self, cfg: HwConfig) -> Self {
        self.cfg = cfg;
        self
    }
    pub fn max_idx(mut self, m: u8) -> Self {
        self.max_idx = m;
        self
    }
    pub fn running(mut self, r: [bool; N]) -> Self {
        for (e, r) in self.phys.iter_mut().zip(r) {
            e.is_running = r;
        }
        self
    }
    pub fn valid(mut self, id: u8, v: bool) -> Self {
        self.phys[id as usize].valid = v;
        self
    }
    pub fn backing(mut self, id: u8, b: u64) -> Self {
        self.phys[id as usize].backing = b;
        self
    }
    /// Logical table entry `idx` pointing at physical id `phys_id`.
    pub fn log(mut self, idx: u8, phys_id: u8, valid: bool) -> Self {
        self.log.push((idx, LogEntry { valid, phys_id }));
        self
    }
    pub fn guest_mode(mut self, core: usize, g: bool) -> Self {
        self.guest_mode[core] = g;
        self
    }
    pub fn intr_ready(mut self, core: usize, r: bool) -> Self {
        self.intr_ready[core] = r;
        self
    }
    /// No receiver takes interrupts, so delivered IRR bits stay visible in memory.
    pub fn no_intr(mut self) -> Self {
        self.intr_ready = [false; N];
        self
    }
    /// Core `c` runs vCPU `vcpu_of[c]` (a permutation): its entry names host APIC ID `c`.
    pub fn place(mut self, vcpu_of: [u8; N]) -> Self {
        self.vcpu_of = vcpu_of;
        for (c, &v) in vcpu_of.iter().enumerate() {
            self.phys[v as usize].host_id = c as u16;
        }
        self
    }
    pub fn cluster(mut self, core: usize) -> Self {
        self.cluster[core] = true;
        self
    }

    pub fn build(self) -> Tb {
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
pub enum Ev {
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
pub fn exit(core: usize, info1: u64, info2: u64) -> Ev {
    Ev::Exit {
        core,
        code: 0x401,
        info1,
        info2,
    }
}
pub fn db(core: usize, host: u16) -> Ev {
    Ev::Doorbell { core, host }
}
pub fn intr(core: usize, vector: u8) -> Ev {
    Ev::Intr { core, vector }
}

/// A port operation as asserted: (op, address, write data; 0 for reads).
pub type Op = (MemOp, u64, u64);
pub fn rd(addr: u64) -> Op {
    (MemOp::Read, addr, 0)
}
pub fn lset(addr: u64, bits: u64) -> Op {
    (MemOp::LockSet, addr, bits)
}
pub fn lclr(addr: u64, bits: u64) -> Op {
    (MemOp::LockClr, addr, bits)
}
pub fn wr(addr: u64, data: u64) -> Op {
    (MemOp::Write, addr, data)
}

/// A built bench.
pub struct Tb {
    pub d: Dut,
    pub l: VmLayout,
}

impl Tb {
    /// Guest write of ICR (raw halves) on `core`.
    pub fn icr(&mut self, core: usize, lo: u32, hi: u32) {
        self.d.write_icr(core, lo, hi);
    }
    pub fn send(&mut self, core: usize, icr: Icr) {
        self.d.write_icr(core, icr.lo(), icr.hi());
    }
    pub fn step(&mut self) {
        self.d.step().unwrap();
    }
    pub fn run(&mut self, n: u64) {
        self.d.run(n).unwrap();
    }
    /// Steps until nothing moved for 8 cycles (no sender busy, no request, nothing in flight).
    pub fn settle(&mut self) {
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
    pub fn step_until(&mut self, what: &str, f: impl Fn(&Tb) -> bool) {
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
    pub fn hold_irr_update(&mut self, core: usize) {
        self.step_until("an IRR update", |t| {
            let r = t.d.out.core[core].port[PORT_IRR];
            r.valid && matches!(MemOp::from_code(r.op), MemOp::LockSet | MemOp::Write)
        });
        self.d.hold(core, PORT_IRR, true);
        self.step();
        assert!(self.d.in_flight(core, PORT_IRR));
    }
    /// Lets a held port go and steps until its transaction completed.
    pub fn release(&mut self, core: usize, port: usize) {
        self.d.hold(core, port, false);
        self.step_until("the released transaction", |t| !t.d.in_flight(core, port));
    }

    pub fn peek(&self, addr: u64) -> u64 {
        self.d.mem.peek(addr).unwrap()
    }
    pub fn poke(&mut self, addr: u64, v: u64) {
        self.d.mem.poke(addr, v).unwrap();
    }
    /// The IRR register of `vcpu` holding `vector` (the 64-bit word at its address).
    pub fn irr(&self, vcpu: u8, vector: u8) -> u64 {
        self.peek(irr_word(self.l.backing(vcpu), vector))
    }
    pub fn isr(&self, vcpu: u8, vector: u8) -> u64 {
        self.peek(isr_word(self.l.backing(vcpu), vector))
    }
    pub fn irr_addr(&self, vcpu: u8, vector: u8) -> u64 {
        irr_word(self.l.backing(vcpu), vector)
    }
    pub fn phys(&self, id: u8) -> u64 {
        self.l.phys_entry(id)
    }

    pub fn evs(&self) -> Vec<Ev> {
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
    pub fn ev_cycle(&self, ev: Ev) -> u64 {
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
    pub fn txns(&self, core: usize, port: usize) -> Vec<Txn> {
        self.d
            .txns()
            .iter()
            .filter(|t| t.core == core && t.port == port)
            .copied()
            .collect()
    }
    /// Completed operations of one port, in completion order.
    pub fn ops(&self, core: usize, port: usize) -> Vec<Op> {
        self.txns(core, port)
            .iter()
            .map(|t| (t.op, t.addr, if t.op == MemOp::Read { 0 } else { t.wdata }))
            .collect()
    }
    /// Every completed operation on any core's IRR port.
    pub fn irr_port_ops(&self) -> Vec<(usize, Op)> {
        (0..N)
            .flat_map(|c| self.ops(c, PORT_IRR).into_iter().map(move |o| (c, o)))
            .collect()
    }
}

/// EXITINFO1 of an ICR write.
pub fn info1(lo: u32, hi: u32) -> u64 {
    u64::from(hi) << 32 | u64::from(lo)
}
