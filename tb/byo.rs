//! Bring your own RTL (issue 7): a second implementation of the port contract, built at run
//! time from a file list, runs in place of the bundled RTL and gets the same checks.
//!
//! The second implementation is `tb/rtl/reordered_top.sv`: the bundled `avic_top` behind a
//! wrapper that reads IsRunning before the IRR update whatever `cfg_isrun_order_i` says (a
//! deliberately reordered sender). With APM configuration inputs the bundled RTL holds and the
//! reordered one loses the wake-up, so the verdict shows which RTL ran. Also: the cache (hits,
//! keys, concurrent builders in threads and processes), and every kind of bad RTL input as a
//! precise message with exit code 2 (the README's table).

use avic_cosim::dut::DutEvent;
use avic_cosim::explore::Search;
use avic_cosim::explore::{self, bounded_exhaustive, search};
use avic_cosim::ffi::HwConfig;
use avic_cosim::kvm::KvmVariant;
use avic_cosim::oracle::Invariant;
use avic_cosim::rtl::{Flavor, Rtl, RtlError, RtlOptions, UserRtl};
use avic_cosim::scenario::apm;
use avic_cosim::scenario::Scenario;
use avic_cosim::sched::Schedule;
use avic_cosim::sim::Event;
use rstest::rstest;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

const V: u8 = 0x40;
const TOP: &str = "reordered_top";

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// The cache the tests of this file share (under the target directory, never the user's
/// home); tests that need an empty cache make their own.
fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("byo-cache")
}

fn reordered(cache: &Path) -> Arc<UserRtl> {
    UserRtl::from_filelist(
        &repo("tb/rtl/reordered.f"),
        TOP,
        &RtlOptions {
            cache_dir: Some(cache.to_path_buf()),
        },
    )
    .expect("the file list reads")
}

fn cosim(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avic-cosim"))
        .args(args)
        .env("AVIC_COSIM_CACHE", cache)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run avic-cosim")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The same scenario and configuration inputs: the bundled RTL holds in every schedule within
/// the bound, the reordered user RTL loses the wake-up (the doorbell reaches a core that has
/// left the guest and is dropped).
#[rstest]
#[case::v3(KvmVariant::V3)]
#[case::v4(KvmVariant::V4)]
fn the_user_rtl_is_what_runs(#[case] variant: KvmVariant) {
    let bundled = Scenario::seed(variant, apm());
    let r = bounded_exhaustive(&bundled, 2, 200_000).unwrap();
    assert!(r.complete && r.violation.is_none(), "bundled RTL: {r:?}");

    let user = bundled.clone().rtl(Rtl::User(reordered(&shared_cache())));
    let found = search(&user, 2000, |s| Search::default().pct(s)).unwrap();
    let (_, out) = found.expect("the reordered RTL loses a wake-up");
    let v = out.violation().unwrap();
    assert_eq!(
        (v.invariant, v.vcpu, v.vector),
        (Invariant::LostWakeup, 1, V)
    );
    assert!(out
        .log
        .iter()
        .any(|e| matches!(e, Event::Rtl(DutEvent::DoorbellDropped { core: 1, .. }))));
}

/// Cycle for cycle, the reordered user RTL with APM inputs behaves as the bundled RTL with the
/// IsRunning-first input: the same log under the same schedules.
#[test]
fn the_user_rtl_matches_the_bundled_rtl_with_the_same_ordering() {
    let isrun_first = HwConfig {
        isrun_order: 2,
        ..apm()
    };
    let bundled = Scenario::seed(KvmVariant::V4, isrun_first).timer(1);
    let user = Scenario::seed(KvmVariant::V4, apm())
        .timer(1)
        .rtl(Rtl::User(reordered(&shared_cache())));
    for seed in 0..20 {
        let s = Schedule::pct(seed, 3);
        let a = explore::run(&bundled, &s).unwrap();
        let b = explore::run(&user, &s).unwrap();
        assert_eq!(a.log, b.log, "seed {seed}");
        assert_eq!(a.verdict, b.verdict, "seed {seed}");
    }
}

/// A second `UserRtl` of the unchanged design (as a second process would make) takes the
/// build from the cache: neither Verilator nor the compiler runs and the shared object is not
/// rewritten. Any change to a source gives another key.
#[test]
fn an_unchanged_design_is_a_cache_hit() {
    let cache = shared_cache();
    let first = reordered(&cache).load(Flavor::Plain).unwrap();
    let so = first.info().so.clone();
    let mtime = std::fs::metadata(&so).unwrap().modified().unwrap();

    let again = reordered(&cache);
    let lib = again.load(Flavor::Plain).unwrap();
    assert!(lib.info().cache_hit, "{:?}", lib.info());
    assert_eq!(lib.info().so, so);
    assert_eq!(std::fs::metadata(&so).unwrap().modified().unwrap(), mtime);

    // The same design copied elsewhere with one comment changed: another key.
    let dir = tempfile::tempdir().unwrap();
    let wrapper = std::fs::read_to_string(repo("tb/rtl/reordered_top.sv")).unwrap();
    std::fs::write(
        dir.path().join("reordered_top.sv"),
        wrapper.replacen("// SPDX", "// edited\n// SPDX", 1),
    )
    .unwrap();
    let list = std::fs::read_to_string(repo("tb/rtl/reordered.f"))
        .unwrap()
        .replace("../../rtl/", &format!("{}/", repo("rtl").display()));
    std::fs::write(dir.path().join("r.f"), list).unwrap();
    let edited = UserRtl::from_filelist(
        &dir.path().join("r.f"),
        TOP,
        &RtlOptions {
            cache_dir: Some(cache.clone()),
        },
    )
    .unwrap();
    assert_ne!(edited.key(), again.key());
}

/// The command line with `--rtl`: the run prints how the build was obtained, writes a
/// waveform of the user's hierarchy, and the cell's verdict is the reordered RTL's.
#[test]
fn the_command_line_runs_the_user_rtl_with_a_waveform() {
    let cache = shared_cache();
    let dir = tempfile::tempdir().unwrap();
    let vcd = dir.path().join("r.vcd");
    let o = cosim(
        &[
            "run",
            "--kvm",
            "V4",
            "--seed",
            "7",
            "--rtl",
            "tb/rtl/reordered.f",
            "--top",
            TOP,
            "--wave",
            vcd.to_str().unwrap(),
        ],
        &cache,
    );
    let out = text(&o.stdout);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{out}{}",
        text(&o.stderr)
    );
    assert!(
        out.contains("rtl: top reordered_top from tb/rtl/reordered.f (Plain build)"),
        "{out}"
    );
    assert!(out.contains("(Vcd build)"), "{out}");
    let trace = std::fs::read_to_string(&vcd).unwrap();
    assert!(
        trace.contains("u_avic_top"),
        "the trace has the wrapper's hierarchy"
    );
}

