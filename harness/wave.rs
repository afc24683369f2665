//! Waveforms of a whole run: the RTL's signals and the software side in one trace, with a
//! GTKWave save file that opens it at the bug.
//!
//! [`record`] runs a scenario under a schedule on the VCD build of the model. Verilator writes
//! the RTL's VCD to a temporary file beside the output while the world records the software
//! lanes ([`Lanes`], see `lanes` for their timing); then the two are merged into one file,
//! VCD or FST by its extension, and beside it go:
//!
//! - `NAME.gtkw`: the signals grouped per vCPU and core (its software lanes, then its core's
//!   RTL signals: guest mode, ICR write, sender state, ports, doorbells, exit, receiver state,
//!   interrupt), enum lanes shown by name, the primary marker at the violation, named markers
//!   (A, B, ...) at the events that led to it, and the view zoomed to that window;
//! - `NAME.filter.*.txt`: GTKWave translate filters (value -> name) for the enum lanes: the
//!   KVM step, `vcpu->mode`, the scheduled action, the invariant, the RTL state machines.
//!
//! Open with `gtkwave NAME.gtkw` (or `gtkwave NAME.vcd NAME.gtkw`). The files hold no date and
//! no absolute path: the same run writes the same bytes, and the files can be moved together.
//!
//! # Signals
//!
//! Time unit: half a cycle (time `2c` is the low phase of cycle `c`, `2c+1` after its edge), as
//! in the RTL's own trace. Under `sw`:
//!
//! - `action`: the action the schedule chose in the cycle (`thread1`, `drain cpu1`, ...);
//!   `violation`: the invariant broken, from the moment it is detected.
//! - `vcpuN.kvm_step` (the step the thread executes or waits at), `stepped`, `mode`
//!   (`vcpu->mode` in memory), `sb` (store-buffer entries of host CPU N), `isrun_global`
//!   (IsRunning of its table entry in memory), `isrun_own` (as its own CPU reads it, store
//!   buffer forwarded), `sleeping`, `irr` (highest vector set in its IRR, 0 if none), `intr`
//!   (vector taken by the guest, a one-cycle pulse);
//! - markers (one-cycle pulses): `icr_write`, `irr_visible` (a vector sent to it became
//!   globally visible in its IRR), `isrun_read` (the RTL completed a read of its table entry),
//!   `doorbell` (rung to its core), `doorbell_dropped`, `vmexit` (#VMEXIT of its core's sender),
//!   `wake`, `violated`.

mod gtkw;
mod lanes;
mod trace;

pub use lanes::Lanes;

use crate::ffi::ModelKind;
use crate::oracle::Invariant;
use crate::scenario::Scenario;
use crate::sched::Schedule;
use crate::sim::{Outcome, World, WorldError};
use lanes::{mark, CycleSample};
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use trace::{Change, Item, Trace, Var};

/// Errors of writing a waveform; each names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum WaveError {
    /// The output name ends neither in `.vcd` nor in `.fst`.
    #[error("{0}: waveform name must end in .vcd or .fst")]
    Extension(PathBuf),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The run failed (or the model could not open its trace).
    #[error("{path}: {source}")]
    Run {
        /// The waveform being written.
        path: PathBuf,
        /// The error.
        source: WorldError,
    },
    /// Verilator's VCD could not be read.
    #[error("{path}:{line}: {msg}")]
    Parse {
        /// The RTL's temporary VCD.
        path: PathBuf,
        /// Line.
        line: usize,
        /// What was wrong.
        msg: String,
    },
    /// The FST writer failed.
    #[error("{path}: {msg}")]
    Fst {
        /// The FST file.
        path: PathBuf,
        /// Its message.
        msg: String,
    },
    /// A signal the save file shows is not in the RTL's trace.
    #[error("{path}: RTL trace has no signal `{name}`")]
    MissingSignal {
        /// The RTL's temporary VCD.
        path: PathBuf,
        /// The signal.
        name: String,
    },
}

/// Waveform file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Value change dump (text).
    Vcd,
    /// GTKWave's Fast Signal Trace (compressed).
    Fst,
}

impl Format {
    /// The format named by `path`'s extension.
    pub fn of(path: &Path) -> Result<Format, WaveError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("vcd") => Ok(Format::Vcd),
            Some("fst") => Ok(Format::Fst),
            _ => Err(WaveError::Extension(path.to_path_buf())),
        }
    }
}

