//! Benchmarks against the physical limit (issue 8): `cargo bench --bench throughput`.
//!
//! Everything is measured side by side in one run, in interleaved rounds (every variant once
//! per round), and reported as medians and as ratios to the pure C++ Verilator testbench
//! (`tb/cpp/avic_tb.cpp`, built here with `make -C tb/cpp`: the same Verilated model, one
//! translation unit, g++ -O3, the same stimulus and the same 1-cycle-latency memory):
//!
//! - (a) Rust-driven [`Dut::step`]: one FFI call per cycle, the Rust [`Memory`] answering;
//! - (b) batched [`Dut::run_autonomous`]: the C++ responder answering, Rust driving the
//!   stimulus at the events only (many cycles per FFI call);
//! - (c) tracing on, VCD and FST: cycles per second and bytes per cycle;
//! - (d) exploration: schedules per second of `explore::run` on the seed scenario, one thread
//!   and all cores (rayon);
//! - the whole verdict matrix (`avic-cosim matrix`), one thread and all cores;
//! - cocotb 1.8.1 + Verilator on the same RTL and stimulus, when a Python with cocotb is found
//!   (`COCOTB_PYTHON`, `target/cocotb-venv`, `/tmp/cocotb-venv`; `make cocotb-venv`).
//!
//! Build times are a separate target: `make build-times`.
//!
//! Stimulus ("ping-pong"): vCPU 0 on core 0 sends back-to-back IPIs, alternately vector 0x40 to
//! the running vCPU 1 (doorbell; core 1 takes the vector and writes EOI) and 0x41 to the
//! not-running vCPU 2 (#VMEXIT 0x401 cause 1 index 2), the next one in the cycle after the
//! sender is seen idle. Every variant must count the same IPIs, doorbells, exits and
//! interrupts as the C++ testbench over the same cycles; a mismatch is printed as an error and
//! the bench exits with status 1.
//!
//! Options (after `--`): `--cycles N` (plain runs, default 2000000), `--trace-cycles N`
//! (default 100000), `--rounds N` (default 5), `--explore-secs S` (default 3),
//! `--cocotb-cycles N` (default 20000), `--quick` (a tenth of every size, 1 round),
//! `--only TEXT` (only the variants whose name contains TEXT, nothing else: for profiling),
//! `--no-matrix` (skip timing the verdict matrix), `--no-callgrind` (skip counting instructions per cycle under valgrind's callgrind: the
//! untraced variants, marginal over 20000..60000 cycles; the only measure here that other
//! load on the machine does not disturb).

use avic_cosim::apic::{Icr, PhysEntry, VmLayout};
use avic_cosim::dut::{Dut, DEFAULT_CORES};
use avic_cosim::explore;
use avic_cosim::ffi::{AutoStop, HwConfig, ModelKind};
use avic_cosim::guest::GuestOp;
use avic_cosim::kvm::KvmVariant;
use avic_cosim::mem::Memory;
use avic_cosim::scenario::Scenario;
use avic_cosim::sched::Schedule;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const VEC_RUNNING: u8 = 0x40;
const VEC_NOT_RUNNING: u8 = 0x41;
/// EXITINFO2 of the exit for vCPU 2: cause 1 (target not running), index 2.
const EXIT_INFO2: u64 = 1 << 32 | 2;

/// What a run of the stimulus counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    ipis: u64,
    doorbells: u64,
    exits: u64,
    interrupts: u64,
    drops: u64,
    bad_exits: u64,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ipis={} doorbells={} exits={} interrupts={} drops={} bad_exits={}",
            self.ipis, self.doorbells, self.exits, self.interrupts, self.drops, self.bad_exits
        )
    }
}

/// One measured run.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    /// Thread CPU seconds of the cycle loop.
    secs: f64,
    /// Wall-clock seconds of the cycle loop.
    wall: f64,
    cycles: u64,
    counts: Counts,
    /// Waveform bytes written.
    bytes: u64,
    /// FFI calls made (batched mode).
    calls: u64,
}

impl Sample {
    fn mcps(&self) -> f64 {
        self.cycles as f64 / self.secs / 1e6
    }
    fn wall_mcps(&self) -> f64 {
        self.cycles as f64 / self.wall / 1e6
    }
}

/// The ping-pong stimulus, reacting to the outputs after each cycle (as the C++ testbench).
struct PingPong {
    to_running: bool,
    icr: [(u32, u32); 2],
    k: Counts,
}

