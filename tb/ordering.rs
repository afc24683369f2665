//! Ordering coverage (`harness/coverage.rs`): which orders of the protocol's conflicting
//! accesses a run and a search observe, exact sets; the union does not depend on the thread
//! count; the command line reports it and draws no progress bar when stderr is not a terminal.

use avic_cosim::coverage::{Order, Orders, Pair, PAIRS};
use avic_cosim::explore::Search;
use avic_cosim::explore::{bounded_exhaustive, minimize, run, search, search_observed};
use avic_cosim::ffi::HwConfig;
use avic_cosim::kvm::KvmVariant;
use avic_cosim::oracle::Invariant;
use avic_cosim::scenario::apm;
use avic_cosim::scenario::Scenario;
use avic_cosim::sched::Schedule;
use avic_cosim::sim::Verdict;
use indicatif::ProgressBar;
use std::process::Command;

mod common;
use common::with_threads;

/// The orders observed of every pair, as (A before B, B before A).
fn sets(o: Orders) -> Vec<(&'static str, (bool, bool))> {
    PAIRS.iter().map(|&p| (p.name(), o.of(p))).collect()
}

/// The seed thread's case on APM hardware under V4: vCPU 0 sends 0x40 to vCPU 1, which halts.
fn seed_v4() -> Scenario {
    Scenario::seed(KvmVariant::V4, apm())
}

#[test]
fn one_run_sees_exact_orders() {
    // The default order: vCPU 1 halts, check_block reads an empty IRR and sleeps (B before A),
    // the hardware sets the IRR, sees IsRunning = 0 and exits, KVM wakes vCPU 1 and its next
    // check_block sees the bit (A before B): one run, both orders, by different instances.
    let d = run(&seed_v4(), &Schedule::continuing()).unwrap();
    assert_eq!(d.verdict, Verdict::Holds);
    let all_but_sw = |o: Orders| {
        PAIRS.iter().all(|&p| {
            o.of(p)
                == if p == Pair::SwIrrVsCheckBlock {
                    (false, false)
                } else {
                    (true, true)
                }
        })
    };
    assert!(all_but_sw(d.orders), "{}", d.orders.table(""));

    // Random seed 0: the guest's IPI is set in the IRR before vCPU 1 ever reaches
    // check_block, so only "A before B" is observed for the IRR pair.
    let r = run(&seed_v4(), &Schedule::random(0)).unwrap();
    assert_eq!(r.verdict, Verdict::Holds);
    assert_eq!(r.orders.of(Pair::HwIrrVsCheckBlock), (true, false));
    assert!(r
        .orders
        .unreached()
        .contains(&(Pair::HwIrrVsCheckBlock, Order::BFirst)));
    assert_eq!(
        sets(r.orders),
        vec![
            ("hw-irr/check-block", (true, false)),
            ("sw-irr/check-block", (false, false)),
            ("hw-irr/vmrun-scan", (true, true)),
            ("isrun-clear/hw-read", (true, true)),
            ("isrun-set/hw-read", (true, true)),
            ("mode/sender-read", (true, true)),
            ("irr-pending/check-block", (true, true)),
        ],
        "{}",
        r.orders.table("")
    );
}

#[test]
fn the_c1_lost_wakeup_is_the_dekker_outcome() {
    // Hardware that reads IsRunning with its IRR update in flight (C1): the minimized
    // counterexample has the target's check_block read before the IRR set and the hardware's
    // IsRunning read before IsRunning := 0 became visible, and no other order of either pair.
    let sc = Scenario::seed(
        KvmVariant::V4,
        HwConfig {
            isrun_order: 1,
            ..apm()
        },
    );
    let (_, found) = search(&sc, 1000, |s| Search::default().pct(s))
        .unwrap()
        .expect("C1 is found");
    let v = found.violation().unwrap().invariant;
    assert_eq!(v, Invariant::LostWakeup);
    let m = minimize(&sc, &found.ranks(), v).unwrap().unwrap();
    assert_eq!(
        sets(m.orders),
        vec![
            ("hw-irr/check-block", (false, true)),
            ("sw-irr/check-block", (false, false)),
            ("hw-irr/vmrun-scan", (false, true)),
            ("isrun-clear/hw-read", (false, true)),
            ("isrun-set/hw-read", (true, false)),
            ("mode/sender-read", (false, false)),
            ("irr-pending/check-block", (false, false)),
        ],
        "{}",
        m.orders.table("")
    );
}

