//! Does branching from saved RTL state speed up the bounded exhaustive search? (issue 5)
//!
//! Parts 1 to 3 are the estimate made before it was built; part 4 measures the search as built
//! (`explore::Revisit`). `cargo bench --bench branching` measures, in one run on one thread:
//!
//! 1. Every schedule of the bundled `seed` scenario (cell apm / V4, which holds, so the search
//!    is complete) within 2 deviations, enumerated depth first as `explore::bounded_exhaustive`
//!    does: per schedule, the RTL cycles simulated (reset included) and the cycles before its
//!    first deviation from the previous schedule (the shared prefix a snapshot would skip).
//! 2. The time of `World::new` (model construction, reset, memory and tables) against the
//!    whole time per schedule.
//! 3. `tb/cpp/snapshot` (Verilator `--savable`, the same RTL): save and restore of the model to
//!    a memory buffer against one simulated cycle.
//!
//! It prints the ratios and the best case of snapshots: every schedule restored at its
//! deviation point instead of rebuilt and replayed.
//!
//! 4. The whole search, `explore::bounded_exhaustive_revisit` on one thread, replaying
//!    ([`Revisit::Replay`]) against branching from snapshots ([`Revisit::Branch`]): five runs
//!    of each, interleaved, the medians of wall-clock and of CPU time (the process's, from
//!    `/proc/self/stat`: less sensitive to other load on the machine), their ratios and the
//!    median of the ratios of each replaying run to the branching run after it; the results
//!    must agree.

use avic_cosim::explore::{bounded_exhaustive_revisit, Exhaustive, Revisit, Shard};
use avic_cosim::ffi::ModelKind;
use avic_cosim::report;
use avic_cosim::scenario::Scenario;
use avic_cosim::sched::Schedule;
use avic_cosim::sim::World;
use indicatif::ProgressBar;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The odometer step of `explore` (private there): the deepest choice point that can take its
/// next rank within the bound.
fn next_prefix(choices: &[(u16, u16)], bound: u32) -> Option<Vec<u16>> {
    let mut devs = vec![0u32];
    for &(r, _) in choices {
        devs.push(devs.last().copied().unwrap_or(0) + u32::from(r != 0));
    }
    (0..choices.len()).rev().find_map(|j| {
        let (r, n) = choices[j];
        (r + 1 < n && devs[j] < bound).then(|| {
            let mut p: Vec<u16> = choices[..j].iter().map(|c| c.0).collect();
            p.push(r + 1);
            p
        })
    })
}

/// CPU seconds (user + system) the process has used, from `/proc/self/stat` (clock ticks
/// of 10 ms); 0 where that file is missing.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces): state is field 3, utime 14.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