impl PingPong {
    fn new() -> Self {
        let a = Icr::fixed_physical(VEC_RUNNING, 1);
        let b = Icr::fixed_physical(VEC_NOT_RUNNING, 2);
        PingPong {
            to_running: true,
            icr: [(a.lo(), a.hi()), (b.lo(), b.hi())],
            k: Counts::default(),
        }
    }

    #[inline(always)]
    fn after_cycle(&mut self, d: &mut Dut) {
        for c in 0..DEFAULT_CORES {
            let o = &d.out.core[c];
            if o.exit_valid {
                self.k.exits += 1;
                if c != 0 || o.exit_info2 != EXIT_INFO2 {
                    self.k.bad_exits += 1;
                }
            }
            self.k.doorbells += u64::from(o.doorbell_valid);
            self.k.drops += u64::from(o.db_drop);
            if o.intr_valid {
                self.k.interrupts += 1;
                d.inp.core[c].eoi = true;
            }
        }
        if !d.out.core[0].busy {
            let (lo, hi) = self.icr[usize::from(!self.to_running)];
            d.write_icr(0, lo, hi);
            self.to_running = !self.to_running;
            self.k.ipis += 1;
        }
    }
}

/// vCPU c on core c; vCPUs 0, 1, 3 running (cores 0 and 1 in guest mode), vCPU 2 not.
fn bench_dut(kind: ModelKind) -> Dut {
    let l = VmLayout::default();
    let mut mem = Memory::new(l.mem_size(8), DEFAULT_CORES as u8);
    mem.set_logging(false);
    for id in 0..4u8 {
        let e = PhysEntry {
            valid: true,
            is_running: id != 2,
            backing: l.backing(id),
            host_id: id.into(),
        };
        mem.poke(l.phys_entry(id), e.encode())
            .expect("table in memory");
    }
    let hw = HwConfig {
        atomic_irr: true,
        ..HwConfig::default()
    };
    let mut d = Dut::new(kind, hw, mem).expect("model");
    d.inp.phys_base = l.phys_table;
    d.inp.phys_max_idx = 3;
    d.inp.log_base = l.log_table;
    for c in 0..DEFAULT_CORES {
        let ci = d.core(c);
        ci.backing = l.backing(c as u8);
        ci.self_idx = c as u8;
        ci.guest_mode = c < 2;
        ci.intr_ready = true;
    }
    d
}

fn open_wave(d: &mut Dut, wave: Option<&Path>) {
    if let Some(w) = wave {
        d.open_trace(w.to_str().expect("utf-8 path"))
            .expect("open trace");
    }
}

fn finish(
    d: &mut Dut,
    wave: Option<&Path>,
    t: (f64, f64),
    n: u64,
    k: Counts,
    calls: u64,
) -> Sample {
    d.close_trace();
    Sample {
        secs: t.0,
        wall: t.1,
        cycles: n,
        counts: k,
        bytes: wave.map(file_len).unwrap_or(0),
        calls,
    }
}

/// (a) One FFI call per cycle, the Rust memory answering every port.
fn rust_step(kind: ModelKind, n: u64, wave: Option<&Path>) -> Sample {
    let mut d = bench_dut(kind);
    open_wave(&mut d, wave);
    let mut s = PingPong::new();
    let (c0, t0) = (thread_cpu(), Instant::now());
    for _ in 0..n {
        d.step().expect("step");
        s.after_cycle(&mut d);
        if d.txns().len() >= 512 {
            d.clear_logs();
        }
    }
    let t = (thread_cpu() - c0, t0.elapsed().as_secs_f64());
    finish(&mut d, wave, t, n, s.k, n)
}

/// (b) Batched: the C++ responder answers; Rust reacts only after cycles with an event.
fn rust_batched(kind: ModelKind, n: u64, wave: Option<&Path>) -> Sample {
    let mut d = bench_dut(kind);
    d.load_autonomous().expect("load the C++ memory");
    open_wave(&mut d, wave);
    let stop = AutoStop::EVERY_EVENT;
    let mut s = PingPong::new();
    let (mut left, mut calls) = (n, 0u64);
    let (c0, t0) = (thread_cpu(), Instant::now());
    // The first cycle alone: the stimulus starts on the idle sender seen after it.
    let mut chunk = 1;
    while left > 0 {
        let ran = d
            .run_autonomous(chunk.min(left), &stop)
            .expect("run_autonomous");
        left -= ran;
        calls += 1;
        s.after_cycle(&mut d);
        if d.events().len() >= 256 {
            d.clear_logs();
        }
        chunk = u64::MAX;
    }
    let t = (thread_cpu() - c0, t0.elapsed().as_secs_f64());
    finish(&mut d, wave, t, n, s.k, calls)
}

