//! Replay files as data (format 2): the format round-trips over generated values, format 1
//! files are still read, a changed scenario is reported, and a violation found with custom
//! `[hardware]` fields and composed knobs writes a replay file that replays through the CLI.

use avic_cosim::ffi::HwConfig;
use avic_cosim::kvm::{Knobs, KvmVariant};
use avic_cosim::oracle::Invariant;
use avic_cosim::replay::{Expect, Replay};
use avic_cosim::report::{hw_variant_of, kvm_row_of, load_scenario, BUNDLED};
use avic_cosim::scenario::variants::set_knob;
use avic_cosim::scenario::KNOBS;
use std::path::PathBuf;

#[path = "common/cli.rs"]
mod cli;
use cli::{cosim, text};

/// xorshift64*: enough randomness for generated values, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bit(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

/// A replay of generated values: any bundled scenario, any hardware fields, any generation
/// with any knobs, any ranks and expectation, with or without a user's RTL.
fn generated(r: &mut Rng) -> Replay {
    let (name, _, _) = BUNDLED[r.below(BUNDLED.len() as u64) as usize];
    let f = load_scenario(name).unwrap();
    let cfg = HwConfig {
        atomic_irr: r.bit(),
        isrun_order: r.below(3) as u8,
        stale_isrun: r.bit(),
        validate_first: r.bit(),
        latch_doorbell: r.bit(),
    };
    let variant = KvmVariant::ALL[r.below(KvmVariant::ALL.len() as u64) as usize];
    let mut knobs = Knobs::default();
    for k in KNOBS {
        if r.below(4) == 0 {
            set_knob(&mut knobs, k).unwrap();
        }
    }
    let ranks = (0..r.below(200)).map(|_| r.below(5) as u16).collect();
    let expect = Expect {
        invariant: Invariant::ALL[r.below(Invariant::ALL.len() as u64) as usize],
        vcpu: r.below(4) as u8,
        vector: r.below(256) as u8,
    };
    let rtl = r.bit().then(|| {
        (
            format!("top_{}", r.below(100)),
            PathBuf::from(format!("some dir/é {}/list.f", r.below(100))),
        )
    });
    Replay {
        scenario: name.to_string(),
        base: f.scenario,
        hw: hw_variant_of(cfg),
        kvm: kvm_row_of(variant, knobs),
        ranks,
        expect,
        rtl,
        scenario_sha256: Some(f.sha256),
    }
}

#[test]
fn format_2_round_trips_generated_replays() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..300 {
        let r = generated(&mut rng);
        let text = r.render();
        let back =
            Replay::parse("gen.replay", &text).unwrap_or_else(|e| panic!("case {i}: {e}\n{text}"));
        assert_eq!(back, r, "case {i}:\n{text}");
        assert_eq!(back.render(), text, "case {i}: rendering is stable");
    }
}

#[test]
fn format_1_files_are_still_read() {
    let v1 = "avic-cosim-replay 1\nscenario seed\nhw stale\nkvm V4-no-block-fences\n\
              ranks 0 0 3 1\nexpect no-lost-wakeup vcpu 1 vector 0x40\n";
    let r = Replay::parse("old.replay", v1).unwrap();
    assert_eq!((r.hw.name, r.kvm.name), ("stale", "V4-no-block-fences"));
    assert!(r.kvm.knobs.no_block_fences && r.hw.cfg.stale_isrun);
    assert_eq!(r.scenario_sha256, None);
    // Written again it is format 2, and reads back the same configuration.
    let v2 = Replay {
        scenario_sha256: load_scenario("seed").ok().map(|f| f.sha256),
        ..r.clone()
    };
    let back = Replay::parse("new.replay", &v2.render()).unwrap();
    assert_eq!((back.hw, back.kvm, back.ranks), (r.hw, r.kvm, r.ranks));
}

