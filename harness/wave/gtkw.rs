//! The GTKWave save file (`.gtkw`) and translate filters written beside a trace.
//!
//! Save-file syntax as GTKWave 3.3 reads it (`savefile.c`, `analyzer.h`): `@<hex flags>` sets
//! the flags of the traces that follow (`TR_RJUSTIFY` 0x20 with `TR_BIN` 0x8, `TR_HEX` 0x2 or
//! `TR_DEC` 0x4; `TR_FTRANSLATED` 0x2000 for a translate filter; `TR_GRP_BEGIN` 0x800000 /
//! `TR_GRP_END` 0x1000000 with `TR_BLANK` 0x200 for group rows, `TR_CLOSED` 0x400000 closed),
//! `-text` a comment row, `^N file` the translate filter of the next traces, `*zoom marker
//! A B ... Z` the zoom, the primary marker and the 26 named markers (-1 unused),
//! `[markername] Xtext` a named marker's label, `[timestart]` the left edge of the view.
//! Filter and dump files are named relative to the save file (`[savefile]` is given, so GTKWave
//! resolves them against the save file's own directory wherever it is moved).

use super::lanes::{self, mark, step_label, Lanes};
use super::trace::Trace;
use super::{SwIds, WaveError, VCPU_LANES};
use crate::oracle::Invariant;
use crate::scenario::Scenario;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const FLAG_BIN: u32 = 0x28;
const FLAG_HEX: u32 = 0x22;
const FLAG_DEC: u32 = 0x24;
const FLAG_ENUM: u32 = 0x2024;
const FLAG_GROUP_BEGIN: u32 = 0x80_0200;
const FLAG_GROUP_END: u32 = 0x100_0200;

/// Window width in pixels and width of the signal-name pane: the zoom is computed for them.
const WIN_W: u32 = 1600;
const WIN_H: u32 = 1000;
const SIGNALS_W: u32 = 420;

/// A filter file: its kind (part of the file name) and `(value, name)` lines.
struct Filter {
    kind: &'static str,
    lines: Vec<(u64, String)>,
}

/// A key event for a named marker.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    time: u64,
    label: String,
}

