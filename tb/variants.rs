//! The registry of hardware orderings, KVM generations and knobs: `GENERATION+KNOB...` on
//! every command and in scenario files, errors naming the bad part.

use avic_cosim::report::{kvm_row, parse_kvm};
use avic_cosim::scenario::parse;

#[path = "common/cli.rs"]
mod cli;
use cli::{cosim, text};

const SEED: &str = include_str!("../scenarios/seed.toml");

#[test]
fn composed_kvm_in_a_scenario_file() {
    let f = parse(
        &SEED.replace(
            "variant = \"V3\"",
            "variant = \"V4+no-wake-up-mb\"\nknobs = [\"no-enter-mb\"]",
        ),
        "s.toml",
    )
    .unwrap();
    let want = parse_kvm("V4+no-wake-up-mb+no-enter-mb").unwrap();
    assert_eq!(
        (f.scenario.kvm.variant, f.scenario.kvm.knobs),
        (want.variant, want.knobs)
    );
    let e = parse(
        &SEED.replace("variant = \"V3\"", "variant = \"V4+no-mb\""),
        "s.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with(
            "s.toml:14:11: `V4+no-mb`: unknown knob `no-mb`, expected one of: running-on-load"
        ),
        "{e}"
    );
    assert_eq!(
        kvm_row("V4+no-block-fences").unwrap().name,
        "V4-no-block-fences"
    );
}

/// `--kvm V4+no-wake-up-mb` on matrix, run, explore, replay and minimize.
#[test]
fn composed_kvm_on_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let rd = dir.path().join("r");
    let rd = rd.to_str().unwrap();
    let m = cosim(&[
        "matrix",
        "--hw",
        "stale",
        "--kvm",
        "V4+no-wake-up-mb,V5+no-sleep-put",
        "--seeds",
        "40",
        "--bound",
        "1",
        "--no-wave",
        "--replay-dir",
        rd,
        "-q",
    ]);
    let out = text(&m.stdout);
    assert_eq!(m.status.code(), Some(1), "{out}{}", text(&m.stderr));
    // A composition equal to a row is the row.
    assert!(
        out.lines()
            .any(|l| l.starts_with("stale") && l.contains(" V4-no-wake-up-mb ")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("stale") && l.contains(" V5+no-sleep-put ")),
        "{out}"
    );
    let r = cosim(&["run", "seed", "--kvm", "V4+no-wake-up-mb"]);
    assert!(text(&r.stdout).contains("verdict: "), "{}", text(&r.stderr));
    let e = cosim(&[
        "explore",
        "--hw",
        "stale",
        "--kvm",
        "V4+no-wake-up-mb",
        "--seeds",
        "40",
        "--bound",
        "1",
        "--replay-dir",
        rd,
        "-q",
    ]);
    assert_eq!(e.status.code(), Some(1), "{}", text(&e.stdout));
    let file = dir.path().join("r/seed-stale-V4-no-wake-up-mb.replay");
    let f = file.to_str().unwrap();
    // Replaying on another configuration: the same schedule, judged there.
    let p = cosim(&["replay", f, "--kvm", "V4+no-wake-up-mb"]);
    assert_eq!(p.status.code(), Some(1), "{}", text(&p.stdout));
    let p = cosim(&["replay", f, "--hw", "apm", "--kvm", "V5+no-sleep-put"]);
    assert!(
        text(&p.stdout).contains("hw apm, kvm V5+no-sleep-put"),
        "{}",
        text(&p.stdout)
    );
    let min = dir.path().join("min.replay");
    let n = cosim(&[
        "minimize",
        f,
        "--kvm",
        "V4+no-wake-up-mb",
        "--out",
        min.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(n.status.code(), Some(0), "{}", text(&n.stderr));
    // Unknown parts: usage error naming the part and the valid ones.
    let bad = cosim(&["run", "--kvm", "V4+no-wakeup-mb"]);
    let err = text(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unknown knob `no-wakeup-mb`, expected one of: running-on-load"),
        "{err}"
    );
    let bad = cosim(&["matrix", "--kvm", "V7+no-enter-mb"]);
    assert!(text(&bad.stderr).contains("unknown KVM variant `V7`, expected one of: V0"));
}