#[test]
fn a_changed_scenario_is_reported_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    let seed = BUNDLED[0].2;
    std::fs::write(&path, seed).unwrap();
    let spec = path.to_str().unwrap();
    let f = load_scenario(spec).unwrap();
    let r = Replay {
        scenario: spec.to_string(),
        base: f.scenario.clone(),
        hw: hw_variant_of(f.scenario.hw),
        kvm: kvm_row_of(KvmVariant::V4, Knobs::default()),
        ranks: vec![1, 0, 2],
        expect: Expect {
            invariant: Invariant::LostWakeup,
            vcpu: 1,
            vector: 0x40,
        },
        rtl: None,
        scenario_sha256: Some(f.sha256),
    };
    let text = r.render();
    assert_eq!(Replay::parse("r.replay", &text), Ok(r));
    std::fs::write(&path, seed.replace("bound = 2", "bound = 1")).unwrap();
    let e = Replay::parse("r.replay", &text).unwrap_err();
    assert_eq!(e.field, "scenario_sha256");
    assert!(
        e.to_string().contains(&format!(
            "scenario `{spec}` changed since the replay was written"
        )),
        "{e}"
    );
}

#[test]
fn bad_values_name_line_and_field() {
    let mut rng = Rng(7);
    let text = generated(&mut rng).render();
    // (edit, field, the edited line's text)
    for (from, to, field, at) in [
        ("[kvm]\n", "[kvm]\nflavour = 1\n", "flavour", "flavour = 1"),
        (
            "invariant = \"",
            "invariant = \"x",
            "expect.invariant",
            "invariant = \"x",
        ),
        ("version = 2", "version = 3", "version", "version = 3"),
    ] {
        let bad = text.replacen(from, to, 1);
        let e = Replay::parse("f", &bad).unwrap_err();
        assert_eq!(e.field, field, "{e}");
        let line = bad.lines().position(|l| l.starts_with(at)).unwrap() + 1;
        assert_eq!(e.line, line, "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("f:{line}: field `{field}`: ")),
            "{e}"
        );
    }
}

/// Custom `[hardware]` fields (no registry row) and a composed KVM: `explore` writes a replay
/// file that `replay` reproduces and `minimize` keeps reproducing.
#[test]
fn a_custom_hardware_violation_writes_a_replay_file_that_replays() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("custom.toml");
    let seed = BUNDLED[0].2;
    assert!(seed.contains("variant = \"apm\"\n"));
    std::fs::write(
        &scenario,
        seed.replace(
            "variant = \"apm\"\n",
            "variant = \"apm\"\nstale_isrun = true\nisrun_order = \"in-flight\"\n",
        ),
    )
    .unwrap();
    let rd = dir.path().join("r");
    let o = cosim(&[
        "explore",
        scenario.to_str().unwrap(),
        "--kvm",
        "V4+no-enter-mb+no-wake-up-mb",
        "--replay-dir",
        rd.to_str().unwrap(),
        "-q",
    ]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
    let file = rd.join("seed-custom-V4+no-wake-up-mb+no-enter-mb.replay");
    assert!(
        out.contains(&format!("replay file: {}", file.display())),
        "{out}"
    );
    let body = std::fs::read_to_string(&file).unwrap();
    assert!(body.contains("name = \"custom\"\n"), "{body}");
    assert!(
        body.contains("isrun_order = \"in-flight\"\nstale_isrun = true\n"),
        "{body}"
    );
    assert!(
        body.contains("knobs = [\"no-wake-up-mb\", \"no-enter-mb\"]"),
        "{body}"
    );
    let r = cosim(&["replay", file.to_str().unwrap()]);
    let rout = text(&r.stdout);
    assert_eq!(r.status.code(), Some(1), "{rout}{}", text(&r.stderr));
    assert!(rout.contains("reproduced: no-lost-wakeup"), "{rout}");
    assert!(
        rout.contains("hw custom, kvm V4+no-wake-up-mb+no-enter-mb"),
        "{rout}"
    );
    let min = dir.path().join("min.replay");
    let m = cosim(&[
        "minimize",
        file.to_str().unwrap(),
        "--out",
        min.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(m.status.code(), Some(0), "{}", text(&m.stderr));
    assert_eq!(
        cosim(&["replay", min.to_str().unwrap()]).status.code(),
        Some(1)
    );
    // The scenario edited after the fact: reported, exit 2, not replayed.
    std::fs::write(
        &scenario,
        std::fs::read_to_string(&scenario).unwrap() + "\n# edited\n",
    )
    .unwrap();
    let r = cosim(&["replay", file.to_str().unwrap()]);
    let err = text(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(
        err.contains("changed since the replay was written"),
        "{err}"
    );
}
