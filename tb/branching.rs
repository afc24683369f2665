//! Branching from saved RTL state: the Savable model saves and restores without leaking or
//! deadlocking, a world resumed from a snapshot runs exactly as a fresh one, and the bounded
//! exhaustive search gives the same results whether it branches or replays.

use avic_cosim::explore::{bounded_exhaustive_revisit, Exhaustive, Revisit, Shard};
use avic_cosim::ffi::{self, ModelKind, TopIn, TopOut};
use avic_cosim::report;
use avic_cosim::rtl::{Rtl, RtlOptions, UserRtl};
use avic_cosim::scenario::Scenario;
use avic_cosim::sched::{Policy, Schedule};
use avic_cosim::sim::{Outcome, Snapshot, World};
use indicatif::ProgressBar;
use std::sync::mpsc;
use std::time::Duration;

mod common;
use common::with_threads;

/// The seed scenario in one cell of the report (hardware variant, KVM row).
fn cell(hw: &str, kvm: &str) -> Scenario {
    let f = report::load_scenario("seed").unwrap();
    report::cell_scenario(
        &f.scenario,
        &report::hw_variant(hw).unwrap(),
        &report::kvm_row(kvm).unwrap(),
    )
}

/// Runs `f` on another thread and fails if it does not finish within `secs` (a deadlock in a
/// destructor would otherwise hang the test binary).
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Disconnected) => match h.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => unreachable!("the thread sent nothing and did not panic"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("not finished in {secs} s: deadlock?"),
    }
}

fn save(m: &ffi::Model) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let n = m.save(&mut buf).unwrap();
    assert!(n <= buf.len(), "state of {n} bytes");
    buf.truncate(n);
    buf
}

fn reset_and_run(m: &mut cxx::UniquePtr<ffi::Model>, cycles: u64) -> TopOut {
    let mut out = TopOut::default();
    let mut inp = TopIn::default();
    m.pin_mut().step_n(&inp, 2, &mut out).unwrap();
    inp.rst_n = true;
    m.pin_mut().step_n(&inp, cycles, &mut out).unwrap();
    out
}

#[test]
fn savable_models_save_restore_and_drop_many_times_in_one_process() {
    within(120, || {
        let mut a = ffi::new_model(ModelKind::Savable).unwrap();
        reset_and_run(&mut a, 5);
        let state = save(&a);
        assert_eq!(a.cycles(), 7);
        for _ in 0..200 {
            let mut b = ffi::new_model(ModelKind::Savable).unwrap();
            b.pin_mut().restore(&state).unwrap();
            assert_eq!(b.cycles(), 7);
            // Saving the restored model gives the same bytes.
            assert_eq!(save(&b), state);
            drop(b);
        }
        // A restored model restored again, then dropped; and the original dropped last.
        let mut c = ffi::new_model(ModelKind::Savable).unwrap();
        c.pin_mut().restore(&state).unwrap();
        c.pin_mut().restore(&state).unwrap();
        drop(c);
        drop(a);
    });
}

