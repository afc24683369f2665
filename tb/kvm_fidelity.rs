//! The KVM model against the kernel-fidelity review (issue 14,
//! `../shared/spec/kernel-audit.md`): the context switch at the voluntary sleep, SRCU's fences
//! and 5.18's fast path, each found by search (no hand-written schedule) and checked against
//! the events and the memory that show the mechanism.

use avic_cosim::dut::DutEvent;
use avic_cosim::explore::Search;
use avic_cosim::explore::{self, bounded_exhaustive};
use avic_cosim::ffi::ModelKind;
use avic_cosim::kvm::{Knobs, KvmEvent, KvmVariant};
use avic_cosim::oracle::Invariant;
use avic_cosim::scenario::Scenario;
use avic_cosim::scenario::{apm, load, parse, ScenarioFile};
use avic_cosim::sched::Schedule;
use avic_cosim::sim::{Action, Event, Outcome, Verdict, World};
use std::path::Path;

fn file(name: &str) -> ScenarioFile {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    load(&p).unwrap_or_else(|e| panic!("{e}"))
}

fn pos(out: &Outcome, pred: impl Fn(&Event) -> bool) -> Option<usize> {
    out.log.iter().position(pred)
}

fn kvm(out: &Outcome, want: KvmEvent) -> Vec<usize> {
    (0..out.log.len())
        .filter(|&i| matches!(&out.log[i], Event::Kvm { ev, .. } if *ev == want))
        .collect()
}

/// Replays `out`'s schedule and returns vCPU `v`'s Physical APIC ID table entry in global
/// memory at the end (store buffers drained by quiescence).
fn entry_after(sc: &Scenario, out: &Outcome, v: u8) -> u64 {
    let mut w = World::new(sc, ModelKind::Plain).unwrap();
    let again = w
        .run_observed(&Schedule::replay(&out.ranks()), |_| Ok(()))
        .unwrap();
    assert_eq!(again.verdict, out.verdict);
    let addr = sc.kvm.layout.vm.phys_entry(v);
    w.dut().mem.peek(addr).unwrap()
}

const IR: u64 = 1 << 62;

/// C2b as the kernel has it (V2, V3, V3-fast on APM-order hardware, `c2b-window.toml`): the
/// preemption after `avic_vcpu_blocking` lets `kvm_sched_in` set IsRunning=1; the vIRR check
/// finds nothing; `schedule()`'s `kvm_sched_out` → `avic_vcpu_put` clears IsRunning through the
/// store buffer, and the hardware, reading IsRunning=1 before that store drains, rings a
/// doorbell at a core in host mode. The vCPU sleeps with IsRunning=0 in memory and the vector
/// in its IRR. V4 (`18869f26df1a`) holds.
#[test]
fn c2b_window_loses_a_wakeup_with_the_sleep_time_put_and_v4_holds() {
    let f = file("c2b-window.toml");
    for v in [KvmVariant::V2, KvmVariant::V3, KvmVariant::V3Fast] {
        let sc = Scenario {
            kvm: f.scenario.kvm,
            ..f.scenario.clone()
        }
        .knobs(Knobs::default());
        let mut sc = sc;
        sc.kvm.variant = v;
        let r = bounded_exhaustive(&sc, 2, 200_000).unwrap();
        let out = r.violation.expect("C2b within bound 2");
        let viol = out.violation().unwrap();
        assert_eq!(
            (viol.invariant, viol.vcpu, viol.vector),
            (Invariant::LostWakeup, 1, 0x40),
            "{v:?}"
        );
        let preempt = pos(&out, |e| {
            matches!(
                e,
                Event::Act {
                    action: Action::Preempt(1),
                    ..
                }
            )
        })
        .unwrap();
        let puts = kvm(&out, KvmEvent::AvicPut { vcpu: 1 });
        let loads = kvm(
            &out,
            KvmEvent::AvicLoad {
                vcpu: 1,
                is_running: true,
            },
        );
        let check = kvm(
            &out,
            KvmEvent::CheckBlock {
                vcpu: 1,
                irr_seen: false,
            },
        );
        let sleep = kvm(&out, KvmEvent::Sleep { vcpu: 1 });
        assert!(
            puts[0] < preempt,
            "{v:?}: preempted after avic_vcpu_blocking"
        );
        assert!(
            loads.iter().any(|&l| l > preempt),
            "{v:?}: sched_in set IR=1"
        );
        let last_check = *check.last().unwrap();
        let sleep_put = *puts.last().unwrap();
        assert!(last_check < sleep_put && sleep_put <= *sleep.last().unwrap());
        assert!(pos(&out, |e| matches!(
            e,
            Event::Rtl(DutEvent::DoorbellDropped { core: 1, .. })
        ))
        .is_some());
        // Asleep with IsRunning=0 in memory: the put ran; the IPI fell in its window.
        assert_eq!(entry_after(&sc, &out, 1) & IR, 0, "{v:?}");

        let mut sc4 = sc.clone();
        sc4.kvm.variant = KvmVariant::V4;
        let r4 = bounded_exhaustive(&sc4, 2, 200_000).unwrap();
        assert!(r4.violation.is_none() && r4.complete);
    }
}