/// The files [`record`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaveFiles {
    /// The waveform (VCD or FST).
    pub trace: PathBuf,
    /// The GTKWave save file beside it.
    pub gtkw: PathBuf,
    /// The translate filter files the save file refers to.
    pub filters: Vec<PathBuf>,
    /// Waveform time of the violation (half-cycles), if the run ended with one.
    pub violation_time: Option<u64>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WaveError + '_ {
    move |source| WaveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs `sc` under `sched` with the RTL traced and writes the waveform to `path` (`.vcd` or
/// `.fst`), with its `.gtkw` save file and translate filters beside it.
pub fn record(
    sc: &Scenario,
    sched: &Schedule,
    path: &Path,
) -> Result<(Outcome, WaveFiles), WaveError> {
    let format = Format::of(path)?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| WaveError::Extension(path.to_path_buf()))?
        .to_string();
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let rtl = dir.join(format!(".{stem}.rtl.vcd"));
    let result = run_and_merge(sc, sched, path, &rtl, format);
    let _ = std::fs::remove_file(&rtl);
    let (outcome, trace, lanes) = result?;
    let (gtkw, filters) = gtkw::write(&trace.0, &trace.1, &lanes, sc, path, &dir, &stem)?;
    Ok((
        outcome,
        WaveFiles {
            trace: path.to_path_buf(),
            gtkw,
            filters,
            violation_time: lanes.violation().map(violation_time),
        },
    ))
}

/// Waveform time of a violation: when its invariant is checked (after the edge of the cycle
/// for an RTL event, at the start of the cycle at quiescence).
fn violation_time(v: &crate::oracle::Violation) -> u64 {
    2 * v.cycle + u64::from(lanes::violation_post_edge(v.invariant))
}

type Merged = (Trace, SwIds);

fn run_and_merge(
    sc: &Scenario,
    sched: &Schedule,
    path: &Path,
    rtl: &Path,
    format: Format,
) -> Result<(Outcome, Merged, Lanes), WaveError> {
    let run_err = |source| WaveError::Run {
        path: path.to_path_buf(),
        source,
    };
    let mut world = World::new(sc, ModelKind::Vcd).map_err(run_err)?;
    let rtl_str = rtl.to_str().ok_or_else(|| WaveError::Io {
        path: rtl.to_path_buf(),
        source: std::io::Error::other("path is not UTF-8"),
    })?;
    world.open_trace(rtl_str).map_err(run_err)?;
    let mut lanes = Lanes::new(sc, world.dut().cycle());
    // The world (and with it the model, which flushes and closes the VCD) is gone after this.
    let outcome = world.run_with(sched, &mut lanes).map_err(run_err)?;
    let file = File::open(rtl).map_err(io_err(rtl))?;
    let mut t = trace::parse_vcd(BufReader::new(file)).map_err(|e| WaveError::Parse {
        path: rtl.to_path_buf(),
        line: e.line,
        msg: e.msg,
    })?;
    let ids = add_lanes(&mut t, &lanes);
    let out = File::create(path).map_err(io_err(path))?;
    match format {
        Format::Vcd => {
            let mut w = BufWriter::new(out);
            trace::write_vcd(&t, &mut w)
                .and_then(|()| w.flush())
                .map_err(io_err(path))?;
        }
        Format::Fst => {
            trace::write_fst(&t, BufWriter::new(out)).map_err(|e| WaveError::Fst {
                path: path.to_path_buf(),
                msg: e.to_string(),
            })?;
        }
    }
    Ok((outcome, (t, ids), lanes))
}

/// Half-cycles the trace goes on after the run's last cycle (the lanes hold their state).
pub(crate) const TAIL: u64 = 10;

/// What a software lane shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LaneKind {
    Step,
    Mode,
    Sb,
    Irr,
    Intr,
    /// A state bit.
    Flag(u16),
    /// A one-cycle marker.
    Mark(u16),
}

/// A per-vCPU lane: name, width, kind, after the edge.
pub(crate) const VCPU_LANES: [(&str, u32, LaneKind, bool); 17] = [
    ("kvm_step", 8, LaneKind::Step, false),
    ("sleeping", 1, LaneKind::Flag(mark::SLEEPING), false),
    ("mode", 2, LaneKind::Mode, false),
    ("isrun_global", 1, LaneKind::Flag(mark::ISRUN_GLOBAL), false),
    ("isrun_own", 1, LaneKind::Flag(mark::ISRUN_OWN), false),
    ("sb", 4, LaneKind::Sb, false),
    ("irr", 8, LaneKind::Irr, false),
    ("intr", 8, LaneKind::Intr, true),
    ("icr_write", 1, LaneKind::Mark(mark::ICR_WRITE), false),
    ("irr_visible", 1, LaneKind::Mark(mark::IRR_VISIBLE), false),
    ("isrun_read", 1, LaneKind::Mark(mark::ISRUN_READ), false),
    ("doorbell", 1, LaneKind::Mark(mark::DOORBELL), true),
    (
        "doorbell_dropped",
        1,
        LaneKind::Mark(mark::DB_DROPPED),
        true,
    ),
    ("vmexit", 1, LaneKind::Mark(mark::VMEXIT), true),
    ("wake", 1, LaneKind::Mark(mark::WAKE), false),
    ("violated", 1, LaneKind::Mark(mark::VIOLATED), false),
    ("stepped", 1, LaneKind::Mark(mark::STEPPED), false),
];