/// Writes `NAME.gtkw` and the filters for the trace at `path`; returns their paths.
pub(crate) fn write(
    t: &Trace,
    ids: &SwIds,
    l: &Lanes,
    sc: &Scenario,
    path: &Path,
    dir: &Path,
    stem: &str,
) -> Result<(PathBuf, Vec<PathBuf>), WaveError> {
    let filters = filters(sc);
    let mut filter_paths = Vec::new();
    let mut filter_names = Vec::new();
    for f in &filters {
        let name = format!("{stem}.filter.{}.txt", f.kind);
        let mut text = format!("# GTKWave translate filter: {} codes\n", f.kind);
        for (v, n) in &f.lines {
            let _ = writeln!(text, "{v} {n}");
        }
        let p = dir.join(&name);
        std::fs::write(&p, text).map_err(super::io_err(&p))?;
        filter_paths.push(p);
        filter_names.push(name);
    }
    let filter_no = |kind: &str| -> (usize, &str) {
        let i = filters.iter().position(|f| f.kind == kind).unwrap_or(0);
        (i + 1, filter_names[i].as_str())
    };

    let names = t.full_names();
    let by_id = |id: usize| -> String {
        names
            .iter()
            .find(|(_, v)| v.id == id)
            .map(|(n, _)| n.clone())
            .unwrap_or_default()
    };
    let rtl = |suffix: &str| -> Result<String, WaveError> {
        names
            .iter()
            .find(|(n, v)| {
                let bare = match &v.range {
                    Some(r) => &n[..n.len() - r.len()],
                    None => n.as_str(),
                };
                bare.ends_with(&format!(".{suffix}")) && !bare.starts_with("sw.")
            })
            .map(|(n, _)| n.clone())
            .ok_or_else(|| WaveError::MissingSignal {
                path: path.to_path_buf(),
                name: suffix.to_string(),
            })
    };

    // Markers and the window.
    let vtime = l.violation().map(super::violation_time);
    let focus = vtime.unwrap_or(2 * l.end);
    let keys = key_events(l, focus);
    let t0 = 2 * l.start;
    let first = keys.first().map_or(focus, |k| k.time);
    let mut lo = first.saturating_sub(6).max(t0);
    let mut hi = (focus + 10).min(t.end_time);
    if hi - lo < 40 {
        lo = hi.saturating_sub(40).max(t0);
        hi = (lo + 40).min(t.end_time);
    }
    let zoom = zoom_for(hi - lo);

    let mut g = String::new();
    g.push_str("[*]\n[*] avic-cosim: RTL and software lanes of one run\n");
    match l.violation() {
        Some(v) => {
            let _ = writeln!(g, "[*] {v}");
        }
        None => g.push_str("[*] no violation\n"),
    }
    g.push_str("[*]\n");
    let trace_name = path
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let _ = writeln!(g, "[dumpfile] \"{trace_name}\"");
    let _ = writeln!(g, "[savefile] \"{stem}.gtkw\"");
    let _ = writeln!(g, "[timestart] {lo}");
    let _ = writeln!(g, "[size] {WIN_W} {WIN_H}");
    g.push_str("[pos] -1 -1\n");
    let mut named = [-1i64; 26];
    for (i, k) in keys.iter().enumerate() {
        named[i] = k.time as i64;
    }
    let _ = write!(g, "*{zoom:.6} {}", vtime.map_or(-1, |v| v as i64));
    for n in named {
        let _ = write!(g, " {n}");
    }
    g.push('\n');
    for (i, k) in keys.iter().enumerate() {
        let _ = writeln!(g, "[markername] {}{}", (b'A' + i as u8) as char, k.label);
    }
    let _ = writeln!(g, "[signals_width] {SIGNALS_W}");
    g.push_str("[sst_expanded] 0\n");

    let mut o = Out { g, flags: 0 };
    // The schedule.
    o.set(FLAG_GROUP_BEGIN);
    o.g.push_str("-schedule\n");
    o.sig(FLAG_ENUM, Some(filter_no("action")), &by_id(ids.action));
    o.sig(
        FLAG_ENUM,
        Some(filter_no("invariant")),
        &by_id(ids.violation),
    );
    o.sig(FLAG_BIN, None, &rtl("clk_i")?);
    o.set(FLAG_GROUP_END);
    o.g.push_str("-schedule\n");

    // The violating vCPU first: it is what the viewer opens on.
    let mut order: Vec<usize> = (0..ids.vcpu.len()).collect();
    if let Some(w) = l.violation() {
        order.sort_by_key(|&v| v != usize::from(w.vcpu));
    }
    for v in order {
        // Host CPU c is RTL core c: the vCPU's own, then the one it may migrate to.
        let home = sc.placement[v];
        let cores: Vec<u8> = std::iter::once(home).chain(sc.migrate_to[v]).collect();
        let title = match sc.migrate_to[v] {
            Some(m) => format!("vCPU {v} (host CPU {home}, core {home}; may migrate to {m})"),
            None => format!("vCPU {v} (host CPU {home}, core {home})"),
        };
        o.set(FLAG_GROUP_BEGIN);
        let _ = writeln!(o.g, "-{title}");
        for (&(name, width, _, _), &id) in VCPU_LANES.iter().zip(&ids.vcpu[v]) {
            let n = by_id(id);
            match name {
                "kvm_step" => o.sig(FLAG_ENUM, Some(filter_no("kvm_step")), &n),
                "mode" => o.sig(FLAG_ENUM, Some(filter_no("mode")), &n),
                "sb" => o.sig(FLAG_DEC, None, &n),
                _ if width > 1 => o.sig(FLAG_HEX, None, &n),
                _ => o.sig(FLAG_BIN, None, &n),
            }
        }
        for c in cores {
            let core = format!("g_core[{c}].u_core");
            let rtl_title = format!("RTL core {c}");
            o.set(FLAG_GROUP_BEGIN);
            let _ = writeln!(o.g, "-{rtl_title}");
            for s in ["guest_mode_i", "vmrun_i", "icr_wr_i"] {
                o.sig(FLAG_BIN, None, &rtl(&format!("{core}.{s}"))?);
            }
            // Aliases where the leaf name alone is ambiguous (`+{alias} signal`).
            let sender = rtl(&format!("{core}.u_sender.state_q"))?;
            let sender = format!("+{{sender_state_q}} {sender}");
            o.sig(FLAG_ENUM, Some(filter_no("sender_state")), &sender);
            let isrun = rtl(&format!("{core}.u_sender.isrun_q"))?;
            o.sig(FLAG_BIN, None, &format!("+{{sender_isrun_q}} {isrun}"));
            for s in [
                "req_valid_o",
                "rsp_valid_i",
                "doorbell_valid_o",
                "doorbell_i",
                "db_drop_o",
                "exit_valid_o",
            ] {
                o.sig(FLAG_BIN, None, &rtl(&format!("{core}.{s}"))?);
            }
            let eval = rtl(&format!("{core}.u_eval.state_q"))?;
            let eval = format!("+{{eval_state_q}} {eval}");
            o.sig(FLAG_ENUM, Some(filter_no("eval_state")), &eval);
            o.sig(FLAG_BIN, None, &rtl(&format!("{core}.intr_valid_o"))?);
            o.sig(FLAG_HEX, None, &rtl(&format!("{core}.intr_vec_o"))?);
            o.set(FLAG_GROUP_END);
            let _ = writeln!(o.g, "-{rtl_title}");
        }
        let _ = writeln!(o.g, "-{title}");
    }
    let gtkw = dir.join(format!("{stem}.gtkw"));
    std::fs::write(&gtkw, o.g).map_err(super::io_err(&gtkw))?;
    Ok((gtkw, filter_paths))
}

