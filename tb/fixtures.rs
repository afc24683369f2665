//! The history's bugs as bug-named replay fixtures (`tb/fixtures/BUG.replay`, written by
//! `make fixtures`): each is replayed, fast and exact, through the library (the path
//! `avic-cosim replay` takes) and once through the CLI, and must reproduce the verdict recorded
//! in it (invariant, vCPU, vector) plus a fact of the bug's mechanism. The searches that
//! rediscover the bugs stay in `tb/seed_bugs.rs`, `tb/kvm_fidelity.rs` and `tb/scenarios.rs`.
//!
//! A fixture whose scenario text changed (its `scenario_sha256`) fails with the instruction to
//! run `make fixtures` and review the new files; so does one the model no longer reproduces.

use avic_cosim::dut::DutEvent;
use avic_cosim::kvm::KvmEvent;
use avic_cosim::oracle::Invariant;
use avic_cosim::replay::{Replay, ReplayError};
use avic_cosim::report::BUNDLED;
use avic_cosim::sim::{Action, Event, Outcome, Verdict};
use rstest::rstest;
use std::path::{Path, PathBuf};

#[path = "common/cli.rs"]
mod cli;
use cli::{cosim, text};

const REGENERATE: &str = "run `make fixtures` and review the new files (git diff tb/fixtures)";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tb/fixtures")
}

fn path(name: &str) -> PathBuf {
    dir().join(format!("{name}.replay"))
}

/// Parses fixture text `text` of `name`; a changed scenario is the instruction to regenerate.
fn parse(name: &str, text: &str) -> Result<Replay, String> {
    Replay::parse(&format!("tb/fixtures/{name}.replay"), text).map_err(|e: ReplayError| {
        if e.field == "scenario_sha256" {
            format!("{e}\nfixture `{name}`: its scenario changed; {REGENERATE}")
        } else {
            format!("{e}\nfixture `{name}` does not parse; {REGENERATE}")
        }
    })
}

fn load(name: &str) -> Replay {
    let text = std::fs::read_to_string(path(name))
        .unwrap_or_else(|e| panic!("{}: {e}; {REGENERATE}", path(name).display()));
    parse(name, &text).unwrap_or_else(|e| panic!("{e}"))
}

/// The `FIXTURES` entries of the Makefile: (bug, scenario, hardware, kvm).
fn makefile_entries() -> Vec<[String; 4]> {
    let mk =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Makefile")).unwrap();
    let mut lines = mk.lines().skip_while(|l| !l.starts_with("FIXTURES := "));
    let mut out = Vec::new();
    lines.next().expect("FIXTURES := in the Makefile");
    for l in lines {
        let entry = l.trim().trim_end_matches('\\').trim();
        let parts: Vec<String> = entry.split(':').map(String::from).collect();
        out.push(
            parts
                .try_into()
                .unwrap_or_else(|p| panic!("bad FIXTURES entry {p:?}")),
        );
        if !l.trim_end().ends_with('\\') {
            break;
        }
    }
    out
}

fn pos(out: &Outcome, pred: impl Fn(&Event) -> bool) -> Option<usize> {
    out.log.iter().position(pred)
}

fn all(out: &Outcome, pred: impl Fn(&Event) -> bool) -> Vec<usize> {
    (0..out.log.len()).filter(|&i| pred(&out.log[i])).collect()
}

fn kvm(out: &Outcome, want: KvmEvent) -> Vec<usize> {
    all(out, |e| matches!(e, Event::Kvm { ev, .. } if *ev == want))
}

fn doorbell(out: &Outcome, host: u16) -> bool {
    pos(
        out,
        |e| matches!(e, Event::Rtl(DutEvent::Doorbell { host_id, .. }) if *host_id == host),
    )
    .is_some()
}

fn dropped(out: &Outcome, at: usize) -> bool {
    pos(
        out,
        |e| matches!(e, Event::Rtl(DutEvent::DoorbellDropped { core, .. }) if *core == at),
    )
    .is_some()
}

