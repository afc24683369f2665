use avic_cosim::apic::*;
use avic_cosim::dut::*;
use avic_cosim::ffi::{HwConfig, ModelKind};
use avic_cosim::mem::Memory;

#[test]
fn smoke() {
    let l = VmLayout::default();
    let mut mem = Memory::new(l.mem_size(4), 4);
    for id in 0..4u8 {
        let e = PhysEntry { valid: true, is_running: id == 1, backing: l.backing(id), host_id: id as u16 };
        mem.poke(l.phys_entry(id), e.encode()).unwrap();
    }
    let cfg = HwConfig { atomic_irr: true, ..Default::default() };
    let mut d = Dut::new(ModelKind::Plain, cfg, mem).unwrap();
    d.inp.phys_base = l.phys_table;
    d.inp.phys_max_idx = 3;
    d.inp.log_base = l.log_table;
    for c in 0..4 {
        d.core(c).backing = l.backing(c as u8);
        d.core(c).self_idx = c as u8;
        d.core(c).guest_mode = true;
        d.core(c).intr_ready = true;
    }
    let icr = Icr::fixed_physical(0x41, 1);
    d.write_icr(0, icr.lo(), icr.hi());
    d.run_until_quiet(200).unwrap();
    for t in d.txns() { println!("{t}"); }
    for e in d.events() { println!("{e:?}"); }
    panic!("show");
}
