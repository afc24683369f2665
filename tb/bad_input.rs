//! Bad scenario files: each row of the README's table is a case here, asserting the exact
//! message (file, line, column, what was expected). And thousands of mangled files: no panic.

use avic_cosim::scenario::{load, parse, ScenarioError};
use rstest::rstest;

const SEED: &str = include_str!("../scenarios/seed.toml");

fn message(text: &str) -> String {
    parse(text, "s.toml")
        .expect_err("must be rejected")
        .to_string()
}

/// (what is wrong, how the seed is changed, the start of the message)
#[rstest]
#[case::syntax("TOML syntax", ("name = \"seed\"", "name = \"seed"), "s.toml:7:13: invalid basic string")]
#[case::unknown_field("unknown field", ("timer = true", "timer = true\ncolour = 3"), "s.toml:22:1: unknown field `colour`, expected one of `program`, `timer`")]
#[case::wrong_type("wrong type", ("timer = true", "timer = \"yes\""), "s.toml:21:9: invalid type: string \"yes\", expected a boolean")]
#[case::version("unsupported version", ("version = 1", "version = 7"), "s.toml:6:11: unsupported scenario version 7; this build reads version 1")]
#[case::hw_variant("unknown hardware variant", ("variant = \"apm\"", "variant = \"fast\""), "s.toml:11:11: unknown hardware variant `fast`, expected one of: apm, split-irr")]
#[case::kvm_variant("unknown KVM variant", ("variant = \"V3\"", "variant = \"V6\""), "s.toml:14:11: unknown KVM variant `V6`, expected one of: V0, V1, V1b, V2, V3, V3-fast, V4, V5")]
#[case::knob("unknown knob", ("variant = \"V3\"", "variant = \"V3\"\nknobs = [\"no-mb\"]"), "s.toml:15:9: unknown knob `no-mb`, expected one of: running-on-load")]
#[case::vector_range("vector out of range", ("vector = 0x40", "vector = 0x140"), "s.toml:17:36: invalid value: integer `320`, expected u8")]
#[case::step("unknown program step", ("program = [\"halt\"]", "program = [\"sleep\"]"), "s.toml:20:11: unknown step `sleep`")]
#[case::shorthand("unknown shorthand", ("dest = 1 }", "dest = 1, shorthand = \"others\" }"), "s.toml:17:11: unknown shorthand `others`, expected one of: none, self, all, all-but-self")]
#[case::bound("bound out of range", ("bound = 2", "bound = 9"), "s.toml:26:9: bound must be in 0..=6, found 9")]
#[case::cpu_taken("host CPU taken twice", ("timer = true", "timer = true\ncpu = 0"), "s.toml:22:7: vCPU 1: cpu = 0: host CPU 0 is already vCPU 0's")]
#[case::cpu_range("host CPU out of range", ("timer = true", "timer = true\nmigrate_to = 7"), "s.toml:22:14: vCPU 1: migrate_to must be a host CPU in 0..=3, found 7")]
#[case::check("a [check] table", ("bound = 2", "bound = 2\n\n[check]\ninvariants = [\"no-lost-ipi\"]"), "s.toml:28:2: `[check]` is not a scenario table: every run judges every invariant (docs/oracles.md); remove it")]
#[case::missing("missing section", ("[kvm]\nvariant = \"V3\"\n", ""), "s.toml:1:1: missing field `kvm`")]
fn bad_scenario_files_get_a_precise_message(
    #[case] _what: &str,
    #[case] edit: (&str, &str),
    #[case] want: &str,
) {
    assert!(SEED.contains(edit.0), "the seed no longer has `{}`", edit.0);
    let msg = message(&SEED.replacen(edit.0, edit.1, 1));
    assert!(msg.starts_with(want), "got: {msg}\nwant: {want}...");
}

/// `[check] invariants` was parsed and never read: in any spelling it is an error at its line,
/// not a silent promise that only some invariants are judged.
#[rstest]
#[case::table("\n[check]\ninvariants = [\"no-lost-ipi\"]\n", false, 28, 2)]
#[case::empty_table("\n[check]\n", false, 28, 2)]
#[case::dotted_key("check.invariants = [\"no-lost-ipi\"]\n", true, 1, 1)]
#[case::inline("check = { invariants = [] }\n", true, 1, 1)]
fn a_check_table_is_an_error_at_its_line(
    #[case] check: &str,
    #[case] top_level_key: bool,
    #[case] line: usize,
    #[case] column: usize,
) {
    // A top-level key goes before the first table header; a table after the file.
    let text = if top_level_key {
        format!("{check}{SEED}")
    } else {
        format!("{SEED}{check}")
    };
    assert_eq!(
        message(&text),
        format!(
            "s.toml:{line}:{column}: `[check]` is not a scenario table: every run judges every \
             invariant (docs/oracles.md); remove it"
        )
    );
    // The same file without it loads.
    assert!(parse(&text.replace(check, ""), "s.toml").is_ok());
}

