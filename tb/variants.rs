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
    // run names the cell it ran: the composition, called by its row's name, was applied.
    for (kvm, named) in [
        ("V4+no-wake-up-mb", "V4-no-wake-up-mb"),
        ("V5+no-sleep-put", "V5+no-sleep-put"),
    ] {
        let r = cosim(&["run", "seed", "--kvm", kvm]);
        let out = text(&r.stdout);
        assert!(
            out.starts_with(&format!(
                "run: scenario seed, hw apm, kvm {named}, the default order\n"
            )),
            "{out}{}",
            text(&r.stderr)
        );
        assert!(out.contains("verdict: "), "{out}");
    }
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
    let body = std::fs::read_to_string(&file).unwrap();
    assert!(
        body.contains("variant = \"V4\"\nknobs = [\"no-wake-up-mb\"]"),
        "{body}"
    );
    // The same schedule recorded as plain V4: `--kvm V4+no-wake-up-mb` brings the knob back,
    // and the violation with it.
    let plain = dir.path().join("plain.replay");
    let body_v4 = body
        .replace("name = \"V4-no-wake-up-mb\"", "name = \"V4\"")
        .replace("knobs = [\"no-wake-up-mb\"]", "knobs = []");
    assert_ne!(body_v4, body);
    std::fs::write(&plain, &body_v4).unwrap();
    let pl = plain.to_str().unwrap();
    let p = cosim(&["replay", pl]);
    assert!(
        text(&p.stdout).contains("hw stale, kvm V4, "),
        "{}",
        text(&p.stdout)
    );
    let p = cosim(&["replay", pl, "--kvm", "V4+no-wake-up-mb"]);
    let pout = text(&p.stdout);
    assert_eq!(p.status.code(), Some(1), "{pout}");
    assert!(pout.contains("hw stale, kvm V4-no-wake-up-mb, "), "{pout}");
    assert!(pout.contains("reproduced: "), "{pout}");
    // Replaying on another configuration: the same schedule, judged there.
    let p = cosim(&["replay", f, "--hw", "apm", "--kvm", "V5+no-sleep-put"]);
    assert!(
        text(&p.stdout).contains("hw apm, kvm V5+no-sleep-put"),
        "{}",
        text(&p.stdout)
    );
    let min = dir.path().join("min.replay");
    let n = cosim(&[
        "minimize",
        pl,
        "--kvm",
        "V4+no-wake-up-mb",
        "--out",
        min.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(n.status.code(), Some(0), "{}", text(&n.stderr));
    // The minimized file records the configuration it was minimized on, the knob included.
    let m = std::fs::read_to_string(&min).unwrap();
    assert!(
        m.contains("name = \"V4-no-wake-up-mb\"\nvariant = \"V4\"\nknobs = [\"no-wake-up-mb\"]"),
        "{m}"
    );
    assert_eq!(
        cosim(&["replay", min.to_str().unwrap()]).status.code(),
        Some(1)
    );
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
