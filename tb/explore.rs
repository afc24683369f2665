//! The exploration engine: thread-count independence, shards, minimization.

use avic_cosim::explore::Search;
use avic_cosim::explore::{bounded_exhaustive, bounded_exhaustive_shard, minimize, search, Shard};
use avic_cosim::ffi::HwConfig;
use avic_cosim::kvm::KvmVariant;
use avic_cosim::oracle::Invariant;
use avic_cosim::scenario::apm;
use avic_cosim::scenario::Scenario;

mod common;
use common::with_threads;

#[test]
fn exhaustive_results_do_not_depend_on_the_thread_count() {
    for (hw, violated) in [
        (apm(), false),
        (
            HwConfig {
                isrun_order: 1,
                ..apm()
            },
            true,
        ),
    ] {
        let sc = Scenario::seed(KvmVariant::V3, hw);
        let one = with_threads(1, || bounded_exhaustive(&sc, 2, 1_000_000).unwrap());
        let many = with_threads(4, || bounded_exhaustive(&sc, 2, 1_000_000).unwrap());
        assert_eq!(one.violation.is_some(), violated);
        assert_eq!(
            (one.runs, one.bounded, one.complete),
            (many.runs, many.bounded, many.complete)
        );
        assert_eq!(
            one.violation.as_ref().map(|o| (o.ranks(), o.cycles)),
            many.violation.as_ref().map(|o| (o.ranks(), o.cycles))
        );
    }
}

#[test]
fn shards_add_up_to_the_whole_search() {
    let sc = Scenario::seed(KvmVariant::V3, apm());
    let whole = bounded_exhaustive(&sc, 2, 1_000_000).unwrap();
    assert!(whole.complete && whole.violation.is_none());
    let parts: Vec<_> = (0..3)
        .map(|i| bounded_exhaustive_shard(&sc, 2, 1_000_000, Shard { index: i, count: 3 }).unwrap())
        .collect();
    assert!(parts.iter().all(|p| p.complete && p.violation.is_none()));
    assert!(parts.iter().all(|p| p.runs > 0), "every shard has work");
    assert_eq!(parts.iter().map(|p| p.runs).sum::<u64>(), whole.runs);
}

#[test]
fn search_returns_the_lowest_violating_seed_whatever_the_threads() {
    let sc = Scenario::seed(
        KvmVariant::V3,
        HwConfig {
            stale_isrun: true,
            ..apm()
        },
    );
    let pct = |s| Search::default().pct(s);
    let a = with_threads(1, || search(&sc, 500, pct).unwrap()).expect("found");
    let b = with_threads(4, || search(&sc, 500, pct).unwrap()).expect("found");
    assert_eq!(a.0, b.0);
    assert_eq!(a.1.log, b.1.log);
}

#[test]
fn minimize_keeps_the_violation_and_never_grows_the_schedule() {
    let sc = Scenario::seed(
        KvmVariant::V3,
        HwConfig {
            isrun_order: 1,
            ..apm()
        },
    );
    let (_, found) = search(&sc, 2000, |s| Search::default().pct(s))
        .unwrap()
        .expect("found");
    let v = found.violation().unwrap().clone();
    let devs = |r: &[u16]| r.iter().filter(|&&x| x != 0).count();
    let min = minimize(&sc, &found.ranks(), v.invariant)
        .unwrap()
        .expect("still violates");
    let mv = min.violation().unwrap();
    assert_eq!(
        (mv.invariant, mv.vcpu, mv.vector),
        (Invariant::LostWakeup, v.vcpu, v.vector)
    );
    assert!(devs(&min.ranks()) <= devs(&found.ranks()));
    assert!(min.cycles <= found.cycles);
    // Minimizing the minimum changes nothing, and it replays to the same violation.
    let again = minimize(&sc, &min.ranks(), v.invariant).unwrap().unwrap();
    assert_eq!(devs(&again.ranks()), devs(&min.ranks()));
    assert_eq!(again.violation(), min.violation());
}

#[test]
fn minimize_refuses_a_schedule_that_does_not_violate() {
    let sc = Scenario::seed(KvmVariant::V3, apm());
    assert!(minimize(&sc, &[], Invariant::LostWakeup).unwrap().is_none());
}
