//! The RTL's assertions (`AVIC_ASSERT`, `rtl/avic_assert.svh`): the memory port contract checks
//! at the bottom of `rtl/avic_core.sv` fire on the violation they name, and the harness reports
//! a failed assertion as an RTL error with the cycle, the file and line of the check and its
//! text. (`tb/bindings.rs` covers the sender's check of a response without a request.)

use avic_cosim::apic::{PhysEntry, VmLayout};
use avic_cosim::dut::{Dut, DutError, DEFAULT_CORES, PORT_RCV};
use avic_cosim::ffi::{HwConfig, ModelKind};
use avic_cosim::mem::Memory;
use avic_cosim::mutants::{self, Class, Mutant};
use avic_cosim::rtl::{Rtl, RtlOptions, UserRtl};
use std::path::{Path, PathBuf};

/// vCPU c on core c, every vCPU valid and running, every core in guest mode with interrupts
/// enabled.
fn dut(rtl: &Rtl) -> Dut {
    let l = VmLayout::default();
    let mut mem = Memory::new(l.mem_size(8), DEFAULT_CORES as u8);
    for id in 0..DEFAULT_CORES as u8 {
        let e = PhysEntry {
            valid: true,
            is_running: true,
            backing: l.backing(id),
            host_id: id.into(),
        };
        mem.poke(l.phys_entry(id), e.encode()).unwrap();
    }
    let cfg = HwConfig {
        atomic_irr: true,
        ..HwConfig::default()
    };
    let mut d = Dut::with_rtl(rtl, ModelKind::Plain, cfg, mem).unwrap();
    d.inp.phys_base = l.phys_table;
    d.inp.phys_max_idx = 3;
    d.inp.log_base = l.log_table;
    for c in 0..DEFAULT_CORES {
        let ci = d.core(c);
        ci.backing = l.backing(c as u8);
        ci.self_idx = c as u8;
        ci.guest_mode = true;
        ci.intr_ready = true;
    }
    d
}

/// VMRUN on core 1, then raw cycles (nothing accepted) until its receiver offers the read of
/// IRR7 that starts its scan.
fn offer_scan_read(d: &mut Dut) {
    d.core(1).vmrun = true;
    d.step_raw().unwrap();
    d.core(1).vmrun = false;
    for _ in 0..8 {
        if d.out.core[1].port[PORT_RCV].valid {
            return;
        }
        d.step_raw().unwrap();
    }
    panic!("core 1 offers no scan read");
}

/// The next raw cycle must stop the model on the assertion `name` of `file`.
fn assert_fires(d: &mut Dut, file: &str, name: &str) {
    let cycle = d.cycle();
    match d.step_raw() {
        Err(DutError::Rtl { cycle: c, msg }) => {
            eprintln!("{msg}");
            assert_eq!(c, cycle, "{msg}");
            assert!(msg.contains(file), "{msg}");
            assert!(msg.contains(&format!("`AVIC_ASSERT({name}, ")), "{msg}");
        }
        other => panic!("expected {name} to fire, got {other:?}"),
    }
}

/// A request offered and not accepted stays offered unchanged: the receiver's scan read is
/// held for a cycle (fine), then its address moves with `backing_i` before it was accepted.
#[test]
fn a_request_changed_before_acceptance_trips_req_stable() {
    let mut d = dut(&Rtl::Bundled);
    offer_scan_read(&mut d);
    let req = d.out.core[1].port[PORT_RCV];
    d.step_raw().unwrap();
    assert_eq!(d.out.core[1].port[PORT_RCV], req, "offered unchanged");
    d.core(1).backing = VmLayout::default().backing(2);
    assert_fires(&mut d, "avic_core.sv", "ReqStableUntilAccepted_A");
}

/// At most one transaction outstanding per port: a receiver that keeps offering its scan read
/// after it was accepted (a copy of the RTL with that bug, built as a user design) has a second
/// request accepted while the first is outstanding.
#[test]
fn a_second_request_accepted_while_one_is_outstanding_trips_one_outstanding() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bug = Mutant {
        id: "scan-read-offered-after-acceptance".into(),
        file: "rtl/avic_irq_eval.sv".into(),
        find: "if (req_ready_i) state_d = StScanWait;".into(),
        replace: "if (1'b0) state_d = StScanWait;".into(),
        what: "The scan read stays offered after it was accepted.".into(),
        covers: Class::EvalTrigger,
        quick: false,
        equivalent: None,
    };
    let list = mutants::prepare(&bug, repo, &tmp.join("asserts-rtl")).unwrap();
    let opts = RtlOptions {
        cache_dir: Some(tmp.join("asserts-cache")),
    };
    let rtl = UserRtl::from_filelist(&list, "avic_top", &opts).unwrap();
    let mut d = dut(&Rtl::User(rtl));
    offer_scan_read(&mut d);
    d.core(1).port[PORT_RCV].req_ready = true;
    d.step_raw().unwrap();
    assert!(d.out.core[1].port[PORT_RCV].valid, "still offered");
    assert_fires(&mut d, "avic_core.sv", "OneOutstanding_A");
}