/// The save file being written: its text and the flags in force.
struct Out {
    g: String,
    flags: u32,
}

impl Out {
    fn set(&mut self, f: u32) {
        if f != self.flags {
            let _ = writeln!(self.g, "@{f:x}");
            self.flags = f;
        }
    }

    fn sig(&mut self, f: u32, filter: Option<(usize, &str)>, name: &str) {
        self.set(f);
        if let Some((n, file)) = filter {
            let _ = writeln!(self.g, "^{n} {file}");
        }
        let _ = writeln!(self.g, "{name}");
    }
}

/// GTKWave's zoom for `span` time units across the wave pane: `calczoom` shows `2^-zoom` time
/// units per 200 pixels (at most 200 pixels per unit: zoom 0).
fn zoom_for(span: u64) -> f64 {
    let px = f64::from(WIN_W - SIGNALS_W - 80);
    (-(span as f64 * 200.0 / px).log2()).min(0.0)
}

fn filters(sc: &Scenario) -> Vec<Filter> {
    let mut step = vec![(0, "-".to_string())];
    step.extend(
        lanes::all_steps()
            .into_iter()
            .map(|p| (u64::from(lanes::step_code(p)), step_label(p))),
    );
    step.push((255, "(unknown step)".into()));
    let mut action = vec![(0, "-".to_string())];
    action.extend(
        lanes::all_actions(sc.kvm.n_vcpus, sc.cores)
            .into_iter()
            .map(|a| (u64::from(lanes::action_code(a)), a.to_string())),
    );
    let mut inv = vec![(0, "holds".to_string())];
    inv.extend(
        Invariant::ALL
            .iter()
            .enumerate()
            .map(|(i, x)| (i as u64 + 1, format!("VIOLATED:{}", x.name()))),
    );
    let states = |names: &[&str]| -> Vec<(u64, String)> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u64, n.to_string()))
            .collect()
    };
    vec![
        Filter {
            kind: "kvm_step",
            lines: step,
        },
        Filter {
            kind: "mode",
            lines: lanes::MODE_NAMES
                .iter()
                .map(|&(v, n)| (v, n.to_string()))
                .collect(),
        },
        Filter {
            kind: "action",
            lines: action,
        },
        Filter {
            kind: "invariant",
            lines: inv,
        },
        Filter {
            kind: "sender_state",
            lines: states(&lanes::SENDER_STATES),
        },
        Filter {
            kind: "eval_state",
            lines: states(&lanes::EVAL_STATES),
        },
    ]
}

