//! Ordering coverage: for each pair of conflicting accesses the AVIC protocol depends on, which
//! of the two orders the exploration observed.
//!
//! An order is taken in **global memory order**: a write counts when it became globally
//! visible (a host store when it left the store buffer: `Commit`, or a locked RMW; an RTL write
//! when its port transaction completed), a read when it read memory (a host load, or an RTL port
//! read). "A before B" means some instance of A became visible before some instance of B read
//! memory (with B on the same vCPU and, for the IRR, the same 32-vector IRR register), so B
//! could see A's value; "B before A" means some B read memory before some A became visible.
//! A pair with neither order over a whole search is what the search did not reach.
//!
//! | pair | A (write, visible) | B (read) |
//! |---|---|---|
//! | `hw-irr/check-block` | the sender RTL's IRR set (IRR port: locked set, or the write of a split update) on vCPU t's backing page | vCPU t's IRR read in `kvm_vcpu_check_block` |
//! | `sw-irr/check-block` | KVM's `kvm_lapic_set_irr` (a thread's locked OR; not the timer) on t's IRR | vCPU t's IRR read in `kvm_vcpu_check_block` |
//! | `hw-irr/vmrun-scan` | the sender RTL's IRR set on t's IRR | core t's receiver reading t's IRR (VMRUN, doorbell or EOI evaluation) |
//! | `isrun-clear/hw-read` | IsRunning 1 -> 0 in t's Physical APIC ID entry (`avic_vcpu_put` / blocking) | the sender RTL's read of t's entry (table port) |
//! | `isrun-set/hw-read` | IsRunning 0 -> 1 in t's entry (`avic_vcpu_load`) | the sender RTL's read of t's entry |
//! | `mode/sender-read` | vCPU t's own store to `vcpu->mode` (`IN_GUEST_MODE`, `OUTSIDE_GUEST_MODE`) | another thread's load of t's `vcpu->mode` (software sender) |
//! | `irr-pending/check-block` | a write of `irr_pending = 1` for t (sender, kick, timer) | the `irr_pending` load of t's `kvm_vcpu_check_block` |
//!
//! Recording costs a few compares per memory access and no allocation: each run keeps two
//! bitsets per pair (which (vCPU, register) slots saw an A, which saw a B) inside
//! [`crate::mem::Memory`], and the result is one [`Orders`] word. Searches union the words of
//! their runs, which gives the same result on any thread count.

use crate::apic::{PhysEntry, IRR};
use crate::kvm::KvmLayout;
use crate::mem::{AccessKind, Agent, MemObserver, NO_ACTOR};
use std::any::Any;
use std::fmt::{self, Write as _};

/// A pair of conflicting accesses whose order matters to the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pair {
    /// Hardware sender's IRR set vs the target's IRR read in `kvm_vcpu_check_block`.
    HwIrrVsCheckBlock,
    /// KVM (software) sender's IRR set vs the target's IRR read in `kvm_vcpu_check_block`.
    SwIrrVsCheckBlock,
    /// Hardware sender's IRR set vs the target core's receiver reading the IRR (VMRUN scan).
    HwIrrVsVmrunScan,
    /// KVM clearing IsRunning vs the hardware sender reading the entry.
    IsRunningClearVsHwRead,
    /// KVM setting IsRunning vs the hardware sender reading the entry.
    IsRunningSetVsHwRead,
    /// The target's `vcpu->mode` store vs a software sender's load of it.
    ModeVsSenderRead,
    /// `irr_pending = 1` vs the target's `irr_pending` load in `kvm_vcpu_check_block`.
    IrrPendingVsCheckBlock,
}

/// Every pair, in report order.
pub const PAIRS: [Pair; 7] = [
    Pair::HwIrrVsCheckBlock,
    Pair::SwIrrVsCheckBlock,
    Pair::HwIrrVsVmrunScan,
    Pair::IsRunningClearVsHwRead,
    Pair::IsRunningSetVsHwRead,
    Pair::ModeVsSenderRead,
    Pair::IrrPendingVsCheckBlock,
];

impl Pair {
    fn index(self) -> usize {
        self as usize
    }

