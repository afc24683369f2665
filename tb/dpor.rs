//! The DPOR search (`avic_cosim::dpor`): the reduction loses no trace class that a search
//! without reduction reaches, it finds what the bounded search finds, and its results do not
//! depend on the thread count.

use avic_cosim::apic::Icr;
use avic_cosim::dpor::{all_classes, bounded_classes, dpor, dpor_classes, races, run_recorded};
use avic_cosim::explore::bounded_exhaustive;
use avic_cosim::guest::GuestOp;
use avic_cosim::kvm::KvmVariant;
use avic_cosim::oracle::Invariant;
use avic_cosim::scenario::apm;
use avic_cosim::scenario::Scenario;
use avic_cosim::sched::Schedule;
use avic_cosim::sim::{Action, Res, World};
use rstest::rstest;

mod common;
use common::with_threads;

/// One vCPU that halts: the naive enumeration of every schedule is small.
fn one_halts() -> Scenario {
    Scenario::new(1, KvmVariant::V4).program(0, &[GuestOp::Halt])
}

/// Two vCPUs that stay in their guests.
fn two_loop() -> Scenario {
    Scenario::new(2, KvmVariant::V4)
        .program(0, &[GuestOp::Loop])
        .program(1, &[GuestOp::Loop])
}

/// vCPU 0 sends an IPI to vCPU 1, which stays in its guest (doorbell delivery).
fn ipi_to_running() -> Scenario {
    Scenario::new(2, KvmVariant::V4)
        .program(0, &[GuestOp::SendIpi(Icr::fixed_physical(0x40, 1))])
        .program(1, &[GuestOp::Loop])
}

#[test]
fn recording_changes_nothing_in_the_run() {
    let sc = Scenario::seed(KvmVariant::V3, apm()).timer(1);
    for seed in 0..5 {
        let sched = Schedule::pct(seed, 3);
        let plain = World::new(&sc, avic_cosim::ffi::ModelKind::Plain)
            .unwrap()
            .run(&sched)
            .unwrap();
        let mut w = World::new(&sc, avic_cosim::ffi::ModelKind::Plain).unwrap();
        w.record_steps();
        let rec = w.run(&sched).unwrap();
        assert_eq!(plain.log, rec.log);
        assert_eq!(plain.choices, rec.choices);
        assert!(plain.steps.is_none() && plain.accesses.is_none());
        let steps = rec.steps.unwrap();
        assert_eq!(steps.len() as u64, rec.cycles);
        assert_eq!(
            steps.iter().filter(|s| s.choice.is_some()).count(),
            rec.choices.len()
        );
    }
}

#[test]
fn footprints_name_what_a_cycle_touched() {
    let sc = Scenario::seed(KvmVariant::V3, apm());
    let out = run_recorded(&sc, &[]).unwrap();
    let steps = out.steps.as_ref().unwrap();
    // The guest's ICR write drives core 0's inputs and is a send to vCPU 1.
    let send = steps
        .iter()
        .find(|s| s.acted == Some(Action::Guest(0)))
        .unwrap();
    assert!(send
        .touches
        .iter()
        .any(|t| t.res == Res::Core(0) && t.write));
    assert!(send
        .touches
        .iter()
        .any(|t| t.res == Res::Ledger(1) && t.write));
    // Every store-buffer commit is a write of the word.
    for s in steps
        .iter()
        .filter(|s| matches!(s.acted, Some(Action::Drain(_))))
    {
        assert!(s
            .touches
            .iter()
            .any(|t| matches!(t.res, Res::Addr(_)) && t.write));
    }
    assert!(!races(steps).is_empty());
}

/// The soundness check of the reduction: every trace class (verdict + per-word order of writes
/// and the reads between them) that the enumeration of every schedule reaches, DPOR reaches too,
/// and DPOR completes with fewer runs.
#[rstest]
#[case::halts(one_halts(), 1)]
#[case::preempted(one_halts().preemptible(0), 3)]
#[case::preempted_v3(Scenario::new(1, KvmVariant::V3).program(0, &[GuestOp::Halt]).preemptible(0), 4)]
#[case::migrated(one_halts().migratable(0, 1), 13)]
fn dpor_reaches_every_class_of_the_complete_enumeration(
    #[case] sc: Scenario,
    #[case] n_classes: usize,
) {
    let (runs, naive) = all_classes(&sc, 100_000).unwrap().expect("small space");
    assert!(
        runs > 100,
        "the naive space is not trivial: {runs} schedules"
    );
    assert_eq!(naive.len(), n_classes);
    let (d, classes) = dpor_classes(&sc, None, 100_000).unwrap();
    assert!(d.complete);
    assert!(d.runs < runs, "{} DPOR runs vs {runs}", d.runs);
    assert_eq!(classes, naive);
}