/// Signal ids of the software lanes in the merged trace.
#[derive(Clone, Debug)]
pub(crate) struct SwIds {
    /// `sw.action`.
    pub action: usize,
    /// `sw.violation`.
    pub violation: usize,
    /// Per vCPU, per [`VCPU_LANES`] entry.
    pub vcpu: Vec<Vec<usize>>,
}

/// Code of `i` in the `sw.violation` lane: its position in [`Invariant::ALL`] plus one.
fn invariant_code(i: Invariant) -> u64 {
    Invariant::ALL
        .iter()
        .position(|&x| x == i)
        .map_or(0, |p| p as u64 + 1)
}

/// Value of a lane for one sample (`None` past the last sample: markers fall, state holds).
fn lane_value(kind: LaneKind, s: Option<&lanes::VcpuSample>, last: &lanes::VcpuSample) -> u64 {
    let (s, past) = match s {
        Some(s) => (s, false),
        None => (last, true),
    };
    match kind {
        LaneKind::Step => u64::from(s.step),
        LaneKind::Mode => u64::from(s.mode),
        LaneKind::Sb => u64::from(s.sb.min(15)),
        LaneKind::Irr => u64::from(s.irr),
        LaneKind::Intr if past => 0,
        LaneKind::Intr => u64::from(s.intr),
        LaneKind::Flag(f) => u64::from(s.flags & f != 0),
        LaneKind::Mark(_) if past => 0,
        LaneKind::Mark(f) => u64::from(s.flags & f != 0),
    }
}

fn bits(v: u64, width: u32) -> Vec<u8> {
    (0..width)
        .rev()
        .map(|i| if v >> i & 1 == 1 { b'1' } else { b'0' })
        .collect()
}

/// Adds the `sw` scope and the lanes' value changes to the RTL trace.
fn add_lanes(t: &mut Trace, l: &Lanes) -> SwIds {
    let t0 = 2 * l.start;
    // Five idle cycles after the end, so the last events are not at the edge of the view.
    let t_end = 2 * l.end + TAIL;
    let samples: &[CycleSample] = &l.samples;
    let mut changes: Vec<Change> = Vec::new();
    // value(t) for a lane of phase p reads the sample of cycle (t - p) / 2.
    let mut emit = |id: usize, width: u32, post: bool, f: &dyn Fn(Option<usize>) -> u64| {
        let mut prev: Option<u64> = None;
        for time in t0..=t_end {
            let idx = if post && time == t0 {
                None
            } else {
                Some(((time - u64::from(post)) / 2 - l.start) as usize)
            };
            let v = match idx {
                None => 0,
                Some(i) => f(Some(i)),
            };
            if prev != Some(v) {
                changes.push(Change {
                    time,
                    id,
                    value: bits(v, width),
                });
                prev = Some(v);
            }
        }
    };
    let mut sw = Vec::new();
    let action = t.add_signal(8);
    sw.push(Item::Scope("sw".into()));
    sw.push(var("action", 8, action));
    emit(action, 8, false, &|i| {
        i.and_then(|i| samples.get(i))
            .map_or(0, |s| u64::from(s.action))
    });
    let violation = t.add_signal(3);
    sw.push(var("violation", 3, violation));
    let (vcycle, vcode, vpost) = l.violation().map_or((u64::MAX, 0, false), |v| {
        (
            v.cycle,
            invariant_code(v.invariant),
            lanes::violation_post_edge(v.invariant),
        )
    });
    emit(violation, 3, vpost, &|i| match i {
        Some(i) if l.start + i as u64 >= vcycle => vcode,
        _ => 0,
    });
    let last = samples.last().copied().unwrap_or_default();
    let mut vcpu_ids = Vec::new();
    for v in 0..l.n {
        sw.push(Item::Scope(format!("vcpu{v}")));
        let mut ids = Vec::new();
        for &(name, width, kind, post) in VCPU_LANES.iter() {
            let id = t.add_signal(width);
            ids.push(id);
            sw.push(var(name, width, id));
            let post = if kind == LaneKind::Mark(mark::VIOLATED) {
                l.violation()
                    .is_some_and(|x| lanes::violation_post_edge(x.invariant))
            } else {
                post
            };
            emit(id, width, post, &|i| {
                let s = i.and_then(|i| samples.get(i)).map(|s| &s.vcpu[v]);
                lane_value(kind, s, &last.vcpu[v])
            });
        }
        sw.push(Item::Up);
        vcpu_ids.push(ids);
    }
    sw.push(Item::Up);
    t.items.extend(sw);
    // Stable: the RTL's changes first within a time step, then the lanes in declaration order.
    t.changes.extend(changes);
    t.changes.sort_by_key(|c| c.time);
    t.end_time = t.end_time.max(t_end);
    SwIds {
        action,
        violation,
        vcpu: vcpu_ids,
    }
}

fn var(name: &str, width: u32, id: usize) -> Item {
    Item::Var(Var {
        name: name.into(),
        range: (width > 1).then(|| format!("[{}:0]", width - 1)),
        width,
        id,
    })
}