/// The fact of `bug`'s mechanism in its replayed run `out`.
fn mechanism(bug: &str, out: &Outcome) {
    match bug {
        // V1 and V1b: the target took the posted vector, then the re-emulated ICR write set it
        // again: taken twice, sent once.
        "b1-reemulation-duplicate" | "b1b-proposal-duplicate" => {
            assert_eq!(out.ledger.taken(1, 0x40), 2);
            assert_eq!(out.ledger.sent(1, 0x40), 1);
            let take = pos(out, |e| {
                matches!(
                    e,
                    Event::Rtl(DutEvent::Interrupt {
                        core: 1,
                        vector: 0x40,
                        ..
                    })
                )
            });
            let reemul = pos(out, |e| {
                matches!(
                    e,
                    Event::Kvm {
                        ev: KvmEvent::ReEmulatedIcr { vcpu: 0, .. },
                        ..
                    }
                )
            });
            assert!(
                take.unwrap() < reemul.unwrap(),
                "taken before the re-emulation"
            );
        }
        // HW-D off: the valid target got the vector from the hardware before it met the
        // invalid one, then V4 emulated the whole ICR: delivered twice.
        "b2-per-dest-duplicate" => {
            assert_eq!(out.ledger.taken(1, 0x44), 2);
            assert_eq!(out.ledger.sent(1, 0x44), 1);
        }
        // Before 5aede752a839 the invalid-target exit delivered nothing: never posted.
        "invalid-target-lost-ipi" => {
            let v = out.violation().unwrap();
            assert!(v.detail.contains("never posted"), "{v}");
            assert_eq!(out.ledger.taken(1, 0x44), 0);
            // The sender's exit names the invalid target (cause 2), not a halted one.
            assert!(pos(out, |e| matches!(
                e,
                Event::Rtl(DutEvent::Exit { core: 0, info2, .. }) if info2 >> 32 == 2
            ))
            .is_some());
        }
        // IsRunning read before the IRR update is visible: a doorbell to host 1 whose core is
        // in host mode, dropped; no exit, so KVM never hears of it; vCPU 1 saw an empty IRR.
        "c1-in-flight-lost-wakeup"
        | "c1-isrun-first-lost-wakeup"
        | "c1-stale-isrun-lost-wakeup" => {
            assert!(doorbell(out, 1) && dropped(out, 1));
            assert!(pos(out, |e| matches!(
                e,
                Event::Rtl(DutEvent::Exit { core: 0, .. })
            ))
            .is_none());
            assert!(!kvm(
                out,
                KvmEvent::CheckBlock {
                    vcpu: 1,
                    irr_seen: false
                }
            )
            .is_empty());
        }
        // The dropped patch: a load while blocking (sched-in inside kvm_vcpu_block) sets
        // IsRunning=1 after avic_vcpu_blocking cleared it.
        "c2-running-on-load-lost-wakeup" => {
            let put = kvm(out, KvmEvent::AvicPut { vcpu: 1 });
            let load = kvm(
                out,
                KvmEvent::AvicLoad {
                    vcpu: 1,
                    is_running: true,
                },
            );
            assert!(
                load.iter().any(|&l| l > put[0]),
                "IsRunning=1 again after the put"
            );
            assert!(dropped(out, 1));
        }
        // Preempted between avic_vcpu_blocking and prepare_to_rcuwait: sched-in set
        // IsRunning=1 again; the doorbell reached a core in host mode.
        "c2b-preempt-window-lost-wakeup" => {
            let preempt = pos(out, |e| {
                matches!(
                    e,
                    Event::Act {
                        action: Action::Preempt(1),
                        ..
                    }
                )
            })
            .unwrap();
            let put = kvm(out, KvmEvent::AvicPut { vcpu: 1 });
            let load = kvm(
                out,
                KvmEvent::AvicLoad {
                    vcpu: 1,
                    is_running: true,
                },
            );
            assert!(put[0] < preempt, "preempted after avic_vcpu_blocking");
            assert!(
                load.iter().any(|&l| l > preempt),
                "sched_in set IsRunning=1"
            );
            assert!(dropped(out, 1));
        }
        // APICv inhibited on vCPU 1, irr_pending recomputed from an IRR searched too early:
        // the later check_block does not see the vector; nothing injects it.
        "c4-irr-pending-lost-wakeup" => {
            let off = kvm(
                out,
                KvmEvent::ApicvUpdate {
                    vcpu: 1,
                    active: false,
                },
            );
            let blind = kvm(
                out,
                KvmEvent::CheckBlock {
                    vcpu: 1,
                    irr_seen: false,
                },
            );
            assert!(!off.is_empty() && blind.last() > off.first());
            assert!(pos(out, |e| matches!(
                e,
                Event::Kvm {
                    ev: KvmEvent::Injected { vcpu: 1, .. },
                    ..
                }
            ))
            .is_none());
        }
        // Migrated from host CPU 1 to 2 inside the unblocking load, which then wrote host id 1:
        // the sender's doorbell went to host 1 while vCPU 1 ran on core 2.
        "a3-stale-cpu-doorbell-target" => {
            assert!(!kvm(
                out,
                KvmEvent::Migrated {
                    vcpu: 1,
                    from: 1,
                    to: 2
                }
            )
            .is_empty());
            assert!(doorbell(out, 1));
            let v = out.violation().unwrap();
            assert!(v.detail.contains("on core 2"), "{v}");
        }
        // Without the block fences the IsRunning=0 store sat in the store buffer while the
        // vIRR was read: the hardware rang a doorbell at a core in host mode.
        "no-block-fences-lost-wakeup" => assert!(dropped(out, 1)),
        // 5.18's fast path kicked the vCPU the exit's index names (1) and returned; vCPU 2
        // never got irr_pending from the handler.
        "v3-fast-path-lost-wakeup" => {
            let kicked = |t: u8| {
                pos(out, |e| {
                    matches!(e, Event::Kvm { ev: KvmEvent::IrrPending { target, .. }, .. } if *target == t)
                })
                .is_some()
            };
            assert!(kicked(1) && !kicked(2));
        }
        other => panic!("fixture `{other}` has no mechanism check here: add one"),
    }
}

