//! The `avic-cosim` binary end to end: the verdict matrix on a small subset, its JSON and
//! JUnit reports, replay files (reproduced, not reproduced, malformed), usage errors, and the
//! demo.

use std::path::Path;
use std::process::{Command, Output};

fn cosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avic-cosim"))
        .args(args)
        .output()
        .expect("run avic-cosim")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The table line of cell (hw, kvm).
fn line<'a>(stdout: &'a str, hw: &str, kvm: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| {
            let mut w = l.split_whitespace();
            w.next() == Some(hw) && w.next() == Some(kvm)
        })
        .unwrap_or_else(|| panic!("no line for {hw} {kvm} in\n{stdout}"))
}

/// `matrix --dpor` reaches the verdicts of the enumeration, completes where it holds with
/// fewer schedules, and reports what it pruned; its replay files replay.
#[test]
fn matrix_with_dpor_has_the_verdicts_of_the_enumeration() {
    let dir = tempfile::tempdir().unwrap();
    let run = |dpor: bool| {
        let json = dir.path().join(format!("m{dpor}.json"));
        let replays = dir.path().join(format!("r{dpor}"));
        let mut args = vec![
            "matrix",
            "--hw",
            "apm,in-flight",
            "--kvm",
            "V1,V3,V4",
            "--seeds",
            "0",
            "--no-wave",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
            "--replay-dir",
            replays.to_str().unwrap(),
        ];
        if dpor {
            args.push("--dpor");
        }
        let o = cosim(&args);
        assert_eq!(code(&o), 1, "{}{}", text(&o.stdout), text(&o.stderr));
        let j: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        (text(&o.stdout), j, replays)
    };
    let (table, with, replays) = run(true);
    let (_, without, _) = run(false);
    assert_eq!(with["budget"]["dpor"], true);
    assert_eq!(without["budget"]["dpor"], false);
    let (a, b) = (
        with["cells"].as_array().unwrap(),
        without["cells"].as_array().unwrap(),
    );
    assert_eq!(a.len(), 6);
    for (x, y) in a.iter().zip(b) {
        assert_eq!((&x["hw"], &x["kvm"]), (&y["hw"], &y["kvm"]));
        assert_eq!(x["verdict"], y["verdict"], "{x}");
        assert_eq!(x["violation"]["invariant"], y["violation"]["invariant"]);
        assert!(x["dpor_pruned"].as_u64().is_some() && y["dpor_pruned"].is_null());
        if x["verdict"] == "holds" {
            assert_eq!(x["complete"], true);
            assert!(x["exhaustive_runs"].as_u64() < y["exhaustive_runs"].as_u64());
        }
    }
    let l = line(&table, "apm", "V4");
    assert!(
        l.contains("DPOR complete, bound 2,") && l.contains("pruned"),
        "{l}"
    );
    let files: Vec<_> = std::fs::read_dir(&replays)
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    // apm V1, in-flight V1, V3, V4. apm V3 holds within bound 2 since the sleep-time
    // kvm_sched_out clears IsRunning (issue 14; C2b needs bound 3 on the seed).
    assert_eq!(files.len(), 4, "{files:?}");
    for f in files {
        let o = cosim(&["replay", f.to_str().unwrap()]);
        assert_eq!(code(&o), 1, "{}", text(&o.stdout));
    }
}