/// The seed scenario on APM-order hardware: with the sleep-time put, V3 holds within the
/// matrix's bound 2 (its C2b schedule needs 3 deviations there); `no-sleep-put` brings back the
/// model's old permanent C2b, a vCPU asleep with IsRunning=1 in memory.
#[test]
fn no_sleep_put_brings_back_the_permanent_c2b_on_the_seed() {
    let sc = Scenario::seed(KvmVariant::V3, apm())
        .timer(1)
        .preemptible(1);
    let r = bounded_exhaustive(&sc, 2, 200_000).unwrap();
    assert!(r.violation.is_none() && r.complete, "{:?}", r.runs);

    let old = sc.clone().knobs(Knobs {
        no_sleep_put: true,
        ..Knobs::default()
    });
    let r = bounded_exhaustive(&old, 2, 200_000).unwrap();
    let out = r.violation.expect("the permanent C2b");
    assert_eq!(out.violation().unwrap().invariant, Invariant::LostWakeup);
    assert_ne!(
        entry_after(&old, &out, 1) & IR,
        0,
        "asleep with IsRunning=1"
    );
    // The same schedule with the put: the entry is clear once the vCPU sleeps.
    let out2 = explore::run(&sc, &Schedule::replay(&out.ranks())).unwrap();
    if out2.log.iter().any(|e| {
        matches!(
            e,
            Event::Kvm {
                ev: KvmEvent::Sleep { vcpu: 1 },
                ..
            }
        )
    }) && out2.verdict == Verdict::Holds
    {
        assert_eq!(entry_after(&sc, &out2, 1) & IR, 0);
    }
}

/// SRCU's fence B (`__srcu_read_lock`) keeps V4 holding on APM-order hardware; removing every
/// full fence between the blocking IsRunning=0 store and the vIRR read (`no-block-fences`:
/// `set_current_state`'s and SRCU's) loses a wake-up.
#[test]
fn no_block_fences_loses_a_wakeup_where_v4_holds() {
    let sc = Scenario::seed(KvmVariant::V4, apm())
        .timer(1)
        .preemptible(1);
    let r = bounded_exhaustive(&sc, 2, 200_000).unwrap();
    assert!(r.violation.is_none() && r.complete);
    let nb = sc.clone().knobs(Knobs {
        no_block_fences: true,
        ..Knobs::default()
    });
    let found = Search::default()
        .seeds(2000)
        .minimize(false)
        .run(&nb)
        .unwrap()
        .violation
        .expect("lost wake-up without the block fences");
    let v = found.violation().unwrap();
    // The lost wake-up names the highest pending vector: the timer's when it fired too.
    assert_eq!((v.invariant, v.vcpu), (Invariant::LostWakeup, 1), "{v}");
    assert!(
        v.vector == 0x40 || v.vector == avic_cosim::sim::TIMER_VECTOR,
        "{v}"
    );
}

/// 5.18 as shipped (`V3-fast`, `7223fd2d5338`) on a logical flat multicast to two halting
/// vCPUs (`logical-flat.toml`): the exit's index names vCPU 1, the fast path reads Logical APIC
/// ID table entry 1 (vCPU 1 again), kicks it and returns; vCPU 2 sleeps with the vector. V3
/// (slow loop only) and V4 (`603ccef42ce9`) hold. Cluster mode (`logical-cluster.toml`, cluster
/// 1): the index reads entry 1, which belongs to no vCPU of cluster 1 (it reads as vCPU 0, the
/// sender, which does not match), so the slow loop runs and it holds. A physical 0xFF
/// broadcast without shorthand (`fast-path-broadcast.toml`) loses vCPU 2's wake-up.
#[test]
fn v3_fast_loses_a_wakeup_on_a_logical_multicast_where_v4_holds() {
    for (name, vector, lost) in [
        ("logical-flat.toml", 0x60, true),
        ("fast-path-broadcast.toml", 0x58, true),
        ("logical-cluster.toml", 0x64, false),
    ] {
        let f = file(name);
        for (v, bad) in [
            (KvmVariant::V3Fast, lost),
            (KvmVariant::V3, false),
            (KvmVariant::V4, false),
        ] {
            let mut sc = f.scenario.clone();
            sc.kvm.variant = v;
            let r = bounded_exhaustive(&sc, 1, 100_000).unwrap();
            match (bad, r.violation) {
                (true, Some(out)) => {
                    let viol = out.violation().unwrap();
                    assert_eq!(
                        (viol.invariant, viol.vcpu, viol.vector),
                        (Invariant::LostWakeup, 2, vector),
                        "{name} {v:?}"
                    );
                    // One kick: vCPU 1 got irr_pending from the handler, vCPU 2 did not.
                    let kicked = |t: u8| {
                        out.log.iter().any(|e| {
                            matches!(e, Event::Kvm { ev: KvmEvent::IrrPending { target, .. }, .. } if *target == t)
                        })
                    };
                    assert!(kicked(1) && !kicked(2), "{name} {v:?}");
                }
                (false, None) => assert!(r.complete, "{name} {v:?}"),
                (bad, got) => panic!(
                    "{name} {v:?}: expected lost={bad}, got {:?}",
                    got.map(|o| o.verdict)
                ),
            }
        }
    }
}

