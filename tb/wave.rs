//! Waveforms (`avic_cosim::wave`): the seed's duplicate (B1) and lost wake-up (C1) recorded as
//! VCD and FST, read back with `wellen`, and checked at the violation; same run, same bytes;
//! the `.gtkw` names files and signals that exist.

use avic_cosim::explore::Search;
use avic_cosim::explore::{minimize, search};
use avic_cosim::ffi::HwConfig;
use avic_cosim::kvm::KvmVariant;
use avic_cosim::oracle::Invariant;
use avic_cosim::scenario::apm;
use avic_cosim::scenario::Scenario;
use avic_cosim::sched::{Policy, Schedule};
use avic_cosim::sim::Outcome;
use avic_cosim::wave::{self, WaveError, WaveFiles};
use rstest::rstest;
use std::path::Path;
use wellen::simple::Waveform;

const V: u8 = 0x40;

/// C1: IsRunning read while the IRR update is in flight.
fn c1() -> Scenario {
    Scenario::seed(
        KvmVariant::V3,
        HwConfig {
            isrun_order: 1,
            ..apm()
        },
    )
}

/// B1: V1 re-emulates the ICR after the target took the posted vector.
fn b1() -> Scenario {
    Scenario::seed(KvmVariant::V1, apm()).timer(1)
}

/// A minimized violating schedule of `sc`, found as `explore` finds them.
fn counterexample(sc: &Scenario, inv: Invariant) -> Schedule {
    let pct = search(sc, 2000, |s| Search::default().pct(s)).unwrap();
    let (_, out) = pct
        .or_else(|| search(sc, 2000, Policy::Random).unwrap())
        .expect("a violating schedule");
    let min = minimize(sc, &out.ranks(), inv).unwrap().unwrap_or(out);
    Schedule::replay(&min.ranks())
}

fn record(sc: &Scenario, sched: &Schedule, path: &Path) -> (Outcome, WaveFiles) {
    wave::record(sc, sched, path).unwrap()
}

/// A signal of the trace, loaded.
struct Sig<'a> {
    w: &'a Waveform,
    r: wellen::SignalRef,
}

impl Sig<'_> {
    /// Value at `time` (the last change at or before it).
    fn at(&self, time: u64) -> u64 {
        let tt = self.w.time_table();
        let idx = tt.partition_point(|&t| t <= time).checked_sub(1).unwrap();
        let s = self.w.get_signal(self.r).unwrap();
        let off = s.get_offset(idx as u32).expect("a value at that time");
        let bits = s.get_value_at(&off, 0).to_bit_string().unwrap();
        u64::from_str_radix(&bits, 2).unwrap_or(u64::MAX)
    }

    /// (time, value) of every change.
    fn changes(&self) -> Vec<(u64, u64)> {
        let tt = self.w.time_table();
        let s = self.w.get_signal(self.r).unwrap();
        s.iter_changes()
            .map(|(i, v)| {
                let bits = v.to_bit_string().unwrap();
                (
                    tt[i as usize],
                    u64::from_str_radix(&bits, 2).unwrap_or(u64::MAX),
                )
            })
            .collect()
    }

    /// Times at which the value becomes `v` (from something else).
    fn rises_to(&self, v: u64) -> Vec<u64> {
        let mut prev = None;
        let mut out = Vec::new();
        for (t, x) in self.changes() {
            if x == v && prev != Some(v) {
                out.push(t);
            }
            prev = Some(x);
        }
        out
    }
}

fn load(path: &Path) -> Waveform {
    wellen::simple::read(path).unwrap()
}

/// `dotted.path.name` of a var (without its bit range).
fn sig<'a>(w: &'a mut Waveform, full: &str) -> Sig<'a> {
    let parts: Vec<&str> = full.split('.').collect();
    let (name, scopes) = parts.split_last().unwrap();
    let h = w.hierarchy();
    let var = h
        .lookup_var(scopes, name)
        .unwrap_or_else(|| panic!("no signal {full}"));
    let r = h[var].signal_ref();
    w.load_signals(&[r]);
    Sig { w, r }
}