/// `matrix --rtl`: the APM cell of V4 holds on the bundled RTL (tb/cli.rs) and is violated on
/// the reordered one.
#[test]
fn the_matrix_runs_on_the_user_rtl() {
    let dir = tempfile::tempdir().unwrap();
    let o = cosim(
        &[
            "matrix",
            "--hw",
            "apm",
            "--kvm",
            "V4",
            "--seeds",
            "200",
            "--no-wave",
            "--replay-dir",
            dir.path().to_str().unwrap(),
            "--rtl",
            "tb/rtl/reordered.f",
            "--top",
            TOP,
        ],
        &shared_cache(),
    );
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
    let line = out
        .lines()
        .find(|l| l.starts_with("apm ") && l.contains("V4"))
        .unwrap_or_else(|| panic!("no apm V4 line in\n{out}"));
    assert!(
        line.contains("VIOLATED") && line.contains("no-lost-wakeup vCPU 1 vector 0x40"),
        "{line}"
    );
    // The replay file records the user RTL, so it replays on it without the flags.
    let replay = dir.path().join("seed-apm-V4.replay");
    let text = std::fs::read_to_string(&replay).unwrap();
    assert!(
        text.contains("\n[rtl]\ntop = \"reordered_top\"\nfilelist = \"tb/rtl/reordered.f\"\n"),
        "{text}"
    );
    let o = cosim(&["replay", replay.to_str().unwrap()], &shared_cache());
    let out = text_of(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("rtl: top reordered_top") && out.contains("reproduced: no-lost-wakeup"),
        "{out}"
    );
}