    /// Short name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Pair::HwIrrVsCheckBlock => "hw-irr/check-block",
            Pair::SwIrrVsCheckBlock => "sw-irr/check-block",
            Pair::HwIrrVsVmrunScan => "hw-irr/vmrun-scan",
            Pair::IsRunningClearVsHwRead => "isrun-clear/hw-read",
            Pair::IsRunningSetVsHwRead => "isrun-set/hw-read",
            Pair::ModeVsSenderRead => "mode/sender-read",
            Pair::IrrPendingVsCheckBlock => "irr-pending/check-block",
        }
    }

    /// The write side (A), in words.
    pub fn a(self) -> &'static str {
        match self {
            Pair::HwIrrVsCheckBlock | Pair::HwIrrVsVmrunScan => "RTL IRR set",
            Pair::SwIrrVsCheckBlock => "KVM set_irr",
            Pair::IsRunningClearVsHwRead => "IsRunning:=0",
            Pair::IsRunningSetVsHwRead => "IsRunning:=1",
            Pair::ModeVsSenderRead => "mode store",
            Pair::IrrPendingVsCheckBlock => "irr_pending:=1",
        }
    }

    /// The read side (B), in words.
    pub fn b(self) -> &'static str {
        match self {
            Pair::HwIrrVsCheckBlock | Pair::SwIrrVsCheckBlock => "check_block IRR read",
            Pair::HwIrrVsVmrunScan => "receiver IRR scan",
            Pair::IsRunningClearVsHwRead | Pair::IsRunningSetVsHwRead => "RTL IsRunning read",
            Pair::ModeVsSenderRead => "sender mode load",
            Pair::IrrPendingVsCheckBlock => "check_block irr_pending load",
        }
    }
}

/// One of the two orders of a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Order {
    /// A became visible before B read memory.
    AFirst,
    /// B read memory before A became visible.
    BFirst,
}

/// Which orders (and which sides) of every [`Pair`] were observed: 4 bits per pair (A seen,
/// B seen, A before B, B before A). Union with `|`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Orders(pub u32);

const A_SEEN: u32 = 1;
const B_SEEN: u32 = 2;
const A_FIRST: u32 = 4;
const B_FIRST: u32 = 8;

impl Orders {
    fn bit(p: Pair, b: u32) -> u32 {
        b << (4 * p.index())
    }

    /// Whether `order` of `p` was observed.
    pub fn seen(self, p: Pair, order: Order) -> bool {
        let b = match order {
            Order::AFirst => A_FIRST,
            Order::BFirst => B_FIRST,
        };
        self.0 & Self::bit(p, b) != 0
    }

    /// Whether any A (`write == true`) or B access of `p` happened at all.
    pub fn side_seen(self, p: Pair, write: bool) -> bool {
        self.0 & Self::bit(p, if write { A_SEEN } else { B_SEEN }) != 0
    }

    /// Marks `order` of `p` observed (and both sides seen).
    pub fn insert(&mut self, p: Pair, order: Order) {
        let b = match order {
            Order::AFirst => A_FIRST,
            Order::BFirst => B_FIRST,
        };
        self.0 |= Self::bit(p, b | A_SEEN | B_SEEN);
    }

    /// The orders of `p` observed, as a set: `(A before B, B before A)`.
    pub fn of(self, p: Pair) -> (bool, bool) {
        (self.seen(p, Order::AFirst), self.seen(p, Order::BFirst))
    }

    /// The orders never observed, in report order.
    pub fn unreached(self) -> Vec<(Pair, Order)> {
        PAIRS
            .iter()
            .flat_map(|&p| [(p, Order::AFirst), (p, Order::BFirst)])
            .filter(|&(p, o)| !self.seen(p, o))
            .collect()
    }

    /// Orders observed out of the `2 * PAIRS.len()`.
    pub fn reached(self) -> usize {
        2 * PAIRS.len() - self.unreached().len()
    }