fn check_c1(path: &Path, out: &Outcome, files: &WaveFiles) {
    let v = out.violation().unwrap();
    assert_eq!(
        (v.invariant, v.vcpu, v.vector),
        (Invariant::LostWakeup, 1, V)
    );
    let t = files.violation_time.unwrap();
    assert_eq!(t, 2 * v.cycle, "detected at quiescence, before the edge");
    let mut w = load(path);
    // At the violation: the target sleeps in schedule() with 0x40 in its IRR and IsRunning=0.
    assert_eq!(sig(&mut w, "sw.vcpu1.sleeping").at(t), 1);
    assert_eq!(sig(&mut w, "sw.vcpu1.irr").at(t), u64::from(V));
    assert_eq!(sig(&mut w, "sw.vcpu1.isrun_global").at(t), 0);
    assert_eq!(sig(&mut w, "sw.vcpu1.violated").at(t), 1);
    assert_eq!(sig(&mut w, "sw.violation").at(t), 3, "no-lost-wakeup");
    assert_eq!(sig(&mut w, "sw.violation").at(t - 1), 0);
    // The step is named through the translate filter beside the trace.
    let filter = files
        .filters
        .iter()
        .find(|f| f.to_str().unwrap().ends_with(".filter.kvm_step.txt"))
        .unwrap();
    let names = std::fs::read_to_string(filter).unwrap();
    let step = sig(&mut w, "sw.vcpu1.kvm_step").at(t);
    assert!(
        names
            .lines()
            .any(|l| l == format!("{step} schedule:sleeping")),
        "step {step}"
    );
    // Before it: vCPU 0 wrote ICR, the RTL read IsRunning[1], the IRR bit became visible,
    // a doorbell was rung to core 1 and dropped there; no #VMEXIT ever.
    let icr = sig(&mut w, "sw.vcpu0.icr_write").rises_to(1);
    let read = sig(&mut w, "sw.vcpu1.isrun_read").rises_to(1);
    let irr = sig(&mut w, "sw.vcpu1.irr_visible").rises_to(1);
    let bell = sig(&mut w, "sw.vcpu1.doorbell").rises_to(1);
    let drop = sig(&mut w, "sw.vcpu1.doorbell_dropped").rises_to(1);
    assert_eq!(icr.len(), 1);
    assert!(!read.is_empty() && !irr.is_empty() && !drop.is_empty());
    assert!(icr[0] < read[0], "{icr:?} {read:?}");
    assert!(
        *read.last().unwrap() < irr[0],
        "IsRunning read before the IRR update was visible (in flight): {read:?} {irr:?}"
    );
    assert!(bell[0] < drop[0] && drop[0] < t, "{bell:?} {drop:?} {t}");
    assert!(sig(&mut w, "sw.vcpu0.vmexit").rises_to(1).is_empty());
    // The lanes agree with the RTL's own signals, to the half cycle.
    let core = |c: u8, s: &str| format!("avic_top.avic_top.g_core[{c}].u_core.{s}");
    let rtl_drop = sig(&mut w, &core(1, "db_drop_o")).rises_to(1);
    assert_eq!(rtl_drop, drop, "doorbell_dropped lane vs db_drop_o");
    let rtl_icr = sig(&mut w, &core(0, "icr_wr_i")).rises_to(1);
    assert_eq!(rtl_icr, icr, "icr_write lane vs icr_wr_i");
    let rtl_bell = sig(&mut w, &core(1, "doorbell_i")).rises_to(1);
    assert_eq!(
        rtl_bell, bell,
        "doorbell lane vs the doorbell core 1 received"
    );
}

