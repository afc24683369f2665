//! APICv inhibition (issue 14, last part): the per-core AVIC enable of port contract v2
//! (`avic_en_i`, taken at VMRUN; `docs/port-contract.md`) against the APM, and the
//! inhibition toggled by the schedule in the KVM model (`docs/kvm-model.md`).

use avic_cosim::apic::*;
use avic_cosim::dut::*;
use avic_cosim::ffi::{HwConfig, ModelKind};
use avic_cosim::mem::Memory;
use avic_cosim::rtl::{Rtl, RtlOptions, UserRtl};
use std::path::Path;

const N: usize = DEFAULT_CORES;

/// The APM's order (as `tb/common/rtl_bench.rs`).
const APM: HwConfig = HwConfig {
    atomic_irr: true,
    isrun_order: 0,
    stale_isrun: false,
    validate_first: false,
    latch_doorbell: false,
};

/// vCPU c on core c, every vCPU valid and running, every core in guest mode.
fn dut(l: VmLayout) -> Dut {
    dut_on(&Rtl::Bundled, l)
}

fn dut_on(rtl: &Rtl, l: VmLayout) -> Dut {
    let mut mem = Memory::new(l.mem_size(8), N as u8);
    for id in 0..N as u8 {
        let e = PhysEntry {
            valid: true,
            is_running: true,
            backing: l.backing(id),
            host_id: u16::from(id),
        };
        mem.poke(l.phys_entry(id), e.encode()).unwrap();
    }
    let mut d = Dut::with_rtl(rtl, ModelKind::Plain, APM, mem).unwrap();
    d.inp.phys_base = l.phys_table;
    d.inp.phys_max_idx = 3;
    d.inp.log_base = l.log_table;
    for c in 0..N {
        let ci = d.core(c);
        ci.backing = l.backing(c as u8);
        ci.self_idx = c as u8;
        ci.guest_mode = true;
        ci.intr_ready = true;
    }
    d
}

/// VMRUN on `core` with AVIC on or off.
fn vmrun(d: &mut Dut, core: usize, avic_on: bool) {
    let c = d.core(core);
    c.guest_mode = true;
    c.vmrun = true;
    c.avic_off = !avic_on;
    d.step().unwrap();
}

/// With AVIC off at VMRUN the guest's ICR write is not accelerated: the sender exits at once
/// with #VMEXIT NPF (0x400), EXITINFO1 = ICR high:low, EXITINFO2 = the ICR's GPA, and makes
/// no memory access at all (no table read, no IRR bit, no doorbell). The next VMRUN with
/// AVIC on accelerates again.
#[test]
fn avic_off_icr_write_exits_and_sets_no_irr() {
    let l = VmLayout::default();
    let mut d = dut(l);
    vmrun(&mut d, 0, false);
    d.run(20).unwrap();
    let icr = Icr::fixed_physical(0x41, 1);
    d.write_icr(0, icr.lo(), icr.hi());
    d.run(40).unwrap();
    let exits: Vec<_> = d
        .events()
        .iter()
        .filter_map(|e| match *e {
            DutEvent::Exit {
                core,
                code,
                info1,
                info2,
                ..
            } => Some((core, code, info1, info2)),
            _ => None,
        })
        .collect();
    let info1 = u64::from(icr.hi()) << 32 | u64::from(icr.lo());
    assert_eq!(exits, [(0, EXIT_NPF, info1, ICR_GPA)]);
    assert!(
        d.events()
            .iter()
            .all(|e| matches!(e, DutEvent::Exit { .. })),
        "only the exit: {:?}",
        d.events()
    );
    assert!(
        d.txns().iter().all(|t| t.core != 0 || t.port == PORT_RCV),
        "the sender made no access: {:?}",
        d.txns()
    );
    assert_eq!(d.mem.peek(irr_word(l.backing(1), 0x41)).unwrap(), 0);
    // AVIC on again: the same write is accelerated (IRR bit, doorbell to core 1).
    vmrun(&mut d, 0, true);
    d.run(20).unwrap();
    assert!(sends_accelerated(&mut d, l, &icr));
    assert!(d
        .events()
        .iter()
        .any(|e| matches!(e, DutEvent::Doorbell { host_id: 1, .. })));
}

/// VMRUN with AVIC off does not evaluate the backing page: a pending IRR bit stays there, no
/// receiver access is made and no vector is taken; a doorbell to that core is dropped. The
/// next VMRUN with AVIC on scans and takes it.
#[test]
fn avic_off_vmrun_does_not_scan() {
    let l = VmLayout::default();
    let mut d = dut(l);
    for c in 0..N {
        d.core(c).guest_mode = false;
    }
    d.run(5).unwrap();
    let irr = irr_word(l.backing(1), 0x41);
    d.mem.poke(irr, 1 << (0x41 & 31)).unwrap();
    d.clear_logs();
    vmrun(&mut d, 1, false);
    d.run(60).unwrap();
    assert!(
        d.txns().iter().all(|t| t.core != 1),
        "no access by core 1: {:?}",
        d.txns()
    );
    assert!(d.events().is_empty(), "{:?}", d.events());
    d.core(1).sw_doorbell = true;
    d.run(30).unwrap();
    assert!(d.txns().iter().all(|t| t.core != 1));
    assert!(d
        .events()
        .iter()
        .all(|e| matches!(e, DutEvent::DoorbellDropped { core: 1, .. })));
    assert_eq!(d.mem.peek(irr).unwrap(), 1 << (0x41 & 31));
    d.core(1).guest_mode = false;
    d.run(2).unwrap();
    vmrun(&mut d, 1, true);
    d.run(80).unwrap();
    assert!(d.events().iter().any(|e| matches!(
        e,
        DutEvent::Interrupt {
            core: 1,
            vector: 0x41,
            ..
        }
    )));
    assert_eq!(d.mem.peek(irr).unwrap(), 0);
}

/// Port contract v2 keeps v1 designs working: `tb/rtl/reordered_top.sv` has no `avic_en_i`
/// (it ties its `avic_top`'s to 1), so the shim drives nothing for `avic_off` and the design
/// runs as if the input were tied on: the same ICR write after an "AVIC off" VMRUN is
/// accelerated (IRR bit set by the sender, no NPF exit).
#[test]
fn design_without_avic_en_runs_as_tied_on() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let user = UserRtl::from_filelist(
        &root.join("tb/rtl/reordered.f"),
        "reordered_top",
        &RtlOptions {
            cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("byo-cache")),
        },
    )
    .expect("the file list reads");
    let l = VmLayout::default();
    let mut d = dut_on(&Rtl::User(user), l);
    vmrun(&mut d, 0, false);
    d.run(20).unwrap();
    let icr = Icr::fixed_physical(0x41, 1);
    assert!(sends_accelerated(&mut d, l, &icr));
    assert!(d
        .events()
        .iter()
        .all(|e| !matches!(e, DutEvent::Exit { .. })));
}

/// Core 0's guest writes `icr` (vector 0x41 to vCPU 1) and the sender posts it with its locked
/// IRR set, i.e. the write was accelerated.
fn sends_accelerated(d: &mut Dut, l: VmLayout, icr: &Icr) -> bool {
    d.clear_logs();
    d.write_icr(0, icr.lo(), icr.hi());
    d.run(60).unwrap();
    let irr1 = irr_word(l.backing(1), 0x41);
    d.txns()
        .iter()
        .any(|t| t.core == 0 && t.port == PORT_IRR && t.op == MemOp::LockSet && t.addr == irr1)
}
