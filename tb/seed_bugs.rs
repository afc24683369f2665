//! The seed thread's bugs and the history's, rediscovered on the RTL + KVM model
//! (`../shared/spec/avic-protocol.md` section 4; `docs/kvm-model.md` for the commits).
//!
//! Each test states a scenario, finds a violating schedule by search (none is written by
//! hand), asserts the exact invariant, vCPU, vector and the events that led to it, and shows
//! that flipping the hardware or KVM variant flips the verdict. The schedules these searches
//! rediscover are also kept, one per bug, as replay fixtures (`tb/fixtures/`, `tb/fixtures.rs`,
//! `make fixtures`).

use avic_cosim::apic::Icr;
use avic_cosim::dut::DutEvent;
use avic_cosim::explore::Search;
use avic_cosim::explore::{self, bounded_exhaustive, search};
use avic_cosim::ffi::HwConfig;
use avic_cosim::guest::GuestOp;
use avic_cosim::kvm::{Knobs, KvmEvent, KvmVariant};
use avic_cosim::oracle::Invariant;
use avic_cosim::scenario::apm;
use avic_cosim::scenario::Scenario;
use avic_cosim::sched::{Policy, Schedule};
use avic_cosim::sim::{Action, Event, Outcome, Verdict, TIMER_VECTOR};
use rstest::rstest;

const V: u8 = 0x40;

fn find(sc: &Scenario, runs: u64) -> Outcome {
    let found = search(sc, runs, |s| Search::default().pct(s)).unwrap();
    let found = found.or_else(|| search(sc, runs, Policy::Random).unwrap());
    found
        .map(|(_, o)| o)
        .expect("a violating schedule within the search budget")
}

fn has(out: &Outcome, pred: impl Fn(&Event) -> bool) -> bool {
    out.log.iter().any(pred)
}

/// B1: under V1 (`bb218fbcfaaa`, reverted by `4a58038b9e42`) the target takes the vector the
/// hardware posted, then KVM's re-emulated ICR write sets it again: taken twice.
#[test]
fn b1_reemulation_duplicates_the_ipi_and_v4_does_not() {
    let sc = Scenario::seed(KvmVariant::V1, apm()).timer(1);
    let out = find(&sc, 2000);
    let v = out.violation().unwrap();
    assert_eq!(
        (v.invariant, v.vcpu, v.vector),
        (Invariant::DuplicateIpi, 1, V)
    );
    assert_eq!(out.ledger.taken(1, V), 2);
    assert_eq!(out.ledger.sent(1, V), 1);
    // The path: target not running at the IRR set -> exit cause 1 -> re-emulated ICR.
    assert!(has(
        &out,
        |e| matches!(e, Event::Rtl(DutEvent::Exit { core: 0, info2, .. }) if info2 >> 32 == 1)
    ));
    assert!(has(&out, |e| matches!(
        e,
        Event::Kvm {
            ev: KvmEvent::ReEmulatedIcr { vcpu: 0, .. },
            ..
        }
    )));
    let first_take = out
        .log
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::Rtl(DutEvent::Interrupt {
                    core: 1,
                    vector: V,
                    ..
                })
            )
        })
        .unwrap();
    let reemul = out
        .log
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::Kvm {
                    ev: KvmEvent::ReEmulatedIcr { .. },
                    ..
                }
            )
        })
        .unwrap();
    assert!(
        first_take < reemul,
        "the target took the posted vector before the re-emulation"
    );

    // The same schedule under V4 (no ICR rewrite, b51818afdc1d): taken once.
    let sc4 = Scenario::seed(KvmVariant::V4, apm()).timer(1);
    let out4 = explore::run(&sc4, &Schedule::replay(&out.ranks())).unwrap();
    assert_eq!(out4.verdict, Verdict::Holds, "{:?}", out4.verdict);
    assert_eq!(out4.ledger.taken(1, V), 1);
    assert_eq!(out4.ledger.taken(1, TIMER_VECTOR), 1);
}