#[rstest]
#[case::b1_reemulation_duplicate("b1-reemulation-duplicate", Invariant::DuplicateIpi, 1, 0x40)]
#[case::b1b_proposal_duplicate("b1b-proposal-duplicate", Invariant::DuplicateIpi, 1, 0x40)]
#[case::b2_per_dest_duplicate("b2-per-dest-duplicate", Invariant::DuplicateIpi, 1, 0x44)]
#[case::invalid_target_lost_ipi("invalid-target-lost-ipi", Invariant::LostIpi, 1, 0x44)]
#[case::c1_in_flight("c1-in-flight-lost-wakeup", Invariant::LostWakeup, 1, 0x40)]
#[case::c1_isrun_first("c1-isrun-first-lost-wakeup", Invariant::LostWakeup, 1, 0x40)]
#[case::c1_stale_isrun("c1-stale-isrun-lost-wakeup", Invariant::LostWakeup, 1, 0x40)]
#[case::c2_running_on_load("c2-running-on-load-lost-wakeup", Invariant::LostWakeup, 1, 0x40)]
#[case::c2b_preempt_window("c2b-preempt-window-lost-wakeup", Invariant::LostWakeup, 1, 0x40)]
#[case::c4_irr_pending("c4-irr-pending-lost-wakeup", Invariant::LostWakeup, 1, 0x40)]
#[case::a3_stale_cpu("a3-stale-cpu-doorbell-target", Invariant::DoorbellTarget, 1, 0x48)]
#[case::no_block_fences("no-block-fences-lost-wakeup", Invariant::LostWakeup, 1, 0xec)]
#[case::v3_fast_path("v3-fast-path-lost-wakeup", Invariant::LostWakeup, 2, 0x60)]
fn fixture_reproduces_its_bug(
    #[case] bug: &str,
    #[case] invariant: Invariant,
    #[case] vcpu: u8,
    #[case] vector: u8,
) {
    let r = load(bug);
    assert!(
        BUNDLED.iter().any(|b| b.0 == r.scenario) && r.rtl.is_none(),
        "{bug}: a fixture replays a bundled scenario on the bundled RTL"
    );
    assert_eq!(
        (r.expect.invariant, r.expect.vcpu, r.expect.vector),
        (invariant, vcpu, vector),
        "{bug}: the verdict recorded in the file; {REGENERATE}"
    );
    let out = r.run().unwrap();
    match &out.verdict {
        Verdict::Violated(v) => assert!(
            r.expect.matches(v),
            "{bug}: replay gave {v}, the file records {}; {REGENERATE}",
            r.expect
        ),
        other => panic!(
            "{bug}: replay gave {other:?}, expected {}; {REGENERATE}",
            r.expect
        ),
    }
    mechanism(bug, &out);
    // The same file through the binary: exit 1, the violation reproduced.
    let o = cosim(&["replay", path(bug).to_str().unwrap()]);
    let stdout = text(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{bug}: {stdout}{}",
        text(&o.stderr)
    );
    assert!(
        stdout.contains(&format!("reproduced: {}", r.expect)),
        "{stdout}"
    );
}