#[test]
fn too_many_vcpus_is_refused_with_the_limit() {
    let text = format!("{SEED}{}", "\n[[vcpu]]\nprogram = [\"halt\"]\n".repeat(3));
    assert_eq!(
        message(&text),
        "s.toml: [[vcpu]]: 1 to 4 vCPUs (one per RTL core, [hardware] cores = 4), found 5"
    );
    // The limit is the scenario's core count.
    let two = text.replacen("[hardware]\n", "[hardware]\ncores = 2\n", 1);
    assert!(
        two.contains("cores = 2"),
        "the seed has a [hardware] section"
    );
    assert_eq!(
        message(&two),
        "s.toml: [[vcpu]]: 1 to 2 vCPUs (one per RTL core, [hardware] cores = 2), found 5"
    );
}

#[test]
fn a_core_count_out_of_range_names_its_line() {
    for bad in ["0", "9"] {
        let text = SEED.replacen("[hardware]\n", &format!("[hardware]\ncores = {bad}\n"), 1);
        let line = text.lines().position(|l| l.starts_with("cores =")).unwrap() + 1;
        assert_eq!(
            message(&text),
            format!("s.toml:{line}:9: [hardware] cores: 1 to 8, found {bad}")
        );
    }
}

#[test]
fn too_long_a_program_is_refused() {
    let text = SEED.replacen(
        "program = [\"halt\"]",
        &format!("program = [{}]", ["\"halt\""; 9].join(", ")),
        1,
    );
    assert_eq!(
        message(&text),
        "s.toml:20:11: a program has at most 8 steps, found 9"
    );
}

#[test]
fn a_missing_file_names_the_path() {
    let e = load(std::path::Path::new("/nonexistent/x.toml")).unwrap_err();
    assert!(matches!(e, ScenarioError::Io { .. }));
    assert!(e.to_string().starts_with("/nonexistent/x.toml: "), "{e}");
}

/// splitmix64, as the world uses.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn mangled_scenario_files_never_panic() {
    // 5000 mutants of every bundled scenario: byte flips, deletions, duplications, truncations,
    // and tokens spliced in. Each must parse or be rejected with a located message.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let tokens: [&[u8]; 10] = [
        b"[[vcpu]]\n",
        b"= ",
        b"\"",
        b"{",
        b"}",
        b"0x",
        b"99999999999",
        b"-1",
        b"[",
        b"\n",
    ];
    let mut state = 42u64;
    let mut rejected = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let original = std::fs::read(entry.unwrap().path()).unwrap();
        for _ in 0..5000 {
            let mut t = original.clone();
            for _ in 0..=(next(&mut state) % 4) {
                let at = (next(&mut state) as usize) % (t.len() + 1);
                match next(&mut state) % 5 {
                    0 if at < t.len() => t[at] = (next(&mut state) % 128) as u8,
                    1 if at < t.len() => {
                        t.remove(at);
                    }
                    2 => t.truncate(at),
                    3 => {
                        let tok = tokens[(next(&mut state) % tokens.len() as u64) as usize];
                        t.splice(at..at, tok.iter().copied());
                    }
                    _ => {
                        let b = t.get(at).copied().unwrap_or(b'\n');
                        t.insert(at, b);
                    }
                }
            }
            let text = String::from_utf8_lossy(&t);
            if let Err(e) = parse(&text, "m.toml") {
                rejected += 1;
                let m = e.to_string();
                assert!(m.starts_with("m.toml"), "{m}");
            }
        }
    }
    assert!(
        rejected > 10_000,
        "the mutants must mostly be invalid: {rejected}"
    );
}

/// A scenario whose core count is not the model's is refused before the first cycle, naming
/// both counts (the bundled build has the RTL's default `NumCores`).
#[test]
fn a_scenario_with_another_core_count_than_the_model_is_refused() {
    use avic_cosim::dut::DEFAULT_CORES;
    use avic_cosim::ffi::ModelKind;
    use avic_cosim::kvm::KvmVariant;
    use avic_cosim::scenario::{apm, Scenario};
    use avic_cosim::sim::World;
    assert_eq!(avic_cosim::ffi::num_cores(), DEFAULT_CORES);
    let sc = Scenario::seed(KvmVariant::V4, apm()).with_cores(8);
    let err = World::new(&sc, ModelKind::Plain).err().expect("refused");
    assert!(
        err.to_string()
            .contains(&format!("8 cores but the model {DEFAULT_CORES}")),
        "{err}"
    );
    // Fewer cores than vCPUs: refused by the scenario's own check.
    let err = World::new(&sc.with_cores(1), ModelKind::Plain)
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("2 vCPUs: the RTL has 1 cores"),
        "{err}"
    );
}