#[rstest]
#[case::two_loop(two_loop(), true)]
#[case::ipi_to_running(ipi_to_running(), false)]
fn dpor_reaches_every_class_of_the_bounded_search(#[case] sc: Scenario, #[case] completes: bool) {
    let (_, naive) = bounded_classes(&sc, 2, 100_000).unwrap().expect("bounded");
    let (d, classes) = dpor_classes(&sc, None, 5_000).unwrap();
    assert_eq!(d.complete, completes);
    let missing: Vec<_> = naive.keys().filter(|k| !classes.contains(*k)).collect();
    assert!(missing.is_empty(), "DPOR misses {missing:?}");
}

#[test]
fn dpor_finds_the_duplicate_ipi_of_the_reemulation() {
    let sc = Scenario::seed(KvmVariant::V1, apm()).timer(1);
    let b = bounded_exhaustive(&sc, 2, 1_000_000).unwrap();
    let want = b.violation.as_ref().unwrap().violation().unwrap().invariant;
    assert_eq!(want, Invariant::DuplicateIpi);
    let d = dpor(&sc, None, 10_000).unwrap();
    let got = d
        .violation
        .as_ref()
        .expect("DPOR finds it")
        .violation()
        .unwrap();
    assert_eq!((got.invariant, got.vcpu, got.vector), (want, 1, 0x40));
    assert!(!d.complete);
}

#[test]
fn dpor_results_do_not_depend_on_the_thread_count() {
    for (sc, cap) in [
        (ipi_to_running(), 1_500),
        (Scenario::seed(KvmVariant::V1, apm()).timer(1), 10_000),
    ] {
        let one = with_threads(1, || dpor_classes(&sc, None, cap).unwrap());
        let many = with_threads(4, || dpor_classes(&sc, None, cap).unwrap());
        let key = |d: &avic_cosim::dpor::Dpor| {
            (
                d.runs,
                d.backtracks,
                d.races,
                d.pruned,
                d.complete,
                d.violation.as_ref().map(|o| (o.ranks(), o.cycles)),
            )
        };
        assert_eq!(key(&one.0), key(&many.0));
        assert_eq!(one.1, many.1);
    }
}

/// The bar: on the bundled seed scenario, in every cell of the verdict matrix, DPOR
/// within the scenario's deviation bound completes with fewer schedules than the bounded
/// enumeration, reaches every trace class of its holding runs, and reaches the same verdicts.
/// (A violating run ends at the violation, so two of them can differ only in how far an
/// unrelated thread got before it; those truncated classes are compared by verdict.)
#[test]
fn bounded_dpor_is_complete_on_every_cell_of_the_seed() {
    use avic_cosim::report::{cell_scenario, hw_variants, load_scenario, KVM_ROWS};
    use rayon::prelude::*;
    use std::collections::BTreeSet;
    let f = load_scenario("seed").unwrap();
    let cells: Vec<_> = hw_variants()
        .into_iter()
        .flat_map(|hw| KVM_ROWS.iter().map(move |k| (hw, *k)))
        .collect();
    assert_eq!(
        cells.len(),
        7 * KVM_ROWS.len(),
        "every hardware row x every KVM row"
    );
    let verdict = |c: &str| c.split('|').next().unwrap().to_string();
    let failures: Vec<String> = cells
        .par_iter()
        .filter_map(|(hw, k)| {
            let sc = cell_scenario(&f.scenario, hw, k);
            let (runs, naive) = bounded_classes(&sc, f.bound, 100_000).unwrap().unwrap();
            let (d, classes) = dpor_classes(&sc, Some(f.bound), 100_000).unwrap();
            let name = format!("{}/{}", hw.name, k.name);
            let missing: Vec<&String> = naive
                .keys()
                .filter(|c| c.starts_with("holds") && !classes.contains(*c))
                .collect();
            let want: BTreeSet<String> = naive.keys().map(|c| verdict(c)).collect();
            let got: BTreeSet<String> = classes.iter().map(|c| verdict(c)).collect();
            if !d.complete || d.runs >= runs || !missing.is_empty() || want != got {
                Some(format!(
                    "{name}: complete {}, {} DPOR runs vs {runs}, {} holding classes missing, \
                     verdicts {got:?} vs {want:?}",
                    d.complete,
                    d.runs,
                    missing.len()
                ))
            } else {
                None
            }
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}