#[test]
fn savable_models_on_many_threads() {
    within(120, || {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..50 {
                        let mut a = ffi::new_model(ModelKind::Savable).unwrap();
                        reset_and_run(&mut a, 3);
                        let s = save(&a);
                        let mut b = ffi::new_model(ModelKind::Savable).unwrap();
                        b.pin_mut().restore(&s).unwrap();
                        assert_eq!(save(&b), s);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
}

#[test]
fn bad_snapshots_are_errors_not_aborts() {
    within(60, || {
        let mut a = ffi::new_model(ModelKind::Savable).unwrap();
        reset_and_run(&mut a, 5);
        let good = save(&a);
        let mut b = ffi::new_model(ModelKind::Savable).unwrap();
        let e = b.pin_mut().restore(&good[..good.len() - 1]).unwrap_err();
        assert!(e.what().contains("bytes"), "{}", e.what());
        assert!(b.pin_mut().restore(&[]).is_err());
        let mut garbage = good.clone();
        garbage[10] ^= 0xFF; // inside Verilator's header signature
        assert!(b.pin_mut().restore(&garbage).is_err());
        let mut tail = good.clone();
        let n = tail.len();
        tail[n - 2] ^= 0xFF; // inside the trailer signature
        assert!(b.pin_mut().restore(&tail).is_err());
        // The model still restores a good state afterwards, and drops.
        b.pin_mut().restore(&good).unwrap();
        assert_eq!(save(&b), good);
        // Other builds refuse.
        let p = ffi::new_model(ModelKind::Plain).unwrap();
        assert!(p
            .save(&mut [0u8; 16])
            .unwrap_err()
            .what()
            .contains("savable"));
    });
}

fn same_outcome(a: &Outcome, b: &Outcome) {
    assert_eq!(a.verdict, b.verdict);
    assert_eq!(a.cycles, b.cycles);
    assert_eq!(a.choices, b.choices);
    assert_eq!(a.choice_cycles, b.choice_cycles);
    assert_eq!(a.log, b.log);
    assert_eq!(a.orders, b.orders);
    assert_eq!(a.ledger.first_missing(), b.ledger.first_missing());
}

#[test]
fn a_restored_world_runs_like_a_fresh_one() {
    for (hw, kvm) in [("apm", "V4"), ("in-flight", "V3"), ("apm", "V1")] {
        let sc = cell(hw, kvm);
        for seed in 0..6 {
            let sched = Schedule {
                prefix: Vec::new(),
                policy: Policy::Random(seed),
            };
            let fresh = World::new(&sc, ModelKind::Plain)
                .unwrap()
                .run(&sched)
                .unwrap();
            assert!(fresh.choices.len() > 4, "{hw}/{kvm}: a run with choices");
            // Save at choice point 3 (and every later one) of the same run.
            let mut saved: Vec<Snapshot> = Vec::new();
            let mut w = World::new(&sc, ModelKind::Savable).unwrap();
            let first = w
                .run_observed(&sched, |w| {
                    if w.choice_point() >= 3 {
                        saved.push(w.snapshot()?);
                    }
                    Ok(())
                })
                .unwrap();
            same_outcome(&first, &fresh);
            assert_eq!(saved[0].choice_point(), 3);
            // A new world from the snapshot, and the finished world restored in place.
            let resumed = World::from_snapshot(&sc, &saved[0])
                .unwrap()
                .run(&sched)
                .unwrap();
            same_outcome(&resumed, &fresh);
            for s in saved.iter().rev() {
                w.restore(s).unwrap();
                let again = w.run_observed(&sched, |_| Ok(())).unwrap();
                same_outcome(&again, &fresh);
            }
        }
    }
}

#[test]
fn a_restored_world_with_another_choice_runs_like_a_fresh_one() {
    let sc = cell("in-flight", "V3");
    let base = World::new(&sc, ModelKind::Plain)
        .unwrap()
        .run(&Schedule::continuing())
        .unwrap();
    let mut w = World::new(&sc, ModelKind::Savable).unwrap();
    let mut saved: Vec<Snapshot> = Vec::new();
    w.run_observed(&Schedule::continuing(), |w| {
        saved.push(w.snapshot()?);
        Ok(())
    })
    .unwrap();
    assert_eq!(saved.len(), base.choices.len());
    for (j, s) in saved.iter().enumerate() {
        for r in 1..base.choices[j].1 {
            let mut ranks = base.ranks()[..j].to_vec();
            ranks.push(r);
            let sched = Schedule::replay(&ranks);
            let fresh = World::new(&sc, ModelKind::Plain)
                .unwrap()
                .run(&sched)
                .unwrap();
            w.restore(s).unwrap();
            let branched = w.run_observed(&sched, |_| Ok(())).unwrap();
            same_outcome(&branched, &fresh);
        }
    }
}

fn search(sc: &Scenario, bound: u32, shard: Shard, revisit: Revisit) -> Exhaustive {
    bounded_exhaustive_revisit(sc, bound, 1_000_000, shard, &ProgressBar::hidden(), revisit)
        .unwrap()
}

fn same_search(a: &Exhaustive, b: &Exhaustive) {
    assert_eq!(
        (
            a.runs,
            a.probe_runs,
            a.subtrees,
            a.complete,
            a.bounded,
            a.orders
        ),
        (
            b.runs,
            b.probe_runs,
            b.subtrees,
            b.complete,
            b.bounded,
            b.orders
        )
    );
    match (&a.violation, &b.violation) {
        (Some(x), Some(y)) => same_outcome(x, y),
        (None, None) => {}
        _ => panic!("one search found a violation, the other did not"),
    }
}

#[test]
fn branching_and_replaying_searches_agree_on_seed_cells() {
    let mut violated = 0;
    for (hw, kvm) in [
        ("apm", "V1"),
        ("apm", "V3"),
        ("apm", "V4"),
        ("in-flight", "V1"),
        ("in-flight", "V3"),
        ("in-flight", "V4"),
    ] {
        let sc = cell(hw, kvm);
        let replay = search(&sc, 2, Shard::WHOLE, Revisit::Replay);
        let branch = search(&sc, 2, Shard::WHOLE, Revisit::Branch);
        same_search(&replay, &branch);
        violated += usize::from(replay.violation.is_some());
        assert!(replay.runs > 100, "{hw}/{kvm}: {} runs", replay.runs);
    }
    assert!(violated >= 2, "some cells violate: {violated}");
}

#[test]
fn branching_agrees_whatever_the_threads_and_shards() {
    let sc = cell("in-flight", "V3");
    let replay = search(&sc, 2, Shard::WHOLE, Revisit::Replay);
    let one = with_threads(1, || search(&sc, 2, Shard::WHOLE, Revisit::Branch));
    let four = with_threads(4, || search(&sc, 2, Shard::WHOLE, Revisit::Branch));
    same_search(&replay, &one);
    same_search(&replay, &four);
    let sc = cell("apm", "V4");
    for i in 0..3 {
        let shard = Shard { index: i, count: 3 };
        same_search(
            &search(&sc, 2, shard, Revisit::Replay),
            &search(&sc, 2, shard, Revisit::Branch),
        );
    }
}

#[test]
fn only_the_bundled_rtl_branches() {
    let sc = cell("apm", "V4");
    assert_eq!(Revisit::Branch.for_scenario(&sc), Revisit::Branch);
    assert_eq!(Revisit::Replay.for_scenario(&sc), Revisit::Replay);
    // A user's RTL (read, not built) has no Savable build: its searches replay.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let user = UserRtl::from_filelist(
        &root.join("tb/rtl/reordered.f"),
        "reordered_top",
        &RtlOptions::default(),
    )
    .unwrap();
    let sc = sc.rtl(Rtl::User(user));
    assert_eq!(Revisit::Branch.for_scenario(&sc), Revisit::Replay);
}