/// C1: hardware that reads IsRunning before its IRR update is visible (HW-B off: in flight
/// or before; or HW-G: a stale copy) sees IsRunning=1 while the target, having cleared it,
/// reads an empty IRR and sleeps; the doorbell reaches a core in host mode and is dropped.
#[rstest]
#[case::in_flight(HwConfig { isrun_order: 1, ..apm() })]
#[case::isrun_first(HwConfig { isrun_order: 2, ..apm() })]
#[case::stale(HwConfig { stale_isrun: true, ..apm() })]
fn c1_unordered_hardware_loses_a_wakeup(#[case] hw: HwConfig) {
    let out = find(&Scenario::seed(KvmVariant::V3, hw), 2000);
    let v = out.violation().unwrap();
    assert_eq!(
        (v.invariant, v.vcpu, v.vector),
        (Invariant::LostWakeup, 1, V)
    );
    assert!(has(&out, |e| matches!(
        e,
        Event::Rtl(DutEvent::Doorbell {
            core: 0,
            host_id: 1,
            ..
        })
    )));
    assert!(has(&out, |e| matches!(
        e,
        Event::Rtl(DutEvent::DoorbellDropped { core: 1, .. })
    )));
    assert!(
        !has(&out, |e| matches!(
            e,
            Event::Rtl(DutEvent::Exit { core: 0, .. })
        )),
        "no exit: KVM never hears of it"
    );
    assert!(has(&out, |e| matches!(
        e,
        Event::Kvm {
            ev: KvmEvent::CheckBlock {
                vcpu: 1,
                irr_seen: false
            },
            ..
        }
    )));
}

/// C1, the other side: APM-order hardware (IsRunning read after the IRR update completed) with
/// the kernel's barrier loses nothing in any schedule within the bound.
#[test]
fn c1_apm_order_with_the_barrier_holds_in_every_bounded_schedule() {
    let r = bounded_exhaustive(&Scenario::seed(KvmVariant::V3, apm()), 2, 200_000).unwrap();
    assert!(
        r.violation.is_none(),
        "{:?}",
        r.violation.map(|o| o.verdict)
    );
    assert!(r.complete, "search stopped after {} runs", r.runs);
    assert_eq!(r.bounded, 0);
    assert!(r.runs > 1000, "only {} schedules", r.runs);
}

/// The same bounded search finds C1 on in-flight hardware: the bound is not what hides it.
#[test]
fn c1_bounded_search_finds_the_in_flight_hardware_bug() {
    let r = bounded_exhaustive(
        &Scenario::seed(
            KvmVariant::V3,
            HwConfig {
                isrun_order: 1,
                ..apm()
            },
        ),
        2,
        200_000,
    )
    .unwrap();
    let v = r.violation.expect("violation within bound 2");
    assert_eq!(v.violation().unwrap().invariant, Invariant::LostWakeup);
}

/// Without every full fence between the blocking IsRunning=0 store and the vIRR read
/// (`no-block-fences`: `set_current_state`'s `smp_store_mb` and `__srcu_read_lock`'s
/// `smp_mb(); /* B */`) the store can sit in the store buffer while the vIRR is read: a lost
/// wake-up even on APM-order hardware. Removing only `set_current_state`'s barrier is no
/// real kernel change: SRCU's fence still orders them (`kvm::tests`' litmus).
#[test]
fn missing_block_fences_lose_a_wakeup_on_apm_hardware() {
    let knobs = Knobs {
        no_block_fences: true,
        ..Knobs::default()
    };
    let out = find(&Scenario::seed(KvmVariant::V3, apm()).knobs(knobs), 2000);
    let v = out.violation().unwrap();
    assert_eq!(
        (v.invariant, v.vcpu, v.vector),
        (Invariant::LostWakeup, 1, V)
    );
    assert!(has(&out, |e| matches!(
        e,
        Event::Rtl(DutEvent::DoorbellDropped { core: 1, .. })
    )));
}