#[rstest]
#[case::vcd("c1.vcd")]
#[case::fst("c1.fst")]
fn c1_trace_shows_the_target_asleep_with_its_irr_set_after_a_dropped_doorbell(#[case] name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let sched = counterexample(&c1(), Invariant::LostWakeup);
    let (out, files) = record(&c1(), &sched, &path);
    check_c1(&path, &out, &files);
    // The temporary RTL trace is gone.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[rstest]
#[case::vcd("b1.vcd")]
#[case::fst("b1.fst")]
fn b1_trace_shows_the_vector_taken_twice(#[case] name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let sched = counterexample(&b1(), Invariant::DuplicateIpi);
    let (out, files) = record(&b1(), &sched, &path);
    let v = out.violation().unwrap();
    assert_eq!(
        (v.invariant, v.vcpu, v.vector),
        (Invariant::DuplicateIpi, 1, V)
    );
    let t = files.violation_time.unwrap();
    assert_eq!(t, 2 * v.cycle + 1, "the second take, after the edge");
    let mut w = load(&path);
    let takes = sig(&mut w, "sw.vcpu1.intr").rises_to(u64::from(V));
    assert_eq!(takes.len(), 2, "{takes:?}");
    assert_eq!(*takes.last().unwrap(), t);
    assert_eq!(sig(&mut w, "sw.vcpu1.intr").at(t), u64::from(V));
    assert_eq!(sig(&mut w, "sw.vcpu1.violated").at(t), 1);
    assert_eq!(sig(&mut w, "sw.violation").at(t), 2, "no-duplicate-ipi");
    // The path: the target was not running, so core 0 exited to KVM (which re-emulated ICR).
    let exits = sig(&mut w, "sw.vcpu0.vmexit").rises_to(1);
    assert_eq!(exits.len(), 1);
    assert!(exits[0] < takes[1]);
    // The RTL's interrupt output of core 1 shows the same two takes.
    let rtl = sig(&mut w, "avic_top.avic_top.g_core[1].u_core.intr_valid_o").rises_to(1);
    assert!(takes.iter().all(|t| rtl.contains(t)), "{takes:?} {rtl:?}");
}

#[rstest]
#[case::vcd("run.vcd")]
#[case::fst("run.fst")]
fn the_same_run_writes_the_same_bytes(#[case] name: &str) {
    let sched = counterexample(&c1(), Invariant::LostWakeup);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (_, fa) = record(&c1(), &sched, &a.path().join(name));
    let (_, fb) = record(&c1(), &sched, &b.path().join(name));
    let read = |p: &Path| std::fs::read(p).unwrap();
    assert!(read(&fa.trace).len() > 1000);
    assert!(read(&fa.trace) == read(&fb.trace), "trace bytes differ");
    assert!(read(&fa.gtkw) == read(&fb.gtkw), "save file bytes differ");
    assert_eq!(fa.filters.len(), fb.filters.len());
    for (x, y) in fa.filters.iter().zip(&fb.filters) {
        assert!(read(x) == read(y), "{} differs", x.display());
    }
    if name.ends_with(".vcd") {
        let text = String::from_utf8(read(&fa.trace)).unwrap();
        assert!(!text.contains("$date"), "no date in the VCD");
    }
}

#[rstest]
#[case::vcd("c1.vcd")]
#[case::fst("c1.fst")]
fn the_save_file_names_files_and_signals_that_exist(#[case] name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let sched = counterexample(&c1(), Invariant::LostWakeup);
    let (_, files) = record(&c1(), &sched, &path);
    assert_eq!(files.gtkw, dir.path().join("c1.gtkw"));
    let text = std::fs::read_to_string(&files.gtkw).unwrap();
    let w = load(&path);
    let h = w.hierarchy();
    let mut full: Vec<String> = h.all_vars().map(|v| h[v].full_name(h)).collect();
    full.sort();
    let exists = |n: &str| dir.path().join(n).is_file();
    let mut signals = 0;
    let mut filters = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("[dumpfile] ") {
            assert!(exists(rest.trim_matches('"')), "{line}");
        } else if let Some(rest) = line.strip_prefix('^') {
            let file = rest.split_once(' ').unwrap().1;
            assert!(exists(file), "{line}");
            assert!(files.filters.contains(&dir.path().join(file)));
            filters += 1;
        } else if line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '+') {
            // `name[msb:lsb]` or `+{alias} name[msb:lsb]`.
            let name = line.rsplit(' ').next().unwrap();
            let bare = match name.rfind('[') {
                Some(i) if name[i..].contains(':') => &name[..i],
                _ => name,
            };
            assert!(full.binary_search(&bare.to_string()).is_ok(), "{line}");
            signals += 1;
        }
    }
    assert!(
        signals > 50 && filters >= 10,
        "{signals} signals, {filters} filters"
    );
    // The primary marker sits at the violation; named markers precede it.
    let star = text.lines().find(|l| l.starts_with('*')).unwrap();
    let f: Vec<i64> = star[1..]
        .split(' ')
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(f.len(), 27, "primary + 26 named markers");
    assert_eq!(f[0], files.violation_time.unwrap() as i64);
    assert!(f[1] >= 0 && f[1] < f[0]);
    assert!(text.contains("[markername] A"));
}

#[test]
fn a_name_without_vcd_or_fst_is_an_error_naming_it() {
    let err = wave::record(&c1(), &Schedule::continuing(), Path::new("out.txt")).unwrap_err();
    assert!(matches!(err, WaveError::Extension(_)));
    assert!(err.to_string().contains("out.txt"), "{err}");
    let missing = Path::new("/nonexistent-dir/x.vcd");
    let err = wave::record(&c1(), &Schedule::continuing(), missing).unwrap_err();
    assert!(err.to_string().contains("/nonexistent-dir/"), "{err}");
}