/// The events that led to the focus time: of the violating vCPU (of every vCPU if none) the
/// last IRR bit made visible, IsRunning read by the RTL, change of the globally visible
/// IsRunning, doorbell, dropped doorbell, sleep and wake-up at or before it, and every
/// interrupt it took of the violating vector; of every vCPU the last ICR write and #VMEXIT; the
/// violation itself. At most 26, in time order.
fn key_events(l: &Lanes, focus: u64) -> Vec<Key> {
    let t0 = 2 * l.start;
    let mut keys: Vec<Key> = Vec::new();
    let viol = l.violation();
    for v in 0..l.n {
        let mut last: Vec<Option<Key>> = vec![None; 10];
        let mut prev: Option<&lanes::VcpuSample> = None;
        for (i, s) in l.samples.iter().enumerate() {
            let pre = t0 + 2 * i as u64;
            let post = pre + 1;
            let x = &s.vcpu[v];
            let f = x.flags;
            // Of the other vCPUs only what a sender does: ICR writes and exits.
            let relevant = |slot: usize| {
                viol.is_none_or(|w| usize::from(w.vcpu) == v) || slot == 0 || slot == 6
            };
            let mut note = |slot: usize, time: u64, label: String| {
                if time <= focus && relevant(slot) {
                    last[slot] = Some(Key { time, label });
                }
            };
            if f & mark::ICR_WRITE != 0 {
                note(0, pre, format!("ICR write v{v}"));
            }
            if f & mark::IRR_VISIBLE != 0 {
                note(1, pre, format!("IRR[{v}] set"));
            }
            if f & mark::ISRUN_READ != 0 {
                let r = u8::from(f & mark::ISRUN_GLOBAL != 0);
                note(2, pre, format!("IsRun[{v}] read={r}"));
            }
            let was = prev.map(|p| p.flags & mark::ISRUN_GLOBAL != 0);
            let now = f & mark::ISRUN_GLOBAL != 0;
            if was.is_some_and(|w| w != now) {
                note(3, pre, format!("IsRun[{v}]={}", u8::from(now)));
            }
            if f & mark::DOORBELL != 0 {
                note(4, post, format!("doorbell>{v}"));
            }
            if f & mark::DB_DROPPED != 0 {
                note(5, post, format!("drop db {v}"));
            }
            if f & mark::VMEXIT != 0 {
                note(6, post, format!("#VMEXIT {v}"));
            }
            let slept = prev.is_some_and(|p| p.flags & mark::SLEEPING != 0);
            if f & mark::SLEEPING != 0 && !slept {
                note(7, pre, format!("v{v} sleeps"));
            }
            if f & mark::WAKE != 0 {
                note(8, pre, format!("v{v} woken"));
            }
            if x.intr != 0 {
                let label = format!("v{v} takes {:#04x}", x.intr);
                let all = viol.is_some_and(|w| usize::from(w.vcpu) == v && w.vector == x.intr);
                if all && post <= focus {
                    keys.push(Key { time: post, label });
                } else {
                    note(9, post, label);
                }
            }
            prev = Some(x);
        }
        keys.extend(last.into_iter().flatten());
    }
    if let Some(w) = viol {
        keys.push(Key {
            time: focus,
            label: format!("{} v{} {:#04x}", w.invariant, w.vcpu, w.vector),
        });
    }
    keys.sort();
    keys.dedup();
    let skip = keys.len().saturating_sub(26);
    keys.drain(..skip);
    keys
}