/// CPU time of the calling thread: the machine may be shared, so rates are per CPU-second
/// (wall-clock rates are printed too).
fn thread_cpu() -> f64 {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clk: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; the clock id is Linux's.
    let r = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(r, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Runs the C++ testbench; it times its own cycle loop.
fn cpp(tb: &Path, mode: &str, n: u64, wave: Option<&Path>) -> Sample {
    let mut cmd = Command::new(tb);
    cmd.arg(mode).arg(n.to_string());
    if let Some(w) = wave {
        cmd.arg(w);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| die(&format!("cannot run {}: {e}", tb.display())));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        eprintln!(
            "ERROR: {} {mode} {n} failed: {text}{}",
            tb.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let kv = parse_kv(&text);
    Sample {
        secs: kv_f(&kv, "cpu_secs"),
        wall: kv_f(&kv, "secs"),
        cycles: kv_u(&kv, "cycles"),
        counts: counts_of(&kv),
        bytes: wave.map(file_len).unwrap_or(0),
        calls: 0,
    }
}

fn parse_kv(text: &str) -> BTreeMap<String, String> {
    text.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn kv_u(kv: &BTreeMap<String, String>, k: &str) -> u64 {
    kv.get(k).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn kv_f(kv: &BTreeMap<String, String>, k: &str) -> f64 {
    kv.get(k).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

fn counts_of(kv: &BTreeMap<String, String>) -> Counts {
    Counts {
        ipis: kv_u(kv, "ipis"),
        doorbells: kv_u(kv, "doorbells"),
        exits: kv_u(kv, "exits"),
        interrupts: kv_u(kv, "interrupts"),
        drops: kv_u(kv, "drops"),
        bad_exits: kv_u(kv, "bad_exits"),
    }
}

fn die(msg: &str) -> ! {
    eprintln!("error: {msg}");
    exit(2)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

struct Opts {
    cycles: u64,
    trace_cycles: u64,
    rounds: usize,
    explore_secs: f64,
    cocotb_cycles: u64,
    /// Run only the variants whose name contains this (and skip the rest of the bench).
    only: Option<String>,
    /// Count instructions per cycle with callgrind (valgrind) for the untraced variants.
    callgrind: bool,
    /// Time `avic-cosim matrix` with one thread and with all cores.
    matrix: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        cycles: 2_000_000,
        trace_cycles: 100_000,
        rounds: 5,
        explore_secs: 3.0,
        cocotb_cycles: 20_000,
        only: None,
        callgrind: true,
        matrix: true,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    let val = |i: usize| -> &str {
        args.get(i + 1)
            .map(String::as_str)
            .unwrap_or_else(|| die(&format!("{} needs a value", args[i])))
    };
    while i < args.len() {
        let num = |s: &str| -> f64 {
            s.parse()
                .unwrap_or_else(|_| die(&format!("bad number `{s}`")))
        };
        match args[i].as_str() {
            "--cycles" => o.cycles = num(val(i)) as u64,
            "--trace-cycles" => o.trace_cycles = num(val(i)) as u64,
            "--rounds" => o.rounds = num(val(i)) as usize,
            "--explore-secs" => o.explore_secs = num(val(i)),
            "--cocotb-cycles" => o.cocotb_cycles = num(val(i)) as u64,
            "--only" => o.only = Some(val(i).to_string()),
            "--no-matrix" => {
                o.matrix = false;
                i += 1;
                continue;
            }
            "--no-callgrind" => {
                o.callgrind = false;
                i += 1;
                continue;
            }
            "--quick" => {
                o.cycles /= 10;
                o.trace_cycles /= 10;
                o.cocotb_cycles /= 10;
                o.explore_secs /= 3.0;
                o.rounds = 1;
                o.callgrind = false;
                o.matrix = false;
                i += 1;
                continue;
            }
            // `cargo bench` passes --bench; libtest-style filters are ignored.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o.rounds = o.rounds.max(1);
    o
}

fn build_cpp_tb() -> PathBuf {
    let t0 = Instant::now();
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let st = Command::new("make")
        .args(["-s", "-C", &format!("{ROOT}/tb/cpp"), &format!("-j{jobs}")])
        .status()
        .unwrap_or_else(|e| die(&format!("cannot run make: {e}")));
    if !st.success() {
        die("building the C++ testbench (make -C tb/cpp) failed");
    }
    let tb = PathBuf::from(format!("{ROOT}/target/tb-cpp/avic_tb"));
    println!(
        "C++ testbench: {} (make -C tb/cpp: {:.1} s)",
        tb.display(),
        t0.elapsed().as_secs_f64()
    );
    tb
}

type Runner<'a> = Box<dyn Fn(Option<&Path>) -> Sample + 'a>;

struct Variant<'a> {
    name: &'static str,
    /// Name of the C++ variant it is compared with (itself for the C++ ones).
    base: &'static str,
    cycles: u64,
    wave_ext: Option<&'static str>,
    run: Runner<'a>,
    samples: Vec<Sample>,
}

fn main() {
    let o = opts();
    let tb = build_cpp_tb();
    let tmp = std::env::temp_dir().join(format!("avic-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap_or_else(|e| die(&format!("{}: {e}", tmp.display())));
    let (n, nt) = (o.cycles, o.trace_cycles);
    let tbr = &tb;
    let mut vs: Vec<Variant> = vec![
        Variant {
            name: "C++ testbench",
            base: "C++ testbench",
            cycles: n,
            wave_ext: None,
            run: Box::new(move |_| cpp(tbr, "plain", n, None)),
            samples: vec![],
        },
        Variant {
            name: "(a) Rust Dut::step, 1 FFI call/cycle",
            base: "C++ testbench",
            cycles: n,
            wave_ext: None,
            run: Box::new(move |_| rust_step(ModelKind::Plain, n, None)),
            samples: vec![],
        },
        Variant {
            name: "(b) Rust batched, C++ responder",
            base: "C++ testbench",
            cycles: n,
            wave_ext: None,
            run: Box::new(move |_| rust_batched(ModelKind::Plain, n, None)),
            samples: vec![],
        },
        Variant {
            name: "C++ testbench, VCD on",
            base: "C++ testbench, VCD on",
            cycles: nt,
            wave_ext: Some("vcd"),
            run: Box::new(move |w| cpp(tbr, "vcd", nt, w)),
            samples: vec![],
        },
        Variant {
            name: "(c) Rust Dut::step, VCD on",
            base: "C++ testbench, VCD on",
            cycles: nt,
            wave_ext: Some("vcd"),
            run: Box::new(move |w| rust_step(ModelKind::Vcd, nt, w)),
            samples: vec![],
        },
        Variant {
            name: "C++ testbench, FST on",
            base: "C++ testbench, FST on",
            cycles: nt,
            wave_ext: Some("fst"),
            run: Box::new(move |w| cpp(tbr, "fst", nt, w)),
            samples: vec![],
        },
        Variant {
            name: "(c) Rust Dut::step, FST on",
            base: "C++ testbench, FST on",
            cycles: nt,
            wave_ext: Some("fst"),
            run: Box::new(move |w| rust_step(ModelKind::Fst, nt, w)),
            samples: vec![],
        },
    ];

    if let Some(f) = &o.only {
        for v in vs.iter_mut().filter(|v| v.name.contains(f.as_str())) {
            for _ in 0..o.rounds {
                let wave = v.wave_ext.map(|e| tmp.join(format!("bench.{e}")));
                let s = (v.run)(wave.as_deref());
                println!("{:<40} {:8.3} Mcycles/s  {}", v.name, s.mcps(), s.counts);
            }
        }
        let _ = std::fs::remove_dir_all(&tmp);
        return;
    }
    println!(
        "\n{} rounds, interleaved; {n} cycles plain, {nt} cycles traced (waveforms in {})",
        o.rounds,
        tmp.display()
    );
    for r in 0..o.rounds {
        for v in vs.iter_mut() {
            let wave = v.wave_ext.map(|e| tmp.join(format!("bench.{e}")));
            let s = (v.run)(wave.as_deref());
            if let Some(w) = &wave {
                let _ = std::fs::remove_file(w);
            }
            println!(
                "  round {}  {:<40} {:8.3} Mcycles/CPU-s {:8.3} Mcycles/s wall",
                r + 1,
                v.name,
                s.mcps(),
                s.wall_mcps()
            );
            v.samples.push(s);
        }
    }

    // Same stimulus, same counts.
    let mut errors = 0;
    for v in &vs {
        let base = vs.iter().find(|b| b.name == v.base).expect("base variant");
        for s in &v.samples {
            if s.counts != base.samples[0].counts || s.counts.bad_exits != 0 || s.cycles != v.cycles
            {
                errors += 1;
                println!(
                    "ERROR: {} counted {} over {} cycles; {} counted {}",
                    v.name, s.counts, s.cycles, base.name, base.samples[0].counts
                );
            }
        }
    }
    let c0 = vs[0].samples[0].counts;
    println!("\ncounts over {n} cycles (every plain variant): {c0}");
    println!(
        "counts over {nt} cycles (every traced variant): {}",
        vs[3].samples[0].counts
    );

    // Instructions per cycle: the machine may be shared, instruction counts are not disturbed.
    let ir: Vec<Option<f64>> = vs
        .iter()
        .map(|v| {
            if o.callgrind && v.wave_ext.is_none() {
                ir_per_cycle(v, &tb)
            } else {
                None
            }
        })
        .collect();
    if o.callgrind && ir.iter().all(Option::is_none) {
        println!("\ncallgrind: skipped (valgrind not found or failed)");
    }

    let med = |v: &Variant| median(v.samples.iter().map(Sample::mcps).collect());
    let best = |v: &Variant| v.samples.iter().map(Sample::mcps).fold(0.0, f64::max);
    let med_wall = |v: &Variant| median(v.samples.iter().map(Sample::wall_mcps).collect());
    let cpp_plain = med(&vs[0]);
    let mut rows: Vec<String> = Vec::new();
    println!(
        "\nMcycles per CPU-second of the simulating thread: median (best; wall-clock median)\n\
         {:<52} {:>21} {:>8} {:>8} {:>9} {:>8} {:>13}",
        "variant", "Mcycles/s", "vs C++", "best", "vs plain", "B/cycle", "instr/cycle"
    );
    let ir_cpp = ir[0];
    for (v, ir_v) in vs.iter().zip(&ir) {
        let (m, mb, mw) = (med(v), best(v), med_wall(v));
        let base_v = vs.iter().find(|b| b.name == v.base).expect("base");
        let (base, base_best) = (med(base_v), best(base_v));
        let traced = v.wave_ext.is_some();
        let bpc = median(
            v.samples
                .iter()
                .map(|s| s.bytes as f64 / s.cycles as f64)
                .collect(),
        );
        let calls: u64 = v.samples.iter().map(|s| s.calls).sum();
        let cyc: u64 = v.samples.iter().map(|s| s.cycles).sum();
        let name = if calls > 0 && calls != cyc {
            format!("{}, {:.1} cycles/call", v.name, cyc as f64 / calls as f64)
        } else {
            v.name.to_string()
        };
        let dash = || "-".to_string();
        let vs_plain = if traced {
            format!("{:.3}x", m / cpp_plain)
        } else {
            dash()
        };
        let bytes = if traced { format!("{bpc:.0}") } else { dash() };
        let instr = match (ir_v, ir_cpp) {
            (Some(i), Some(c)) => format!("{i:.0} ({:.3}x)", c / i),
            _ => dash(),
        };
        println!(
            "{name:<52} {:>21} {:>7.3}x {:>7.3}x {vs_plain:>9} {bytes:>8} {instr:>13}",
            format!("{m:.3} ({mb:.3}; {mw:.3})"),
            m / base,
            mb / base_best,
        );
        rows.push(format!(
            "| {name} | {m:.3} ({mb:.3}; {mw:.3}) | **{:.3}x** ({:.3}x) | {instr} | {vs_plain} | {bytes} |",
            m / base,
            mb / base_best
        ));
    }
    let _ = std::fs::remove_dir_all(&tmp);

    let explore_rows = exploration(o.explore_secs);
    let cocotb_row = cocotb(&tb, o.cocotb_cycles, cpp_plain);
    let matrix_rows = if o.matrix { matrix_times() } else { Vec::new() };

    println!(
        "\n## README table ({} interleaved rounds; Mcycles per CPU-second of the simulating thread)\n",
        o.rounds
    );
    println!(
        "| variant | Mcycles/CPU-s: median (best; wall median) | vs C++ testbench, same tracing: \
         median (best) | instructions/cycle (C++ / this) | vs untraced C++ | bytes/cycle |"
    );
    println!("|---|---|---|---|---|---|");
    for r in rows
        .iter()
        .chain(cocotb_row.iter())
        .chain(explore_rows.iter())
        .chain(matrix_rows.iter())
    {
        println!("{r}");
    }
    println!("\nbuild times: `make build-times`");
    if errors > 0 {
        println!("\nERROR: {errors} runs counted differently from the C++ testbench");
        exit(1);
    }
}

/// Instructions of a command under callgrind, or None.
fn callgrind_ir(cmd: &[String]) -> Option<u64> {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .args(cmd)
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let n = err.lines().find_map(|l| l.split("Collected :").nth(1))?;
    n.trim().replace(',', "").parse().ok()
}

/// Marginal instructions per simulated cycle of a variant: the difference of two runs of
/// different lengths, so construction and start-up cancel out.
fn ir_per_cycle(v: &Variant, tb: &Path) -> Option<f64> {
    const N1: u64 = 20_000;
    const N2: u64 = 60_000;
    let cmd = |n: u64| -> Vec<String> {
        if v.name.starts_with("C++") {
            vec![tb.display().to_string(), "plain".into(), n.to_string()]
        } else {
            let exe = std::env::current_exe().expect("bench executable");
            [exe.display().to_string(), "--only".into(), v.name.into()]
                .into_iter()
                .chain([
                    "--cycles".into(),
                    n.to_string(),
                    "--rounds".into(),
                    "1".into(),
                ])
                .collect()
        }
    };
    let (a, b) = (callgrind_ir(&cmd(N1))?, callgrind_ir(&cmd(N2))?);
    Some(b.saturating_sub(a) as f64 / (N2 - N1) as f64)
}

/// The seed scenario of `tb/seed_bugs.rs`: vCPU 0 sends 0x40 to vCPU 1, which halts.
fn seed_scenario() -> Scenario {
    Scenario::new(2, KvmVariant::V4)
        .hw(HwConfig {
            atomic_irr: true,
            ..HwConfig::default()
        })
        .program(0, &[GuestOp::SendIpi(Icr::fixed_physical(VEC_RUNNING, 1))])
        .program(1, &[GuestOp::Halt])
}

/// (d) Schedules per second of `explore::run` (random schedules), one thread and all cores.
fn exploration(secs: f64) -> Vec<String> {
    let sc = seed_scenario();
    let budget = Duration::from_secs_f64(secs);
    let (mut runs, mut cycles) = (0u64, 0u64);
    let t0 = Instant::now();
    while t0.elapsed() < budget {
        let o = explore::run(&sc, &Schedule::random(runs)).expect("explore::run");
        cycles += o.cycles;
        runs += 1;
    }
    let one = runs as f64 / t0.elapsed().as_secs_f64();
    let per = cycles as f64 / runs as f64;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("rayon pool");
    let total = ((one * secs) as u64).max(1) * threads as u64;
    let t1 = Instant::now();
    let par_cycles: u64 = pool.install(|| {
        (0..total)
            .into_par_iter()
            .map(|s| {
                explore::run(&sc, &Schedule::random(s))
                    .expect("explore::run")
                    .cycles
            })
            .sum()
    });
    let all = total as f64 / t1.elapsed().as_secs_f64();
    println!(
        "\n(d) exploration, seed scenario (V4, APM), random schedules, {per:.0} cycles each:\n    \
         1 thread: {one:.0} schedules/s ({runs} runs)\n    {threads} threads: {all:.0} schedules/s \
         ({total} runs, {:.2}x; {par_cycles} cycles)",
        all / one
    );
    vec![
        format!("| (d) exploration: `explore::run`, seed scenario, 1 thread | {one:.0} schedules/s, {per:.0} cycles each | - | - | - | - |"),
        format!("| (d) exploration: {threads} threads (rayon) | {all:.0} schedules/s ({:.2}x 1 thread) | - | - | - | - |", all / one),
    ]
}

/// Wall-clock time of the whole verdict matrix (`avic-cosim matrix`, its defaults) with one
/// thread and with all cores.
fn matrix_times() -> Vec<String> {
    println!("\nmatrix: cargo build --release --bin avic-cosim");
    let built = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--bin", "avic-cosim"])
        .current_dir(ROOT)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let exe = PathBuf::from(format!("{ROOT}/target/release/avic-cosim"));
    if !built || !exe.exists() {
        println!("ERROR: matrix: building avic-cosim failed; skipped");
        return Vec::new();
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = std::env::temp_dir().join(format!("avic-bench-matrix-{}", std::process::id()));
    let mut secs = Vec::new();
    for jobs in [1, threads] {
        let t0 = Instant::now();
        let out = Command::new(&exe)
            .args(["matrix", "--jobs", &jobs.to_string(), "--replay-dir"])
            .arg(&dir)
            .output();
        let s = t0.elapsed().as_secs_f64();
        let _ = std::fs::remove_dir_all(&dir);
        let Ok(out) = out else {
            println!("ERROR: matrix: cannot run {}", exe.display());
            return Vec::new();
        };
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let summary = text
            .lines()
            .find(|l| l.contains(" cells, "))
            .unwrap_or("(no summary line)");
        // Exit status 1 means some cell is violated: the expected verdict, not a failure.
        if !matches!(out.status.code(), Some(0 | 1)) {
            println!("ERROR: matrix --jobs {jobs} exited with {}", out.status);
        }
        println!("matrix --jobs {jobs}: {s:.1} s wall ({summary})");
        secs.push(s);
    }
    vec![format!(
        "| whole verdict matrix, `avic-cosim matrix` (seed scenario, defaults) | {:.1} s with 1 thread, {:.1} s with {threads} ({:.2}x) | - | - | - | - |",
        secs[0],
        secs[1],
        secs[0] / secs[1]
    )]
}

/// A Python that imports cocotb 1.8.
fn cocotb_python() -> Option<PathBuf> {
    let mut cands: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("COCOTB_PYTHON") {
        cands.push(p.into());
    }
    cands.push(format!("{ROOT}/target/cocotb-venv/bin/python").into());
    cands.push("/tmp/cocotb-venv/bin/python".into());
    cands.into_iter().find(|p| {
        Command::new(p)
            .args([
                "-c",
                "import cocotb, sys; sys.exit(0 if cocotb.__version__.startswith('1.8') else 1)",
            ])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

/// cocotb 1.8.1 + Verilator driving the same RTL with the same stimulus (tb/cocotb).
fn cocotb(tb: &Path, n: u64, cpp_plain: f64) -> Option<String> {
    let Some(py) = cocotb_python() else {
        println!(
            "\ncocotb: skipped (no Python with cocotb 1.8 found: set COCOTB_PYTHON, or `make cocotb-venv`)"
        );
        return None;
    };
    println!(
        "\ncocotb: {} (building the cocotb model, then {n} cycles)",
        py.display()
    );
    let out = Command::new(&py)
        .arg(format!("{ROOT}/tb/cocotb/run.py"))
        .args(["--cycles", &n.to_string()])
        .output()
        .unwrap_or_else(|e| die(&format!("cannot run {}: {e}", py.display())));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let Some(line) = text.lines().rev().find(|l| l.starts_with("cocotb_result ")) else {
        println!(
            "ERROR: cocotb run failed:\n{}\n{}",
            text.lines().rev().take(30).collect::<Vec<_>>().join("\n"),
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    };
    let kv = parse_kv(line);
    let k = counts_of(&kv);
    let secs = kv_f(&kv, "secs");
    let cps = kv_u(&kv, "cycles") as f64 / secs;
    let c = cpp(tb, "plain", n, None);
    if c.counts != k {
        println!(
            "ERROR: cocotb counted {k} over {n} cycles; the C++ testbench {}",
            c.counts
        );
    }
    println!(
        "cocotb 1.8.1 + Verilator: {cps:.0} cycles/s over {n} cycles ({k}); C++ testbench is {:.0}x faster",
        cpp_plain * 1e6 / cps
    );
    Some(format!(
        "| cocotb 1.8.1 + Verilator 5.006, same stimulus ({n} cycles) | {:.4} | {:.5} (C++ is {:.0}x faster) | - | - | - |",
        cps / 1e6,
        cps / (cpp_plain * 1e6),
        cpp_plain * 1e6 / cps
    ))
}