    /// A table: one line per pair, the two orders as `seen` or `NOT REACHED` (with why when
    /// a side never happened), each line prefixed by `indent`.
    pub fn table(self, indent: &str) -> String {
        let mut s = String::new();
        let line = |s: &mut String, cols: [&str; 4]| {
            let l = format!(
                "{indent}{:<24} {:<47} {:<22} {}",
                cols[0], cols[1], cols[2], cols[3]
            );
            let _ = writeln!(s, "{}", l.trim_end());
        };
        line(&mut s, ["pair", "A / B", "A before B", "B before A"]);
        for p in PAIRS {
            let why = match (self.side_seen(p, true), self.side_seen(p, false)) {
                (false, false) => " (no A, no B)",
                (false, true) => " (no A)",
                (true, false) => " (no B)",
                (true, true) => "",
            };
            let cell = |o| {
                if self.seen(p, o) {
                    "seen".to_string()
                } else {
                    format!("NOT REACHED{why}")
                }
            };
            line(
                &mut s,
                [
                    p.name(),
                    &format!("{} / {}", p.a(), p.b()),
                    &cell(Order::AFirst),
                    &cell(Order::BFirst),
                ],
            );
        }
        s
    }

    /// A JSON object: per pair name `{"a_before_b": bool, "b_before_a": bool, "a_seen": bool,
    /// "b_seen": bool}`.
    pub fn to_json(self) -> String {
        let items: Vec<String> = PAIRS
            .iter()
            .map(|&p| {
                format!(
                    "\"{}\": {{\"a_before_b\": {}, \"b_before_a\": {}, \"a_seen\": {}, \"b_seen\": {}}}",
                    p.name(),
                    self.seen(p, Order::AFirst),
                    self.seen(p, Order::BFirst),
                    self.side_seen(p, true),
                    self.side_seen(p, false)
                )
            })
            .collect();
        format!("{{{}}}", items.join(", "))
    }
}

impl std::ops::BitOr for Orders {
    type Output = Orders;
    fn bitor(self, o: Orders) -> Orders {
        Orders(self.0 | o.0)
    }
}

impl std::ops::BitOrAssign for Orders {
    fn bitor_assign(&mut self, o: Orders) {
        self.0 |= o.0;
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Order::AFirst => "A before B",
            Order::BFirst => "B before A",
        })
    }
}

const MAX_V: usize = crate::scenario::MAX_VCPUS;
const IRR_REGS: u64 = 8;
const IR_MASK: u64 = 1 << PhysEntry::IS_RUNNING_BIT;
/// Port numbers of `crate::dut` (sender IRR port, table port, receiver port).
const PORT_IRR: u8 = 0;
const PORT_TBL: u8 = 1;
const PORT_RCV: u8 = 2;

/// The per-run recorder that [`crate::mem::Memory`] feeds with every access (see the module
/// doc). Fixed size; never allocates after construction.
#[derive(Clone, Debug)]
pub struct OrderWatch {
    n: usize,
    irr: [u64; MAX_V],
    phys: [u64; MAX_V],
    mode: [u64; MAX_V],
    irr_pending: [u64; MAX_V],
    /// Per pair: slots (vCPU * 8 + IRR register) where an A / a B has happened.
    a: [u64; PAIRS.len()],
    b: [u64; PAIRS.len()],
    orders: Orders,
}

impl OrderWatch {
    /// A recorder for vCPUs `0..n` (at most 4) of `layout`.
    pub fn new(layout: &KvmLayout, n: u8) -> Self {
        let mut w = OrderWatch {
            n: usize::from(n).min(MAX_V),
            irr: [u64::MAX; MAX_V],
            phys: [u64::MAX; MAX_V],
            mode: [u64::MAX; MAX_V],
            irr_pending: [u64::MAX; MAX_V],
            a: [0; PAIRS.len()],
            b: [0; PAIRS.len()],
            orders: Orders::default(),
        };
        for v in 0..w.n {
            let id = v as u8;
            w.irr[v] = layout.vm.backing(id) + IRR;
            w.phys[v] = layout.vm.phys_entry(id);
            w.mode[v] = layout.mode(id);
            w.irr_pending[v] = layout.irr_pending(id);
        }
        w
    }

    /// The orders observed so far.
    pub fn orders(&self) -> Orders {
        self.orders
    }

    /// (vCPU, IRR register) of an IRR word address.
    #[inline]
    fn irr_slot(&self, addr: u64) -> Option<(usize, u32)> {
        (0..self.n).find_map(|v| {
            let off = addr.wrapping_sub(self.irr[v]);
            (off < 0x10 * IRR_REGS && off.is_multiple_of(0x10))
                .then(|| (v, (v as u64 * 8 + off / 0x10) as u32))
        })
    }

    #[inline]
    fn find(arr: &[u64; MAX_V], n: usize, addr: u64) -> Option<usize> {
        arr[..n].iter().position(|&x| x == addr)
    }