/// Every file of `tb/fixtures/` has a case above and an entry in the Makefile's `FIXTURES`
/// (which wrote it, from the scenario, hardware and KVM the file records), and every entry a
/// file.
#[test]
fn every_fixture_file_has_a_case_and_a_makefile_entry() {
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    for f in &files {
        assert!(
            f.ends_with(".replay"),
            "tb/fixtures/{f}: only BUG.replay files belong here"
        );
    }
    let src = include_str!("fixtures.rs");
    let cases: Vec<&str> = src
        .lines()
        .filter_map(|l| l.strip_prefix("#[case::"))
        .map(|l| l.split('"').nth(1).unwrap())
        .collect();
    let mut entries = makefile_entries();
    entries.sort();
    let stems: Vec<String> = files
        .iter()
        .map(|f| f.trim_end_matches(".replay").to_string())
        .collect();
    let mut sorted_cases: Vec<String> = cases.iter().map(|c| c.to_string()).collect();
    sorted_cases.sort();
    assert_eq!(
        stems, sorted_cases,
        "tb/fixtures/*.replay against the cases of tb/fixtures.rs"
    );
    let listed: Vec<String> = entries.iter().map(|e| e[0].clone()).collect();
    assert_eq!(
        stems, listed,
        "tb/fixtures/*.replay against the Makefile's FIXTURES"
    );
    for [bug, scenario, hw, kvm] in &entries {
        let r = load(bug);
        assert_eq!(
            (
                r.scenario.clone(),
                r.hw.name.to_string(),
                r.kvm.name.to_string()
            ),
            (scenario.clone(), hw.clone(), kvm.clone()),
            "{bug}: the file against its Makefile entry; {REGENERATE}"
        );
    }
}

/// A fixture whose scenario changed since `make fixtures` wrote it is an error that says to
/// regenerate, not a replay of something else.
#[test]
fn a_changed_scenario_says_to_run_make_fixtures() {
    let name = "b1-reemulation-duplicate";
    let good = std::fs::read_to_string(path(name)).unwrap();
    let sha = good
        .lines()
        .find_map(|l| l.strip_prefix("scenario_sha256 = "))
        .unwrap()
        .trim_matches('"');
    let stale = good.replace(sha, &"0".repeat(64));
    let e = parse(name, &stale).unwrap_err();
    assert!(e.contains("changed since the replay was written"), "{e}");
    assert!(e.contains("run `make fixtures` and review"), "{e}");
    assert!(parse(name, &good).is_ok());
}