/// One whole bounded search on the current rayon pool: (wall, CPU) seconds and the result.
fn timed_search(sc: &Scenario, bound: u32, revisit: Revisit) -> ((f64, f64), Exhaustive) {
    let (t, c) = (Instant::now(), cpu_seconds());
    let r = bounded_exhaustive_revisit(
        sc,
        bound,
        u64::MAX,
        Shard::WHOLE,
        &ProgressBar::hidden(),
        revisit,
    )
    .expect("the search runs");
    ((t.elapsed().as_secs_f64(), cpu_seconds() - c), r)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let bound = 2;
    let f = report::load_scenario("seed").expect("bundled seed scenario");
    let sc = report::cell_scenario(
        &f.scenario,
        &report::hw_variant("apm").unwrap(),
        &report::kvm_row("V4").unwrap(),
    );
    let reset = World::new(&sc, ModelKind::Plain).unwrap().dut().cycle();

    // 1 + 2: the whole bounded space, timed.
    let t0 = Instant::now();
    let (mut runs, mut total, mut shared, mut saves) = (0u64, 0u64, 0u64, 0u64);
    let mut prefix: Vec<u16> = Vec::new();
    loop {
        let out = World::new(&sc, ModelKind::Plain)
            .unwrap()
            .run(&Schedule::replay(&prefix))
            .unwrap();
        runs += 1;
        total += out.cycles + reset;
        if let Some(j) = prefix.len().checked_sub(1) {
            shared += u64::from(out.choice_cycles[j]);
        }
        // Snapshots this run would have to take: every later choice point the search will
        // branch from (another rank left within the bound).
        let mut devs = 0u32;
        for (i, &(r, n)) in out.choices.iter().enumerate() {
            if i >= prefix.len() && r + 1 < n && devs < bound {
                saves += 1;
            }
            devs += u32::from(r != 0);
        }
        match next_prefix(&out.choices, bound) {
            Some(p) => prefix = p,
            None => break,
        }
    }
    let t_all = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(World::new(&sc, ModelKind::Plain).unwrap());
    }
    let t_new = t1.elapsed().as_secs_f64();
    let per_cycle = (t_all - t_new) / total as f64;
    // The largest piece of harness state a branch would copy besides the RTL: the memory.
    let w = World::new(&sc, ModelKind::Plain).unwrap();
    let t2 = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(w.dut().mem.clone());
    }
    let t_mem = t2.elapsed().as_secs_f64() / runs as f64;

    // 3: the snapshot experiment.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ok = Command::new("make")
        .args(["-s", "-C", "tb/cpp", "snapshot"])
        .current_dir(root)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let kv: BTreeMap<String, f64> = if ok {
        let o = Command::new(root.join("target/tb-cpp/snapshot"))
            .arg("2000")
            .output()
            .expect("run tb/cpp/snapshot");
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect()
    } else {
        eprintln!("make -C tb/cpp snapshot failed: no snapshot numbers");
        BTreeMap::new()
    };

    println!("bounded exhaustive, seed scenario, apm / V4, bound {bound}, 1 thread:");
    println!(
        "  {runs} schedules, {:.1} RTL cycles each (reset's {reset} included), {:.2} s",
        total as f64 / runs as f64,
        t_all
    );
    println!(
        "  cycles before the first deviation (shared with the previous schedule): {:.1}% of all cycles",
        100.0 * shared as f64 / total as f64
    );
    println!(
        "  World::new: {:.1}% of the time per schedule ({:.1} us of {:.1} us)",
        100.0 * t_new / t_all,
        1e6 * t_new / runs as f64,
        1e6 * t_all / runs as f64
    );
    let prefix_time = shared as f64 * per_cycle;
    println!(
        "  re-simulating the shared prefix: {:.1}% of the time",
        100.0 * prefix_time / t_all
    );
    let skip = t_new + prefix_time;
    println!(
        "  best case of branching (no World::new, no prefix, free snapshots): {:.2}x",
        t_all / (t_all - skip)
    );
    if let (Some(c), Some(s), Some(r), Some(b)) = (
        kv.get("cycle_ns"),
        kv.get("save_ns"),
        kv.get("restore_ns"),
        kv.get("state_bytes"),
    ) {
        println!(
            "Verilator --savable (tb/cpp/snapshot): state {b:.0} bytes; save = {:.2} cycles, \
             restore = {:.2} cycles of the C++ testbench; restore = {:.3} cycles of the \
             harness loop (restore_ok={})",
            s / c,
            r / c,
            r * 1e-9 / per_cycle,
            kv.get("restore_ok").copied().unwrap_or(0.0)
        );
        println!(
            "  World::new = {:.0} restores",
            (t_new / runs as f64) / (r * 1e-9)
        );
        // With a snapshot (RTL save + memory copy) at every branch point and one restore per
        // schedule; the threads, guests and ledger are small and not counted (optimistic).
        let snap = (s * 1e-9 + t_mem) * saves as f64 + (r * 1e-9 + t_mem) * runs as f64;
        println!(
            "  snapshots: {:.1} per schedule, memory copy {:.2} harness cycles; with their cost: \
             {:.2}x",
            saves as f64 / runs as f64,
            t_mem / per_cycle,
            t_all / (t_all - skip + snap)
        );
    }

    // 4: the search itself, replaying against branching, one thread.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let (mut replay, mut branch) = (Vec::new(), Vec::new());
    let mut results = Vec::new();
    pool.install(|| {
        for _ in 0..5 {
            let (t, a) = timed_search(&sc, bound, Revisit::Replay);
            replay.push(t);
            let (t, b) = timed_search(&sc, bound, Revisit::Branch);
            branch.push(t);
            results.push((a, b));
        }
    });
    let agree = results.iter().all(|(a, b)| {
        (a.runs, a.probe_runs, a.bounded, a.complete, a.orders)
            == (b.runs, b.probe_runs, b.bounded, b.complete, b.orders)
            && a.violation
                .as_ref()
                .map(|o| (o.ranks(), o.cycles, o.log.clone()))
                == b.violation
                    .as_ref()
                    .map(|o| (o.ranks(), o.cycles, o.log.clone()))
    });
    let (a, _) = &results[0];
    println!(
        "whole search (explore::bounded_exhaustive_revisit, 1 thread, {} runs + {} probes; \
         5 runs each, interleaved, medians), results agree: {agree}",
        a.runs, a.probe_runs
    );
    for (what, pick) in [
        ("wall", (|t: &(f64, f64)| t.0) as fn(&(f64, f64)) -> f64),
        ("CPU", |t| t.1),
    ] {
        let r: Vec<f64> = replay.iter().map(pick).collect();
        let b: Vec<f64> = branch.iter().map(pick).collect();
        let show = |v: &[f64]| {
            v.iter()
                .map(|t| format!("{t:.2}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let (mr, mb) = (median(r.clone()), median(b.clone()));
        // Each replay against the branching run right after it: load on the machine changes
        // between pairs more than within one.
        let pairs = median(r.iter().zip(&b).map(|(x, y)| x / y).collect());
        println!(
            "  {what:4}: replay {mr:.2} s ({}), branch {mb:.2} s ({}): branching is {:.2}x \
             (median of the pairs' ratios {pairs:.2}x)",
            show(&r),
            show(&b),
            mr / mb
        );
    }
}
