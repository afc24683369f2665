//! RTL coverage of an exploration (issue 5): every run executes on the `--coverage` build of
//! the RTL, the counters are merged over all runs, written as Verilator's coverage.dat and as
//! lcov. A scenario that rings doorbells covers the sender's doorbell line, one that never
//! sends does not; the merged counters do not depend on the thread count.

use avic_cosim::explore::Search;
use avic_cosim::explore::{bounded_exhaustive, search};
use avic_cosim::guest::GuestOp;
use avic_cosim::kvm::KvmVariant;
use avic_cosim::rtl::{Coverage, CoverageSummary, Rtl, RtlOptions, UserRtl};
use avic_cosim::scenario::apm;
use avic_cosim::scenario::Scenario;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("byo-cache")
}

fn coverage() -> Arc<Coverage> {
    let rtl = UserRtl::bundled(&RtlOptions {
        cache_dir: Some(shared_cache()),
    })
    .unwrap();
    Coverage::new(rtl).expect("the coverage build")
}

/// PCT seeds 0..64 of `sc`, then the bounded search with bound 1, on a fresh coverage
/// accumulator; its summary.
fn explore(sc: &Scenario, info: &Path) -> CoverageSummary {
    let cov = coverage();
    let sc = sc.clone().rtl(Rtl::Coverage(cov.clone()));
    let found = search(&sc, 64, |s| Search::default().pct(s)).unwrap();
    assert!(found.is_none(), "the scenario holds on APM hardware");
    let r = bounded_exhaustive(&sc, 1, 10_000).unwrap();
    assert!(r.complete);
    cov.write_info(info).unwrap()
}

/// lcov `DA` records per source file: file -> line -> count.
fn lcov(info: &Path) -> BTreeMap<String, BTreeMap<u32, u64>> {
    let text = std::fs::read_to_string(info).unwrap();
    let mut out: BTreeMap<String, BTreeMap<u32, u64>> = BTreeMap::new();
    let mut file = None;
    for l in text.lines() {
        if let Some(f) = l.strip_prefix("SF:") {
            file = Some(f.to_string());
        } else if let Some(da) = l.strip_prefix("DA:") {
            let mut it = da.split(',');
            let line: u32 = it.next().unwrap().parse().unwrap();
            let n: u64 = it.next().unwrap().parse().unwrap();
            let f = file.clone().expect("DA after SF");
            *out.entry(f).or_default().entry(line).or_default() += n;
        } else if l == "end_of_record" {
            file = None;
        }
    }
    out
}

/// The sender's line that rings the doorbell.
fn doorbell_line() -> u32 {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("rtl/avic_ipi_sender.sv"),
    )
    .unwrap();
    let i = src
        .lines()
        .position(|l| l.trim() == "doorbell_valid_o = 1'b1;")
        .expect("the doorbell line");
    i as u32 + 1
}

/// The count of `file`'s line `line`, if it has a record.
fn hits(cov: &BTreeMap<String, BTreeMap<u32, u64>>, file: &str, line: u32) -> Option<u64> {
    let (_, lines) = cov.iter().find(|(f, _)| f.ends_with(file))?;
    lines.get(&line).copied()
}

#[test]
fn doorbell_lines_are_covered_only_when_a_doorbell_rings() {
    let dir = tempfile::tempdir().unwrap();
    let line = doorbell_line();

    // vCPU 0 sends to vCPU 1 while it may still run: some schedules ring the doorbell.
    let send = Scenario::seed(KvmVariant::V4, apm());
    let s = explore(&send, &dir.path().join("send.info"));
    assert!(s.runs > 64, "{s}");
    assert!(s.lines.hit > 0 && s.lines.hit < s.lines.total, "{s}");
    let c = lcov(&dir.path().join("send.info"));
    assert!(
        c.keys().any(|f| f.ends_with("rtl/avic_ipi_sender.sv")),
        "{:?}",
        c.keys()
    );
    let n = hits(&c, "rtl/avic_ipi_sender.sv", line).expect("a DA record at the doorbell line");
    assert!(n > 0, "doorbell line {line} not covered");

    // Nobody sends: the doorbell line is never reached.
    let quiet = Scenario::new(2, KvmVariant::V4)
        .program(0, &[GuestOp::Halt])
        .program(1, &[GuestOp::Halt]);
    let q = explore(&quiet, &dir.path().join("quiet.info"));
    let c = lcov(&dir.path().join("quiet.info"));
    assert_eq!(hits(&c, "rtl/avic_ipi_sender.sv", line), Some(0), "{q}");
    assert!(
        q.unhit.iter().any(|u| u.contains("avic_ipi_sender.sv")),
        "{q}"
    );
}

#[test]
fn merged_counters_do_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let sc = Scenario::seed(KvmVariant::V4, apm()).timer(1);
    let dat = |threads: usize| {
        let info = dir.path().join(format!("t{threads}.info"));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let s = pool.install(|| explore(&sc, &info));
        (s.runs, std::fs::read(s.dat).unwrap())
    };
    let one = dat(1);
    let two = dat(2);
    assert_eq!(one.0, two.0, "runs");
    assert!(
        one.1 == two.1,
        "coverage.dat differs between 1 and 2 threads"
    );
}

#[test]
fn explore_writes_lcov_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let info = dir.path().join("cov/seed.info");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_avic-cosim"))
        .args([
            "explore",
            "--kvm",
            "V4",
            "--seeds",
            "64",
            "--bound",
            "1",
            "--coverage",
        ])
        .arg(&info)
        .env("AVIC_COSIM_CACHE", shared_cache())
        .current_dir(dir.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for want in [
        "coverage of ",
        "  lines ",
        "  toggles ",
        "never reached",
        "(lcov)",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    let c = lcov(&info);
    assert!(
        c.keys().any(|f| f.ends_with("rtl/avic_top.sv")),
        "{:?}",
        c.keys()
    );
    assert!(info.with_extension("dat").exists());
}