#[test]
fn bounded_search_sees_both_orders_of_irr_set_vs_check_block() {
    let r = bounded_exhaustive(&seed_v4(), 2, 1_000_000).unwrap();
    assert!(r.complete && r.violation.is_none());
    assert_eq!(r.orders.of(Pair::HwIrrVsCheckBlock), (true, true));
    assert_eq!(
        sets(r.orders),
        vec![
            ("hw-irr/check-block", (true, true)),
            ("sw-irr/check-block", (false, false)),
            ("hw-irr/vmrun-scan", (true, true)),
            ("isrun-clear/hw-read", (true, true)),
            ("isrun-set/hw-read", (true, true)),
            ("mode/sender-read", (true, true)),
            ("irr-pending/check-block", (true, true)),
        ],
        "{}",
        r.orders.table("")
    );
    // Bound 0 is the default order alone: the search's union is that run's set.
    let r0 = bounded_exhaustive(&seed_v4(), 0, 1_000_000).unwrap();
    let one = run(&seed_v4(), &Schedule::continuing()).unwrap().orders;
    assert_eq!(r0.orders, one);
}

#[test]
fn the_union_does_not_depend_on_the_thread_count() {
    let sc = Scenario::seed(KvmVariant::V3, apm());
    let pct = |s| Search::default().pct(s);
    let bar = ProgressBar::hidden();
    let one = with_threads(1, || search_observed(&sc, 300, pct, &bar).unwrap().1);
    let many = with_threads(4, || search_observed(&sc, 300, pct, &bar).unwrap().1);
    assert_eq!(one, many);
    // The union of the individual runs.
    let mut u = Orders::default();
    for s in 0..300 {
        u |= run(
            &sc,
            &Schedule {
                prefix: Vec::new(),
                policy: pct(s),
            },
        )
        .unwrap()
        .orders;
    }
    assert_eq!(one, u);
    let e1 = with_threads(1, || bounded_exhaustive(&sc, 2, 1_000_000).unwrap().orders);
    let e4 = with_threads(4, || bounded_exhaustive(&sc, 2, 1_000_000).unwrap().orders);
    assert_eq!(e1, e4);
}

fn cosim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_avic-cosim"))
        .args(args)
        .output()
        .expect("run avic-cosim")
}

#[test]
fn cli_reports_ordering_and_draws_no_progress_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("e.json");
    let replays = dir.path().join("r");
    let o = cosim(&[
        "explore",
        "--hw",
        "apm",
        "--kvm",
        "V4",
        "--seeds",
        "50",
        "--bound",
        "1",
        "--json",
        json.to_str().unwrap(),
        "--replay-dir",
        replays.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    // stderr is a pipe here: no progress bar, no escape code, nothing at all.
    assert!(!err.contains('\x1b'), "escape codes on stderr: {err:?}");
    assert!(err.is_empty(), "stderr: {err:?}");
    assert!(!out.contains('\x1b'));
    assert!(out.contains("ordering coverage: "), "{out}");
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("sw-irr/check-block"))
        .unwrap();
    assert!(line.contains("NOT REACHED (no A)"), "{line}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["format"], "avic-cosim-explore");
    assert_eq!(doc["ordering"]["hw-irr/check-block"]["a_before_b"], true);
    assert_eq!(doc["ordering"]["sw-irr/check-block"]["a_seen"], false);
    let unreached: Vec<&str> = doc["ordering_unreached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(unreached.contains(&"sw-irr/check-block: A before B"));

    // matrix: stdout is the same with and without --quiet; --ordering adds the tables;
    // the JSON carries the coverage of every cell.
    let mjson = dir.path().join("m.json");
    let base = [
        "matrix",
        "--hw",
        "apm",
        "--kvm",
        "V4,V5",
        "--seeds",
        "30",
        "--bound",
        "1",
        "--no-wave",
        "--replay-dir",
        replays.to_str().unwrap(),
    ];
    let a = cosim(&base);
    let q = cosim(&[&base[..], &["--quiet"]].concat());
    // Every line without its last two words (the times: `N` or `N ms`).
    let strip_ms = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .map(|l| {
                let mut w: Vec<&str> = l.split_whitespace().collect();
                w.truncate(w.len().saturating_sub(2));
                w.join(" ")
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip_ms(&a.stdout), strip_ms(&q.stdout));
    assert!(a.stderr.is_empty() && q.stderr.is_empty());
    let w = cosim(
        &[
            &base[..],
            &["--ordering", "--json", mjson.to_str().unwrap()],
        ]
        .concat(),
    );
    let wout = String::from_utf8_lossy(&w.stdout);
    assert!(wout.contains("apm V5: "), "{wout}");
    assert!(wout.contains("NOT REACHED"), "{wout}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&mjson).unwrap()).unwrap();
    // V5 never sets IsRunning (enable_ipiv=0): the set/read pair cannot be reached.
    let v5 = &m["cells"][1];
    assert_eq!(v5["kvm"], "V5");
    assert_eq!(v5["ordering"]["isrun-set/hw-read"]["a_seen"], false);
    assert!(v5["ordering_unreached"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u == "isrun-set/hw-read: B before A"));
}