/// Old knob names still load, as the new knob, with a warning naming it.
#[test]
fn old_knob_names_load_with_a_warning() {
    let text = r#"
version = 1
[kvm]
variant = "V4"
knobs = ["no-set-current-state-mb", "no-enter-guest-mb", "no-wake-up-mb"]
[[vcpu]]
program = ["halt"]
"#;
    let f = parse(text, "old.toml").unwrap();
    let k = f.scenario.kvm.knobs;
    assert!(k.no_block_fences && k.no_enter_mb && k.no_wake_up_mb);
    assert_eq!(
        f.warnings,
        vec![
            "warning: old.toml: knob `no-set-current-state-mb` is now called `no-block-fences`",
            "warning: old.toml: knob `no-enter-guest-mb` is now called `no-enter-mb`",
        ]
    );
    let new = parse(
        &text.replace("no-set-current-state-mb", "no-block-fences"),
        "n.toml",
    );
    assert_eq!(new.unwrap().warnings.len(), 1);
    assert_eq!(
        avic_cosim::report::renamed_row("V4-no-scmb"),
        Some("V4-no-block-fences")
    );
    assert_eq!(
        avic_cosim::report::kvm_row("V4-no-entermb").unwrap().name,
        "V4-no-enter-mb"
    );
}

/// C4 from a reachable state (`apicv-inhibit.toml`): APICv inhibited at a time the schedule
/// picks. vCPU 1 deactivates (`kvm_vcpu_update_apicv`), and V2's `kvm_apic_update_apicv`
/// recomputes `irr_pending` from an IRR it searched before vCPU 0's posting (by the hardware,
/// whose AVIC is still on for a store in flight, or by KVM's emulation of the faulting ICR
/// store), so vCPU 1's `kvm_vcpu_check_block` sees `irr_pending` false and sleeps. V3
/// (`66fa226c131f`, `755c2bf87860`) and later hold, searched completely within bound 2.
#[test]
fn apicv_inhibition_loses_a_wakeup_on_v2_and_holds_from_v3() {
    let f = file("apicv-inhibit.toml");
    let mut sc = f.scenario.clone();
    sc.kvm.variant = KvmVariant::V2;
    let r = bounded_exhaustive(&sc, 2, 200_000).unwrap();
    let out = r.violation.expect("C4 within bound 2 on V2");
    let viol = out.violation().unwrap();
    assert_eq!(
        (viol.invariant, viol.vcpu, viol.vector),
        (Invariant::LostWakeup, 1, 0x40)
    );
    let off = kvm(
        &out,
        KvmEvent::ApicvUpdate {
            vcpu: 1,
            active: false,
        },
    );
    let blind = kvm(
        &out,
        KvmEvent::CheckBlock {
            vcpu: 1,
            irr_seen: false,
        },
    );
    assert!(!off.is_empty() && blind.last() > off.first());
    assert!(pos(&out, |e| matches!(
        e,
        Event::Kvm {
            ev: KvmEvent::Injected { vcpu: 1, .. },
            ..
        }
    ))
    .is_none());
    for v in [
        KvmVariant::V3,
        KvmVariant::V3Fast,
        KvmVariant::V4,
        KvmVariant::V5,
    ] {
        sc.kvm.variant = v;
        let r = bounded_exhaustive(&sc, 2, 200_000).unwrap();
        assert!(r.violation.is_none() && r.complete, "{v:?}");
    }
}

/// The emulated LAPIC delivers while APICv is inhibited: on V4, some schedule of
/// `apicv-inhibit.toml` has KVM inject the vector (`kvm_cpu_get_interrupt`, IRR to ISR) and
/// the guest take it, with every invariant holding (the IPI accounting counts the injection as
/// the acceptance, the emulated EOI clears the ISR).
#[test]
fn an_inhibited_vcpu_takes_the_ipi_through_injection() {
    let f = file("apicv-inhibit.toml");
    let mut sc = f.scenario.clone();
    sc.kvm.variant = KvmVariant::V4;
    let mut injected = false;
    for seed in 0..400 {
        let mut w = World::new(&sc, ModelKind::Plain).unwrap();
        let out = w.run_observed(&Schedule::pct(seed, 3), |_| Ok(())).unwrap();
        assert!(
            matches!(out.verdict, Verdict::Holds),
            "seed {seed}: {:?}",
            out.verdict
        );
        let inj = kvm(
            &out,
            KvmEvent::Injected {
                vcpu: 1,
                vector: 0x40,
            },
        );
        let eoi = kvm(
            &out,
            KvmEvent::EmulatedEoi {
                vcpu: 1,
                vector: 0x40,
            },
        );
        if let (Some(&i), Some(&e)) = (inj.first(), eoi.first()) {
            assert!(i < e);
            injected = true;
            break;
        }
    }
    assert!(injected, "no PCT schedule of 400 injected the vector");
}