    #[inline]
    fn write(&mut self, p: Pair, slot: u32) {
        let i = p.index();
        let bit = 1u64 << slot;
        self.orders.0 |= Orders::bit(p, A_SEEN);
        if self.b[i] & bit != 0 {
            self.orders.0 |= Orders::bit(p, B_FIRST);
        }
        self.a[i] |= bit;
    }

    #[inline]
    fn read(&mut self, p: Pair, slot: u32) {
        let i = p.index();
        let bit = 1u64 << slot;
        self.orders.0 |= Orders::bit(p, B_SEEN);
        if self.a[i] & bit != 0 {
            self.orders.0 |= Orders::bit(p, A_FIRST);
        }
        self.b[i] |= bit;
    }
}

/// Ordering coverage is an observer of memory.
impl MemObserver for OrderWatch {
    /// A read of global memory at `addr` by `agent` (`kind`: a host load or an RTL read);
    /// `actor` is the vCPU whose KVM thread is acting, or [`NO_ACTOR`].
    #[inline]
    fn on_read(&mut self, agent: Agent, kind: AccessKind, addr: u64, actor: u8) {
        match agent {
            Agent::Host(_) => {
                if kind != AccessKind::Load && kind != AccessKind::LoadForwarded {
                    return;
                }
                if let Some((_, slot)) = self.irr_slot(addr) {
                    self.read(Pair::HwIrrVsCheckBlock, slot);
                    self.read(Pair::SwIrrVsCheckBlock, slot);
                } else if let Some(v) = Self::find(&self.irr_pending, self.n, addr) {
                    self.read(Pair::IrrPendingVsCheckBlock, v as u32);
                } else if let Some(v) = Self::find(&self.mode, self.n, addr) {
                    if actor != NO_ACTOR && usize::from(actor) != v {
                        self.read(Pair::ModeVsSenderRead, v as u32);
                    }
                }
            }
            Agent::Rtl { core, port } => {
                if port == PORT_TBL {
                    if let Some(v) = Self::find(&self.phys, self.n, addr) {
                        self.read(Pair::IsRunningClearVsHwRead, v as u32);
                        self.read(Pair::IsRunningSetVsHwRead, v as u32);
                    }
                } else if port == PORT_RCV {
                    if let Some((v, slot)) = self.irr_slot(addr) {
                        if v == usize::from(core) {
                            self.read(Pair::HwIrrVsVmrunScan, slot);
                        }
                    }
                }
            }
        }
    }

    /// A write that became globally visible at `addr` (`old` -> `new`) by `agent`: a host
    /// `Commit` or `LockedRmw`, or an RTL write, locked set or locked clear.
    #[inline]
    fn on_write(
        &mut self,
        agent: Agent,
        kind: AccessKind,
        addr: u64,
        old: u64,
        new: u64,
        actor: u8,
    ) {
        match agent {
            Agent::Host(_) => {
                if let Some((_, slot)) = self.irr_slot(addr) {
                    if kind == AccessKind::LockedRmw && actor != NO_ACTOR && new & !old != 0 {
                        self.write(Pair::SwIrrVsCheckBlock, slot);
                    }
                } else if let Some(v) = Self::find(&self.phys, self.n, addr) {
                    match (old & IR_MASK != 0, new & IR_MASK != 0) {
                        (true, false) => self.write(Pair::IsRunningClearVsHwRead, v as u32),
                        (false, true) => self.write(Pair::IsRunningSetVsHwRead, v as u32),
                        _ => {}
                    }
                } else if let Some(v) = Self::find(&self.mode, self.n, addr) {
                    if kind == AccessKind::Commit {
                        self.write(Pair::ModeVsSenderRead, v as u32);
                    }
                } else if let Some(v) = Self::find(&self.irr_pending, self.n, addr) {
                    if new != 0 {
                        self.write(Pair::IrrPendingVsCheckBlock, v as u32);
                    }
                }
            }
            Agent::Rtl { port, .. } => {
                if port == PORT_IRR
                    && matches!(kind, AccessKind::RtlLockSet | AccessKind::RtlWrite)
                    && new & !old != 0
                {
                    if let Some((_, slot)) = self.irr_slot(addr) {
                        self.write(Pair::HwIrrVsCheckBlock, slot);
                        self.write(Pair::HwIrrVsVmrunScan, slot);
                    }
                }
            }
        }
    }