fn text_of(o: &std::process::Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

/// Writes `files` into a fresh directory; returns it.
fn design(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    dir
}

/// The bundled sources as absolute paths, one a line, after the `+incdir+` of their headers,
/// for file lists in temporary directories.
fn bundled_sources() -> String {
    let inc = format!("+incdir+{}\n", repo("rtl").display());
    [
        "avic_pkg",
        "avic_ipi_sender",
        "avic_irq_eval",
        "avic_core",
        "avic_top",
    ]
    .iter()
    .fold(inc, |f, m| {
        f + &format!("{}\n", repo(&format!("rtl/{m}.sv")).display())
    })
}

fn rtl_error(args: &[&str], cache: &Path) -> String {
    let o = cosim(args, cache);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}{err}", text(&o.stdout));
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Each row of the README's bad-RTL table: exit code 2 and a message naming the file.
#[test]
fn a_syntax_error_names_the_file_and_line() {
    let d = design(&[
        (
            "bad.sv",
            "module bad (\n  input logic clk_i\n);\n  logic x\nendmodule\n",
        ),
        ("bad.f", "bad.sv\n"),
    ]);
    let f = d.path().join("bad.f");
    let err = rtl_error(
        &["run", "--rtl", f.to_str().unwrap(), "--top", "bad"],
        d.path(),
    );
    assert!(
        err.contains(&format!(
            "--rtl: {}: Verilator failed (top `bad`)",
            f.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("%Error: ") && err.contains("bad.sv:5:"),
        "{err}"
    );
}

#[test]
fn a_missing_top_is_named() {
    let d = tempfile::tempdir().unwrap();
    let err = rtl_error(
        &["run", "--rtl", "tb/rtl/reordered.f", "--top", "no_such_top"],
        d.path(),
    );
    assert!(
        err.contains("tb/rtl/reordered.f: top module `no_such_top` is not in the design"),
        "{err}"
    );
}

#[test]
fn a_missing_port_of_the_contract_is_named() {
    // The wrapper with its port list declared in place (as a user's design does) instead of
    // included from rtl/avic_top_ports.svh, without eoi_i.
    let wrapper = std::fs::read_to_string(repo("tb/rtl/reordered_top.sv")).unwrap();
    let ports = std::fs::read_to_string(repo("rtl/avic_top_ports.svh")).unwrap();
    let include = "`include \"avic_top_ports.svh\"\n";
    let eoi_port = "  input  logic [NumCores-1:0]                       eoi_i,\n";
    assert!(wrapper.contains(include) && ports.contains(eoi_port));
    let no_eoi = wrapper
        .replace(include, &ports.replace(eoi_port, ""))
        .replace("module reordered_top", "module no_eoi_top")
        .replace(
            ".eoi_i                (eoi_i)",
            ".eoi_i                ('0)",
        );
    let d = design(&[
        ("no_eoi_top.sv", &no_eoi),
        ("n.f", &format!("{}no_eoi_top.sv\n", bundled_sources())),
    ]);
    let f = d.path().join("n.f");
    let err = rtl_error(
        &["run", "--rtl", f.to_str().unwrap(), "--top", "no_eoi_top"],
        d.path(),
    );
    assert!(
        err.contains(&format!(
            "{}: top `no_eoi_top` lacks port `eoi_i` required by the port contract \
             (docs/port-contract.md)",
            f.display()
        )),
        "{err}"
    );
}

#[test]
fn a_missing_source_names_the_file_list_line() {
    let d = design(&[("m.f", "// a comment\n+incdir+.\nnope.sv\n")]);
    let f = d.path().join("m.f");
    let err = rtl_error(
        &["run", "--rtl", f.to_str().unwrap(), "--top", "x"],
        d.path(),
    );
    assert!(
        err.contains(&format!("{}:3: `nope.sv` not found", f.display())),
        "{err}"
    );
}

#[test]
fn a_missing_verilator_says_how_to_install_it() {
    let d = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_avic-cosim"))
        .args(["run", "--rtl", "tb/rtl/reordered.f", "--top", TOP])
        .env("AVIC_COSIM_CACHE", d.path())
        .env("VERILATOR", "/nonexistent/verilator")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot run `/nonexistent/verilator`")
            && err.contains("sudo apt-get install -y verilator g++ zlib1g-dev"),
        "{err}"
    );
}

#[test]
fn library_errors_name_the_file_list() {
    let d = design(&[
        ("o.f", "x.sv\n-unknown-flag\n"),
        ("x.sv", "module x; endmodule\n"),
    ]);
    let e = UserRtl::from_filelist(&d.path().join("o.f"), "x", &RtlOptions::default()).unwrap_err();
    assert!(matches!(e, RtlError::Filelist { line: 2, .. }), "{e}");
    assert!(
        e.to_string().contains("unsupported option `-unknown-flag`"),
        "{e}"
    );
}

/// A fresh cache, two command-line processes and two threads of this process all wanting the
/// same build at once: every one succeeds, the design is built once, the cache holds one
/// complete entry and no leftover build directory, and a later run is a cache hit.
#[test]
fn concurrent_builders_share_a_fresh_cache() {
    let cache = tempfile::tempdir().unwrap();
    let args = [
        "run",
        "--kvm",
        "V4",
        "--rtl",
        "tb/rtl/reordered.f",
        "--top",
        TOP,
    ];
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_avic-cosim"))
            .args(args)
            .env("AVIC_COSIM_CACHE", cache.path())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (p1, p2) = (spawn(), spawn());
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let c = cache.path().to_path_buf();
            std::thread::spawn(move || reordered(&c).load(Flavor::Plain).map(|l| l.info().clone()))
        })
        .collect();
    let mut built = 0;
    for p in [p1, p2] {
        let o = p.wait_with_output().unwrap();
        let out = text(&o.stdout);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{out}{}",
            text(&o.stderr)
        );
        built += usize::from(out.contains("(Plain build): built in"));
    }
    let mut sos = Vec::new();
    for t in threads {
        let info = t.join().unwrap().unwrap();
        built += usize::from(!info.cache_hit);
        sos.push(info.so);
    }
    assert_eq!(built, 1, "built once");
    assert_eq!(sos[0], sos[1]);

    let names: Vec<String> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let entries = names
        .iter()
        .filter(|n| n.starts_with("model-plain-") && !n.ends_with(".lock"));
    assert_eq!(entries.count(), 1, "{names:?}");
    assert_eq!(
        std::fs::read_dir(cache.path().join("tmp")).unwrap().count(),
        0,
        "no build directory left behind"
    );
    let o = cosim(&args, cache.path());
    assert!(
        text(&o.stdout).contains("(Plain build): cache hit"),
        "{}",
        text(&o.stdout)
    );
}
