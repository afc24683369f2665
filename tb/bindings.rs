//! The bindings: waveforms in both formats, Verilator errors as `Err`, batched stepping.

use avic_cosim::apic::{Icr, PhysEntry, VmLayout};
use avic_cosim::dut::{Dut, DutError, PORT_TBL};
use avic_cosim::ffi::{HwConfig, ModelKind};
use avic_cosim::mem::Memory;

fn dut(kind: ModelKind) -> Dut {
    let l = VmLayout::default();
    let mut mem = Memory::new(l.mem_size(4), 4);
    for id in 0..4u8 {
        let e = PhysEntry {
            valid: true,
            is_running: true,
            backing: l.backing(id),
            host_id: id.into(),
        };
        mem.poke(l.phys_entry(id), e.encode()).unwrap();
    }
    let mut d = Dut::new(
        kind,
        HwConfig {
            atomic_irr: true,
            ..HwConfig::default()
        },
        mem,
    )
    .unwrap();
    d.inp.phys_base = l.phys_table;
    d.inp.phys_max_idx = 3;
    for c in 0..4 {
        let ci = d.core(c);
        ci.backing = l.backing(c as u8);
        ci.self_idx = c as u8;
        ci.guest_mode = true;
        ci.intr_ready = true;
    }
    d
}

fn send_and_settle(d: &mut Dut) {
    let icr = Icr::fixed_physical(0x41, 1);
    d.write_icr(0, icr.lo(), icr.hi());
    d.run_until_quiet(500).unwrap();
}

#[test]
fn vcd_trace_has_the_ports_and_one_timestamp_per_phase() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.vcd");
    let mut d = dut(ModelKind::Vcd);
    d.open_trace(path.to_str().unwrap()).unwrap();
    let start = d.cycle();
    send_and_settle(&mut d);
    let cycles = d.cycle() - start;
    d.close_trace();
    let text = std::fs::read_to_string(&path).unwrap();
    for sig in ["clk_i", "mem_req_valid_o", "doorbell_valid_o", "state_q"] {
        assert!(text.contains(sig), "VCD lacks {sig}");
    }
    let stamps = text.lines().filter(|l| l.starts_with('#')).count() as u64;
    assert_eq!(stamps, 2 * cycles, "one timestamp per clock phase");
}

#[test]
fn fst_trace_is_written_with_an_fst_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.fst");
    let mut d = dut(ModelKind::Fst);
    d.open_trace(path.to_str().unwrap()).unwrap();
    send_and_settle(&mut d);
    d.close_trace();
    let bytes = std::fs::read(&path).unwrap();
    // FST files start with a header block: type byte 0 (FST_BL_HDR), then its 64-bit length.
    assert!(bytes.len() > 330, "FST too short: {} bytes", bytes.len());
    assert_eq!(bytes[0], 0);
    assert_eq!(u64::from_be_bytes(bytes[1..9].try_into().unwrap()), 329);
}

#[test]
fn plain_model_refuses_to_trace() {
    let mut d = dut(ModelKind::Plain);
    match d.open_trace("/tmp/never.vcd") {
        Err(DutError::Setup(msg)) => assert!(msg.contains("without tracing"), "{msg}"),
        other => panic!("expected a setup error, got {other:?}"),
    }
}

#[test]
fn unopenable_trace_file_is_an_error() {
    let mut d = dut(ModelKind::Vcd);
    let r = d.open_trace("/nonexistent-dir/x.vcd");
    assert!(
        matches!(r, Err(DutError::Setup(ref m)) if m.contains("/nonexistent-dir/x.vcd")),
        "{r:?}"
    );
}

#[test]
fn rtl_assertion_becomes_an_error_with_the_cycle() {
    let mut d = dut(ModelKind::Plain);
    d.run(3).unwrap();
    let cycle = d.cycle();
    // A table-port response while the sender has nothing outstanding violates the port
    // contract; the sender's assertion fires and Verilator's $stop path must not abort.
    d.core(0).port[PORT_TBL].rsp_valid = true;
    match d.step_raw() {
        Err(DutError::Rtl { cycle: c, msg }) => {
            assert_eq!(c, cycle);
            assert!(msg.contains("avic_ipi_sender.sv"), "{msg}");
        }
        other => panic!("expected an RTL error, got {other:?}"),
    }
}