/// C4: a target whose `irr_pending` hint is false (APICv inhibition recomputed it from an
/// empty IRR) is woken by the V2 handler but skips the IRR scan and sleeps again. V3
/// (`66fa226c131f`) sets `irr_pending = true` before waking; without that update it fails.
#[rstest]
#[case::v2(KvmVariant::V2, Knobs::default(), true)]
#[case::v3(KvmVariant::V3, Knobs::default(), false)]
#[case::v3_without_irr_pending(KvmVariant::V3, Knobs { no_irr_pending_update: true, ..Knobs::default() }, true)]
fn c4_wake_without_irr_pending(
    #[case] variant: KvmVariant,
    #[case] knobs: Knobs,
    #[case] lost: bool,
) {
    let sc = Scenario::seed(variant, apm())
        .knobs(knobs)
        .irr_pending_false(1);
    let out = explore::run(&sc, &Schedule::continuing()).unwrap();
    if lost {
        let v = out.violation().expect("lost wake-up");
        assert_eq!(
            (v.invariant, v.vcpu, v.vector),
            (Invariant::LostWakeup, 1, V)
        );
        assert!(has(&out, |e| matches!(
            e,
            Event::Kvm {
                ev: KvmEvent::WakeUp {
                    from: 0,
                    target: 1,
                    ..
                },
                ..
            }
        )));
    } else {
        assert_eq!(out.verdict, Verdict::Holds);
        assert_eq!(out.ledger.taken(1, V), 1);
    }
}

/// C2: the dropped v2 patch "unconditionally mark AVIC as running on vCPU load" sets
/// IsRunning=1 when the blocking vCPU is scheduled back in after its last vIRR check; the
/// hardware then rings a doorbell instead of exiting and nobody wakes the vCPU. Merged instead:
/// "Use kvm_vcpu_is_blocking() in AVIC load" (`af52f5aa5c1b`). Shown on V4, whose blocking
/// hooks run with preemption disabled (so C2b below cannot mask the difference).
#[rstest]
#[case::with_patch(true)]
#[case::as_merged(false)]
fn c2_running_on_load_while_blocking(#[case] patch: bool) {
    let knobs = Knobs {
        unconditional_running_on_load: patch,
        ..Knobs::default()
    };
    let sc = Scenario::seed(KvmVariant::V4, apm())
        .knobs(knobs)
        .preemptible(1);
    if patch {
        let out = find(&sc, 2000);
        let v = out.violation().unwrap();
        assert_eq!(
            (v.invariant, v.vcpu, v.vector),
            (Invariant::LostWakeup, 1, V)
        );
        assert!(has(&out, |e| matches!(
            e,
            Event::Kvm {
                ev: KvmEvent::AvicLoad {
                    vcpu: 1,
                    is_running: true
                },
                ..
            }
        )));
    } else {
        let r = bounded_exhaustive(&sc, 2, 200_000).unwrap();
        assert!(
            r.violation.is_none(),
            "{:?}",
            r.violation.map(|o| o.verdict)
        );
        assert!(r.complete);
    }
}

/// C2b: before `18869f26df1a` ("disable preemption around the call to
/// kvm_arch_vcpu_{un|}blocking", 5.19) a preemption between `avic_vcpu_blocking` and
/// `prepare_to_rcuwait` let `avic_vcpu_load` see a vCPU that is not yet "blocking" and set
/// IsRunning=1 again; `schedule()`'s `kvm_sched_out` clears it when the vCPU sleeps, so the IPI
/// is lost only in the window before that store is visible (found here by the random
/// schedules; `tb/kvm_fidelity.rs` has it within bound 2 on `c2b-window.toml`). V2 has the
/// window, V4 does not.
#[test]
fn c2b_preemption_window_in_the_blocking_hooks() {
    let out = find(&Scenario::seed(KvmVariant::V2, apm()).preemptible(1), 2000);
    let v = out.violation().unwrap();
    assert_eq!(
        (v.invariant, v.vcpu, v.vector),
        (Invariant::LostWakeup, 1, V)
    );
    let preempt = out
        .log
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::Act {
                    action: Action::Preempt(1),
                    ..
                }
            )
        })
        .unwrap();
    let put = out
        .log
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::Kvm {
                    ev: KvmEvent::AvicPut { vcpu: 1 },
                    ..
                }
            )
        })
        .unwrap();
    assert!(
        put < preempt,
        "preempted after avic_vcpu_blocking cleared IsRunning"
    );
    assert!(has(&out, |e| matches!(
        e,
        Event::Kvm {
            ev: KvmEvent::AvicLoad {
                vcpu: 1,
                is_running: true
            },
            ..
        }
    )));
}

