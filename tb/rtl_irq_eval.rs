//! Directed testbenches of the interrupt evaluator (`rtl/avic_irq_eval.sv`) through
//! `avic_top`: evaluation triggers (VMRUN, doorbell, self IPI, host software's doorbell),
//! priority, IRR to ISR and EOI, RFLAGS.IF, HW-E doorbells to host-mode cores and exits during
//! a scan. The bench: `common/rtl_bench.rs`.

#[path = "common/rtl_bench.rs"]
mod rtl_bench;

use rstest::rstest;
use rtl_bench::*;

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