#[test]
fn step_n_equals_n_single_steps() {
    // Two identical models; the sender of core 0 starts a walk and its table read is never
    // accepted (raw stepping serves no port), so the request must stay stable: one batched
    // call of 7 cycles and 7 single calls reach the same outputs and cycle count.
    let mut a = dut(ModelKind::Plain);
    let mut b = dut(ModelKind::Plain);
    let icr = Icr::fixed_physical(0x41, 1);
    for d in [&mut a, &mut b] {
        d.write_icr(0, icr.lo(), icr.hi());
        d.step_raw().unwrap();
        d.core(0).icr_wr = false;
    }
    a.step_n_raw(7).unwrap();
    for _ in 0..7 {
        b.step_raw().unwrap();
    }
    assert_eq!(a.cycle(), b.cycle());
    assert_eq!(a.out, b.out);
    let req = a.out.core[0].port[PORT_TBL];
    assert!(req.valid && req.op == 0, "table read offered: {req:?}");
    assert_eq!(req.addr, VmLayout::default().phys_entry(1));
    assert!(a.out.core[0].busy);
}

#[test]
fn autonomous_mode_matches_rust_stepping_event_for_event() {
    // Back-to-back IPIs from core 0, alternately to the running vCPU 1 and to vCPU 2 marked not
    // running; EOI after every interrupt. Once with `Dut::step` and the Rust memory, once with
    // `run_autonomous` and the C++ responder (returning at every event): the same events in
    // the same cycles, and the same memory.
    use avic_cosim::dut::DutEvent;
    use avic_cosim::ffi::AutoStop;
    let setup = || {
        let mut d = dut(ModelKind::Plain);
        let l = VmLayout::default();
        let mut e = PhysEntry::decode(d.mem.peek(l.phys_entry(2)).unwrap());
        e.is_running = false;
        d.mem.poke(l.phys_entry(2), e.encode()).unwrap();
        d.core(2).guest_mode = false;
        d.core(3).guest_mode = false;
        d
    };
    let icrs = [Icr::fixed_physical(0x40, 1), Icr::fixed_physical(0x41, 2)];
    let react = |d: &mut Dut, sent: &mut usize| {
        for c in 0..4 {
            if d.out.core[c].intr_valid {
                d.core(c).eoi = true;
            }
        }
        if !d.out.core[0].busy {
            let icr = icrs[*sent % 2];
            d.write_icr(0, icr.lo(), icr.hi());
            *sent += 1;
        }
    };
    const N: u64 = 600;
    let (mut a, mut sa) = (setup(), 0);
    for _ in 0..N {
        a.step().unwrap();
        react(&mut a, &mut sa);
    }
    let (mut b, mut sb) = (setup(), 0);
    b.load_autonomous().unwrap();
    let stop = AutoStop::EVERY_EVENT;
    let (mut left, mut calls) = (N, 0);
    while left > 0 {
        left -= b
            .run_autonomous(if calls == 0 { 1 } else { left }, &stop)
            .unwrap();
        calls += 1;
        react(&mut b, &mut sb);
    }
    assert_eq!(a.cycle(), b.cycle());
    assert_eq!((sa, a.out), (sb, b.out));
    assert_eq!(a.events(), b.events());
    let kinds = |d: &Dut, f: fn(&DutEvent) -> bool| d.events().iter().filter(|e| f(e)).count();
    assert!(kinds(&a, |e| matches!(e, DutEvent::Doorbell { .. })) >= 10);
    assert!(
        kinds(
            &a,
            |e| matches!(e, DutEvent::Exit { info2, .. } if *info2 == 1 << 32 | 2)
        ) >= 10
    );
    assert!(
        kinds(&a, |e| matches!(
            e,
            DutEvent::Interrupt {
                core: 1,
                vector: 0x40,
                ..
            }
        )) >= 10
    );
    assert!(calls < N / 3, "{calls} calls for {N} cycles");
    for w in 0..a.mem.size_bytes() / 8 {
        assert_eq!(
            a.mem.peek(8 * w).unwrap(),
            b.autonomous_word(8 * w).unwrap(),
            "word {w}"
        );
    }
}