    fn boxed_clone(&self) -> Box<dyn MemObserver> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::Memory;

    fn orders(m: &Memory) -> Orders {
        m.observer::<OrderWatch>().unwrap().orders()
    }

    fn watched() -> (Memory, KvmLayout) {
        let l = KvmLayout::default();
        let mut m = Memory::new(l.mem_size(2), 3);
        m.observe(OrderWatch::new(&l, 2));
        (m, l)
    }

    #[test]
    fn store_buffer_delays_the_write_side_until_commit() {
        // IsRunning := 0 buffered, the RTL reads the entry (B first), then the commit.
        let (mut m, l) = watched();
        let e = l.vm.phys_entry(1);
        m.poke(e, IR_MASK).unwrap();
        m.set_actor(1);
        m.host_store(1, e, 0, 0xff).unwrap();
        m.set_actor(NO_ACTOR);
        m.rtl_read(0, PORT_TBL, e).unwrap();
        let o = orders(&m);
        assert_eq!(o.of(Pair::IsRunningClearVsHwRead), (false, false));
        assert!(m.drain_one(1));
        let o = orders(&m);
        assert_eq!(o.of(Pair::IsRunningClearVsHwRead), (false, true));
        m.rtl_read(0, PORT_TBL, e).unwrap();
        assert_eq!(orders(&m).of(Pair::IsRunningClearVsHwRead), (true, true));
        assert_eq!(orders(&m).of(Pair::IsRunningSetVsHwRead), (false, false));
        assert!(!orders(&m).side_seen(Pair::IsRunningSetVsHwRead, true));
    }

    #[test]
    fn irr_orders_match_per_register_and_vcpu() {
        let (mut m, l) = watched();
        let w = |v: u8, vec: u8| crate::apic::irr_word(l.vm.backing(v), vec);
        // check_block of vCPU 1 reads register 2, then the RTL sets vector 0x40 (register 2).
        m.set_actor(1);
        m.host_load(1, w(1, 0x40)).unwrap();
        m.set_actor(NO_ACTOR);
        m.rtl_lock_set(0, PORT_IRR, w(1, 0x40), 1).unwrap();
        assert_eq!(orders(&m).of(Pair::HwIrrVsCheckBlock), (false, true));
        // A set in another register or on another vCPU's page orders nothing with it.
        let (mut m, _) = watched();
        m.host_load(1, w(1, 0x20)).unwrap();
        m.rtl_lock_set(0, PORT_IRR, w(1, 0x40), 1).unwrap();
        m.rtl_lock_set(0, PORT_IRR, w(0, 0x20), 1).unwrap();
        assert_eq!(orders(&m).of(Pair::HwIrrVsCheckBlock), (false, false));
        // The receiver port of core 1 scanning after the set.
        m.rtl_read(1, PORT_RCV, w(1, 0x40)).unwrap();
        assert_eq!(orders(&m).of(Pair::HwIrrVsVmrunScan), (true, false));
        // The timer's locked OR (no actor) is not a sender's set_irr; a thread's is.
        m.host_lock_or(2, w(1, 0x20), 2).unwrap();
        assert_eq!(orders(&m).of(Pair::SwIrrVsCheckBlock), (false, false));
        m.set_actor(0);
        m.host_lock_or(0, w(1, 0x20), 4).unwrap();
        assert_eq!(orders(&m).of(Pair::SwIrrVsCheckBlock), (false, true));
    }

    #[test]
    fn mode_loads_count_only_from_other_threads() {
        let (mut m, l) = watched();
        let a = l.mode(1);
        m.set_actor(1);
        m.host_store(1, a, 1, 0xff).unwrap();
        m.host_load(1, a).unwrap(); // own load: not a sender's
        m.set_actor(NO_ACTOR);
        m.drain_one(1);
        m.set_actor(0);
        m.host_load(0, a).unwrap();
        assert_eq!(orders(&m).of(Pair::ModeVsSenderRead), (true, false));
        let mut u = Orders::default();
        u |= orders(&m);
        assert_eq!(u.reached(), 1);
        assert!(u.table("").contains("NOT REACHED (no A, no B)"));
        assert!(u
            .to_json()
            .contains("\"mode/sender-read\": {\"a_before_b\": true"));
    }
}