#[test]
fn matrix_subset_reports_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("m.json");
    let junit = dir.path().join("m.xml");
    let replays = dir.path().join("replays");
    let o = cosim(&[
        "matrix",
        "--hw",
        "apm,stale",
        "--kvm",
        "V1,V4",
        "--seeds",
        "100",
        "--json",
        json.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--replay-dir",
        replays.to_str().unwrap(),
    ]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 1, "{out}{}", text(&o.stderr));

    // The table: V1 duplicates on APM hardware, APM + V4 holds, stale hardware loses the
    // wake-up (under V1 too, which of its two bugs comes first is up to the search).
    let l = line(&out, "apm", "V1");
    assert!(
        l.contains("VIOLATED") && l.contains("no-duplicate-ipi vCPU 1 vector 0x40"),
        "{l}"
    );
    assert!(line(&out, "stale", "V1").contains("VIOLATED"));
    let l = line(&out, "stale", "V4");
    assert!(
        l.contains("VIOLATED") && l.contains("no-lost-wakeup vCPU 1 vector 0x40"),
        "{l}"
    );
    let l = line(&out, "apm", "V4");
    assert!(
        l.contains("holds") && l.contains("complete, bound 2"),
        "{l}"
    );

    // JSON: four cells with per-invariant verdicts.
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("valid JSON");
    assert_eq!(j["format"], "avic-cosim-matrix");
    assert_eq!(j["scenario"], "seed");
    assert_eq!(j["budget"]["pct_seeds"], 100);
    let cells = j["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4);
    assert_eq!(j["violated"], 3);
    let cell = |hw: &str, kvm: &str| {
        cells
            .iter()
            .find(|c| c["hw"] == hw && c["kvm"] == kvm)
            .unwrap_or_else(|| panic!("no cell {hw} {kvm}"))
    };
    let c = cell("apm", "V4");
    assert_eq!(c["verdict"], "holds");
    assert_eq!(c["complete"], true);
    assert!(c["schedules"].as_u64().unwrap() > 1000);
    for inv in [
        "no-lost-ipi",
        "no-duplicate-ipi",
        "no-lost-wakeup",
        "exit-info-protocol",
    ] {
        assert_eq!(c["invariants"][inv], "holds");
    }
    let c = cell("stale", "V4");
    assert_eq!(c["verdict"], "violated");
    assert_eq!(c["invariants"]["no-lost-wakeup"], "violated");
    assert_eq!(c["violation"]["invariant"], "no-lost-wakeup");
    assert_eq!(c["violation"]["vcpu"], 1);
    assert_eq!(c["violation"]["vector"], 0x40);
    let c = cell("apm", "V1");
    assert_eq!(c["invariants"]["no-duplicate-ipi"], "violated");

    // JUnit: one suite, four cases, three failures, escaped and well nested.
    let x = std::fs::read_to_string(&junit).unwrap();
    assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
    assert!(x.contains("tests=\"4\" failures=\"3\" errors=\"0\""), "{x}");
    assert_eq!(x.matches("<testsuite ").count(), 1);
    assert_eq!(x.matches("<testcase ").count(), 4);
    assert_eq!(x.matches("</testcase>").count(), 4);
    assert_eq!(x.matches("<failure ").count(), 3);
    assert!(x.trim_end().ends_with("</testsuites>"));
    let case = |hw: &str, kvm: &str| {
        let start = x
            .find(&format!("<testcase classname=\"{hw}\" name=\"{kvm}\""))
            .unwrap_or_else(|| panic!("no testcase {hw} {kvm}"));
        &x[start..start + x[start..].find("</testcase>").unwrap()]
    };
    assert!(!case("apm", "V4").contains("<failure"));
    assert!(case("stale", "V4").contains(
        "<failure message=\"no-lost-wakeup vCPU 1 vector 0x40\" type=\"no-lost-wakeup\">"
    ));
    assert!(case("apm", "V1").contains("type=\"no-duplicate-ipi\""));
    // No raw markup inside the failure texts.
    for body in x.split("<failure ").skip(1) {
        let text = &body[body.find('>').unwrap() + 1..body.find("</failure>").unwrap()];
        assert!(!text.contains('<') && !text.contains('>'), "{text}");
    }

    // Replay files: one per violation, each reproduces its violation.
    let mut files: Vec<_> = std::fs::read_dir(&replays)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "replay"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    // A waveform and its GTKWave save file beside each replay file.
    for f in &files {
        assert!(f.with_extension("fst").is_file(), "{}", f.display());
        let gtkw = std::fs::read_to_string(f.with_extension("gtkw")).unwrap();
        assert!(gtkw.contains(".fst"), "the save file names its trace");
    }
    let stale_v4 = replays.join("seed-stale-V4.replay");
    let body = std::fs::read_to_string(&stale_v4).unwrap();
    // Format 2: the configuration as data (hardware fields, generation and knobs), the
    // scenario's hash.
    assert!(
        body.contains("\nversion = 2\nscenario = \"seed\"\nscenario_sha256 = \""),
        "{body}"
    );
    assert!(body.contains("\n[hardware]\nname = \"stale\"\natomic_irr = true\nisrun_order = \"after-ack\"\nstale_isrun = true\n"), "{body}");
    assert!(
        body.contains("\n[kvm]\nname = \"V4\"\nvariant = \"V4\"\nknobs = []\n"),
        "{body}"
    );
    assert!(
        body.contains("\n[expect]\ninvariant = \"no-lost-wakeup\"\nvcpu = 1\nvector = 64\n"),
        "{body}"
    );
    for f in &files {
        let o = cosim(&["replay", f.to_str().unwrap()]);
        let out = text(&o.stdout);
        assert_eq!(code(&o), 1, "{}: {out}{}", f.display(), text(&o.stderr));
        assert!(out.contains("reproduced: "), "{out}");
    }
    let o = cosim(&["replay", stale_v4.to_str().unwrap()]);
    let out = text(&o.stdout);
    assert!(
        out.contains("reproduced: no-lost-wakeup vCPU 1 vector 0x40"),
        "{out}"
    );
    assert!(out.contains("last 30 of "), "{out}");
    assert!(out.contains("DoorbellDropped"), "{out}");

    // The same schedule on V4 does not take the IPI twice: not reproduced, exit 3.
    let apm_v1 = replays.join("seed-apm-V1.replay");
    let moved = dir.path().join("apm-v4.replay");
    std::fs::write(
        &moved,
        std::fs::read_to_string(&apm_v1)
            .unwrap()
            .replace("variant = \"V1\"", "variant = \"V4\""),
    )
    .unwrap();
    let o = cosim(&["replay", moved.to_str().unwrap()]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 3, "{out}");
    assert!(
        out.contains("NOT REPRODUCED: expected no-duplicate-ipi"),
        "{out}"
    );

    // A typo in a field value: exit 2, file:line and the field named.
    let bad = dir.path().join("typo.replay");
    std::fs::write(&bad, body.replace("\"after-ack\"", "\"afterack\"")).unwrap();
    let o = cosim(&["replay", bad.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert_eq!(code(&o), 2, "{err}");
    assert!(
        err.contains(&format!(
            "{}:11: field `hardware.isrun_order`",
            bad.display()
        )),
        "{err}"
    );
    assert!(err.contains("afterack"), "{err}");
}

#[test]
fn malformed_replay_files_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let good = "avic-cosim-replay 1\nscenario seed\nhw apm\nkvm V4\nranks 0 1 2\n\
                expect no-lost-wakeup vcpu 1 vector 0x40\n";
    for (name, body, at) in [
        (
            "key.replay",
            good.replace("ranks", "rankz"),
            ":5: field `rankz`",
        ),
        (
            "rank.replay",
            good.replace("0 1 2", "0 -1 2"),
            ":5: field `ranks`",
        ),
        (
            "inv.replay",
            good.replace("no-lost-wakeup", "no-lost-wakup"),
            ":6: field `expect`",
        ),
        (
            "header.replay",
            good.replace("replay 1", "replay 2"),
            ":1: field `header`",
        ),
        (
            "missing.replay",
            good.replace("kvm V4\n", ""),
            ":6: field `kvm`: missing",
        ),
    ] {
        let p = write(name, &body);
        let o = cosim(&["replay", p.to_str().unwrap()]);
        let err = text(&o.stderr);
        assert_eq!(code(&o), 2, "{name}: {err}");
        assert!(
            err.contains(&format!("{}{at}", p.display())),
            "{name}: {err}"
        );
    }
    let o = cosim(&["replay", dir.path().join("absent").to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("absent"));
}

#[test]
fn usage_errors_exit_2_naming_the_flag() {
    for (args, flag) in [
        (&["matrix", "--hw", "apm,bogus"][..], "--hw"),
        (&["matrix", "--kvm", "V9"][..], "--kvm"),
        (&["matrix", "--bound", "two"][..], "--bound"),
        (&["matrix", "--scenario", "nope"][..], "--scenario"),
        (&["matrix", "--frobnicate"][..], "--frobnicate"),
        (&["demo", "--wave", "x.txt"][..], "--wave"),
    ] {
        let o = cosim(args);
        let err = text(&o.stderr);
        assert_eq!(code(&o), 2, "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    let o = cosim(&["matrix", "--hw", "bogus"]);
    assert!(text(&o.stderr).contains("unknown hardware variant `bogus`"));
    let o = cosim(&["--help"]);
    assert_eq!(code(&o), 0);
    assert!(text(&o.stdout).contains("matrix"));
}

#[test]
fn apm_hardware_with_v4_holds_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let replays = dir.path().join("r");
    let o = cosim(&[
        "matrix",
        "--kvm",
        "V4",
        "--hw",
        "apm",
        "--replay-dir",
        replays.to_str().unwrap(),
    ]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 0, "{out}{}", text(&o.stderr));
    assert!(line(&out, "apm", "V4").contains("holds"));
    assert!(out.contains("1 cells, 0 violated"), "{out}");
    assert!(
        !Path::new(&replays).exists(),
        "no replay dir without violations"
    );
}

#[test]
fn a_scenario_file_runs_and_its_replays_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/seed.toml");
    let o = cosim(&[
        "matrix",
        "--scenario",
        file,
        "--hw",
        "apm",
        "--kvm",
        "V1",
        "--replay-dir",
        dir.path().to_str().unwrap(),
    ]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 1, "{out}{}", text(&o.stderr));
    assert!(
        line(&out, "apm", "V1").contains("no-duplicate-ipi"),
        "{out}"
    );
    let r = dir.path().join("seed-apm-V1.replay");
    let body = std::fs::read_to_string(&r).unwrap();
    assert!(
        body.contains(&format!("\nscenario = \"{file}\"\n")),
        "{body}"
    );
    let o = cosim(&["replay", r.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o.stdout));
}

#[test]
fn demo_still_runs() {
    for args in [&[][..], &["demo", "--hw", "in-flight"][..]] {
        let o = cosim(args);
        let out = text(&o.stdout);
        assert_eq!(code(&o), 0, "{args:?}: {}", text(&o.stderr));
        assert!(out.contains("#VMEXIT 0x401"), "{out}");
        assert!(out.contains("takes vector 0x41"), "{out}");
    }
}

/// `bounded exhaustive (bound 2, shard 0/2): N schedules, ...` -> N.
fn exhaustive_runs(stdout: &str) -> u64 {
    schedules_on(stdout, "bounded exhaustive")
}

/// `<start> (...): N schedules, ...` -> N, for the line beginning with `start`.
fn schedules_on(stdout: &str, start: &str) -> u64 {
    let l = stdout
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no `{start}` line in {stdout}"));
    l.split("): ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn explore_dpor_reports_its_counts_and_finds_the_reemulation_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let rd = dir.path().to_str().unwrap();
    let holds = cosim(&[
        "explore",
        "--kvm",
        "V4",
        "--seeds",
        "0",
        "--dpor",
        "--max-runs",
        "200",
    ]);
    assert_eq!(code(&holds), 0, "{}", text(&holds.stderr));
    let out = text(&holds.stdout);
    // The cap is checked between parallel batches of subtrees, so a batch may pass it.
    assert!(
        schedules_on(&out, "DPOR (bound 2, shard 0/1)") < 1000 && out.contains("partial"),
        "{out}"
    );
    assert!(out.contains("search partial"), "{out}");
    // Without a cap it completes within the seed's bound, in fewer schedules than the bounded
    // enumeration.
    let full = cosim(&["explore", "--kvm", "V4", "--seeds", "0", "--dpor"]);
    assert_eq!(code(&full), 0, "{}", text(&full.stderr));
    let out = text(&full.stdout);
    assert!(out.contains("past the bound, complete"), "{out}");
    assert!(out.contains("verdict: every invariant holds"), "{out}");
    let dpor_runs = schedules_on(&out, "DPOR");
    let enumerated = cosim(&["explore", "--kvm", "V4", "--seeds", "0"]);
    let all = exhaustive_runs(&text(&enumerated.stdout));
    assert!(dpor_runs < all, "{dpor_runs} DPOR schedules vs {all}");
    let dup = cosim(&[
        "explore",
        "--kvm",
        "V1",
        "--seeds",
        "0",
        "--dpor",
        "--max-runs",
        "20000",
        "--replay-dir",
        rd,
    ]);
    assert_eq!(code(&dup), 1, "{}", text(&dup.stdout));
    assert!(text(&dup.stdout).contains("verdict: no-duplicate-ipi violated"));
    // Shards of the DPOR search: each completes, and their schedules add up to the whole's.
    let parts: u64 = (0..3)
        .map(|i| {
            let o = cosim(&[
                "explore",
                "--kvm",
                "V4",
                "--seeds",
                "0",
                "--dpor",
                "--shard",
                &format!("{i}/3"),
            ]);
            assert_eq!(code(&o), 0, "{}", text(&o.stderr));
            let out = text(&o.stdout);
            assert!(out.contains("past the bound, complete"), "{out}");
            schedules_on(&out, "DPOR")
        })
        .sum();
    assert_eq!(parts, dpor_runs);
}

#[test]
fn explore_without_branching_reports_the_same_search() {
    let dir = tempfile::tempdir().unwrap();
    let rd = dir.path().to_str().unwrap();
    let args = [
        "explore",
        "--kvm",
        "V3",
        "--hw",
        "in-flight",
        "--seeds",
        "0",
        "--replay-dir",
        rd,
    ];
    let branch = cosim(&args);
    let replay = cosim(&[&args[..], &["--no-branching"]].concat());
    assert_eq!(code(&branch), code(&replay), "{}", text(&replay.stderr));
    // Everything but the line with the elapsed time.
    let summary = |o: &Output| {
        text(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with("explored "))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let out = summary(&branch);
    assert!(out.contains("bounded exhaustive"), "{out}");
    assert_eq!(out, summary(&replay));
    let both = cosim(&["explore", "--dpor", "--no-branching"]);
    assert_eq!(code(&both), 2);
}

#[test]
fn explore_shards_add_up_and_find_what_the_whole_finds() {
    let whole = cosim(&["explore", "--kvm", "V4", "--seeds", "20"]);
    assert_eq!(code(&whole), 0, "{}", text(&whole.stderr));
    let total = exhaustive_runs(&text(&whole.stdout));
    let parts: u64 = (0..2)
        .map(|i| {
            let o = cosim(&[
                "explore",
                "--kvm",
                "V4",
                "--seeds",
                "20",
                "--shard",
                &format!("{i}/2"),
            ]);
            assert_eq!(code(&o), 0);
            exhaustive_runs(&text(&o.stdout))
        })
        .sum();
    assert_eq!(parts, total);
    let dir = tempfile::tempdir().unwrap();
    let rd = dir.path().to_str().unwrap();
    let bad = cosim(&[
        "explore",
        "--kvm",
        "V4",
        "--hw",
        "stale",
        "--replay-dir",
        rd,
    ]);
    assert_eq!(code(&bad), 1);
    assert!(text(&bad.stdout).contains("verdict: no-lost-wakeup violated"));
    // The counterexample is minimized, saved as a replay file that reproduces it, and traced.
    let replay = dir.path().join("seed-stale-V4.replay");
    assert!(replay.with_extension("fst").is_file() && replay.with_extension("gtkw").is_file());
    let r = cosim(&["replay", replay.to_str().unwrap()]);
    assert_eq!(code(&r), 1, "{}", text(&r.stdout));
    let shard = cosim(&["explore", "--shard", "2/2"]);
    assert_eq!(code(&shard), 2);
    assert!(
        text(&shard.stderr).contains("--shard"),
        "{}",
        text(&shard.stderr)
    );
}

#[test]
fn run_writes_a_waveform_and_minimize_never_grows_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("sub/run.vcd");
    let o = cosim(&["run", "--kvm", "V4", "--wave", trace.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("verdict: every invariant holds"));
    assert!(trace.is_file() && trace.with_extension("gtkw").is_file());

    let replays = dir.path().join("r");
    let m = cosim(&[
        "matrix",
        "--hw",
        "in-flight",
        "--kvm",
        "V4",
        "--no-wave",
        "--replay-dir",
        replays.to_str().unwrap(),
    ]);
    assert_eq!(code(&m), 1);
    let file = replays.join("seed-in-flight-V4.replay");
    let min = dir.path().join("min.replay");
    let o = cosim(&[
        "minimize",
        file.to_str().unwrap(),
        "--out",
        min.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let devs = |p: &Path| {
        let t = std::fs::read_to_string(p).unwrap();
        let ranks = t
            .lines()
            .find(|l| l.starts_with("ranks"))
            .unwrap()
            .to_string();
        ranks
            .trim_start_matches("ranks = [")
            .trim_end_matches(']')
            .split(", ")
            .filter(|r| *r != "0")
            .count()
    };
    assert!(devs(&min) <= devs(&file));
    let r = cosim(&["replay", min.to_str().unwrap()]);
    assert_eq!(
        code(&r),
        1,
        "the minimized file still reproduces: {}",
        text(&r.stdout)
    );
}

#[test]
fn matrix_shards_partition_the_cells() {
    let dir = tempfile::tempdir().unwrap();
    let rd = dir.path().to_str().unwrap();
    let args = [
        "matrix",
        "--hw",
        "apm,stale",
        "--kvm",
        "V1,V4,V5",
        "--seeds",
        "60",
        "--bound",
        "1",
        "--no-wave",
        "--replay-dir",
        rd,
    ];
    let cells = |o: &Output| -> Vec<String> {
        text(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("apm ") || l.starts_with("stale "))
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .collect()
    };
    let whole = cosim(&args);
    let mut parts: Vec<String> = (0..2)
        .flat_map(|i| {
            let shard = format!("{i}/2");
            let mut a = args.to_vec();
            a.extend(["--shard", shard.as_str()]);
            cells(&cosim(&a))
        })
        .collect();
    let mut all = cells(&whole);
    assert_eq!(all.len(), 6);
    all.sort();
    parts.sort();
    assert_eq!(
        parts, all,
        "the shards' cells and verdicts are the whole matrix's"
    );
}