/// Same scenario and schedule, same event log.
#[test]
fn runs_are_deterministic() {
    let sc = Scenario::seed(KvmVariant::V1, apm()).timer(1);
    let a = explore::run(&sc, &Schedule::pct(7, 3)).unwrap();
    let b = explore::run(&sc, &Schedule::pct(7, 3)).unwrap();
    assert_eq!(a.log, b.log);
    assert_eq!(a.choices, b.choices);
    let c = explore::run(&sc, &Schedule::replay(&a.ranks())).unwrap();
    assert_eq!(
        a.log, c.log,
        "replaying the recorded ranks reproduces the run"
    );
}

/// A3 scenario: vCPU 0 sends `V` to vCPU 1, which halts, is woken by its timer and then spins
/// in the guest forever; vCPU 1's thread may be migrated once from host CPU 1 to 2.
fn a3(variant: KvmVariant, knobs: Knobs) -> Scenario {
    Scenario::new(2, variant)
        .knobs(knobs)
        .program(
            0,
            &[
                GuestOp::Spin(40),
                GuestOp::SendIpi(Icr::fixed_physical(V, 1)),
            ],
        )
        .program(1, &[GuestOp::Halt, GuestOp::Loop])
        .timer(1)
        .migratable(1, 2)
}

/// A3 (`7cfc5c653b07` "KVM: fix avic_set_running for preemptable kernels"): the unblocking
/// `avic_vcpu_load(vcpu, vcpu->cpu)` reads `vcpu->cpu`, the thread is migrated, and the
/// resumed load writes IsRunning=1 with the old host id over the new one. The sender's
/// hardware rings host CPU 1 while vCPU 1 spins in guest mode on host CPU 2: the doorbell
/// target invariant breaks (and the vector is never taken). V0 has the window, V4 does not,
/// and V4 with the knob has it again.
#[rstest]
#[case::v0(KvmVariant::V0, Knobs::default(), true)]
#[case::v4(KvmVariant::V4, Knobs::default(), false)]
#[case::v4_stale_cpu(KvmVariant::V4, Knobs { stale_cpu_on_unblock: true, ..Knobs::default() }, true)]
fn a3_stale_cpu_on_unblock_misdirects_the_doorbell(
    #[case] variant: KvmVariant,
    #[case] knobs: Knobs,
    #[case] violated: bool,
) {
    let sc = a3(variant, knobs);
    let found = search(&sc, 3000, |s| Policy::Pct {
        seed: s,
        depth: 3,
        steps: 150,
    })
    .unwrap();
    if !violated {
        assert!(found.is_none(), "{:?}", found.map(|f| f.1.verdict));
        // Not vacuous: some run migrates vCPU 1 and it then takes the vector on core 2.
        let migrated_then_taken = (0..300).any(|s| {
            let out = explore::run(&sc, &Schedule::pct(s, 3)).unwrap();
            has(&out, |e| {
                matches!(
                    e,
                    Event::Kvm {
                        ev: KvmEvent::Migrated { vcpu: 1, to: 2, .. },
                        ..
                    }
                )
            }) && has(&out, |e| {
                matches!(
                    e,
                    Event::Rtl(DutEvent::Interrupt {
                        core: 2,
                        vector: V,
                        ..
                    })
                )
            })
        });
        assert!(migrated_then_taken);
        return;
    }
    let (_, out) = found.expect("a violating schedule within the search budget");
    let v = out.violation().unwrap();
    assert_eq!((v.invariant, v.vcpu), (Invariant::DoorbellTarget, 1), "{v}");
    // The path: migrated from CPU 1 to 2 inside the unblocking load, whose store then wrote
    // host id 1; the hardware's doorbell went to host 1.
    assert!(has(&out, |e| matches!(
        e,
        Event::Kvm {
            ev: KvmEvent::Migrated {
                vcpu: 1,
                from: 1,
                to: 2
            },
            ..
        }
    )));
    assert!(has(&out, |e| matches!(
        e,
        Event::Rtl(DutEvent::Doorbell {
            core: 0,
            host_id: 1,
            ..
        })
    )));
    assert_eq!(out.ledger.taken(1, V), 0);
    assert!(v.detail.contains("on core 2"), "{v}");
}
