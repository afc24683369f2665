//! Replay files: a counterexample as data. A replay file records everything a run depends on
//! besides the code: the scenario (a bundled name or a path, and the SHA-256 of its text), the
//! hardware configuration's fields, the KVM generation and its knobs, a user's RTL when the
//! run was not on the bundled one, the schedule's ranks and the violation to reproduce.
//!
//! Format 2 (written) is TOML, read and written with serde:
//!
//! ```toml
//! format = "avic-cosim-replay"
//! version = 2
//! scenario = "seed"
//! scenario_sha256 = "3f0c..."
//! ranks = [0, 0, 3, 1]
//!
//! [hardware]                 # the HwConfig fields; `name` is informational
//! name = "stale"
//! atomic_irr = true
//! isrun_order = "after-ack"  # after-ack | in-flight | before
//! stale_isrun = true
//! validate_first = true
//! latch_doorbell = false
//!
//! [kvm]                      # generation and knobs; `name` is informational
//! name = "V4-no-block-fences"
//! variant = "V4"
//! knobs = ["no-block-fences"]
//!
//! [expect]
//! invariant = "no-lost-wakeup"
//! vcpu = 1
//! vector = 64
//!
//! [rtl]                      # only for a user's RTL
//! top = "my_top"
//! filelist = "rtl/my.f"
//! ```
//!
//! A scenario whose text no longer has the recorded hash is an error ("scenario X changed
//! since the replay was written"), not a silent replay of something else. Format 1 (the
//! line-based `avic-cosim-replay 1` files, which name registry rows) is still read.
//!
//! `ranks` are [`Outcome::ranks`]: replayed with [`Schedule::replay`] on the scenario rebuilt
//! from `scenario`, `hardware` and `kvm`, they reproduce the run event for event.

use crate::explore::run;
use crate::ffi::HwConfig;
use crate::oracle::{Invariant, Violation};
use crate::scenario::bundled::{load_scenario, scenario_text};
use crate::scenario::file::sha256_hex;
use crate::scenario::variants::{
    cell_scenario, hw_variant_of, knob_names, kvm_row_of, parse_hw, parse_kvm, set_knob, HwVariant,
    KvmRow, ISRUN_ORDERS,
};
use crate::scenario::Scenario;
use crate::sched::Schedule;
use crate::sim::{Outcome, WorldError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// First line of a format 1 replay file.
pub const REPLAY_MAGIC: &str = "avic-cosim-replay 1";

/// `format` of a format 2 file.
pub const FORMAT: &str = "avic-cosim-replay";

/// The format version this build writes.
pub const VERSION: u32 = 2;

/// A parsed replay file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// Scenario name (bundled) or scenario file path.
    pub scenario: String,
    /// The scenario as its file describes it (before `hw` and `kvm` apply).
    pub base: Scenario,
    /// Hardware configuration (named when it is a row of the registry, else `custom`).
    pub hw: HwVariant,
    /// KVM generation and knobs.
    pub kvm: KvmRow,
    /// Ranks for [`Schedule::replay`].
    pub ranks: Vec<u16>,
    /// The violation the run must reproduce.
    pub expect: Expect,
    /// A user's RTL the run was made on: (top, file list); `None` for the bundled RTL.
    pub rtl: Option<(String, PathBuf)>,
    /// SHA-256 of the scenario's text when the file was written (`None`: format 1, unchecked).
    pub scenario_sha256: Option<String>,
}

/// The (top, file list) of `sc`'s user RTL, for [`Replay::rtl`].
pub fn user_rtl_of(sc: &Scenario) -> Option<(String, PathBuf)> {
    match &sc.rtl {
        crate::rtl::Rtl::User(u) => Some((u.top().to_string(), u.filelist().to_path_buf())),
        _ => None,
    }
}

/// What a replay must reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// Invariant.
    pub invariant: Invariant,
    /// vCPU.
    pub vcpu: u8,
    /// Vector.
    pub vector: u8,
}

impl Expect {
    /// The violation `v` as an expectation.
    pub fn of(v: &Violation) -> Expect {
        Expect {
            invariant: v.invariant,
            vcpu: v.vcpu,
            vector: v.vector,
        }
    }

    /// Whether `v` is this violation.
    pub fn matches(&self, v: &Violation) -> bool {
        (v.invariant, v.vcpu, v.vector) == (self.invariant, self.vcpu, self.vector)
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} vCPU {} vector {:#04x}",
            self.invariant, self.vcpu, self.vector
        )
    }
}

/// A replay file that does not parse: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayError {
    /// File name as given.
    pub file: String,
    /// 1-based line (for a missing field: the line after the last).
    pub line: usize,
    /// Field concerned (`"header"` for the first line).
    pub field: String,
    /// What is wrong.
    pub msg: String,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: field `{}`: {}",
            self.file, self.line, self.field, self.msg
        )
    }
}

impl std::error::Error for ReplayError {}

/// The invariant whose report name is `name`.
pub fn invariant(name: &str) -> Option<Invariant> {
    Invariant::ALL.iter().copied().find(|i| i.name() == name)
}

/// The SHA-256 of scenario `spec`'s text (bundled or a file), if it can be read.
pub fn scenario_sha256(spec: &str) -> Option<String> {
    scenario_text(spec).map(|t| sha256_hex(&t))
}

impl Replay {
    /// The replay of violation `v` found on `sc` (the scenario `spec` loaded as `base`, with
    /// its hardware and KVM as run), with the schedule `ranks`.
    pub fn of_run(
        spec: &str,
        base: &Scenario,
        sc: &Scenario,
        ranks: Vec<u16>,
        v: &Violation,
    ) -> Replay {
        Replay {
            scenario: spec.to_string(),
            base: base.clone(),
            hw: hw_variant_of(sc.hw),
            kvm: kvm_row_of(sc.kvm.variant, sc.kvm.knobs),
            ranks,
            expect: Expect::of(v),
            rtl: user_rtl_of(base),
            scenario_sha256: scenario_sha256(spec),
        }
    }

    /// The file text (format 2).
    pub fn render(&self) -> String {
        let doc = Doc {
            format: FORMAT.to_string(),
            version: VERSION,
            scenario: self.scenario.clone(),
            scenario_sha256: self.scenario_sha256.clone(),
            ranks: self.ranks.clone(),
            hardware: HwDoc::of(&self.hw),
            kvm: KvmDoc {
                name: Some(self.kvm.name.to_string()),
                variant: self.kvm.variant.name().to_string(),
                knobs: knob_names(&self.kvm.knobs)
                    .into_iter()
                    .map(String::from)
                    .collect(),
            },
            expect: ExpectDoc {
                invariant: self.expect.invariant.name().to_string(),
                vcpu: self.expect.vcpu,
                vector: self.expect.vector,
            },
            rtl: self.rtl.as_ref().map(|(top, f)| RtlDoc {
                top: top.clone(),
                filelist: f.clone(),
            }),
        };
        let body = toml::to_string(&doc).expect("a replay document always serializes");
        format!("# avic-cosim replay file: `avic-cosim replay FILE` reruns it\n{body}")
    }

    /// Parses the text of replay file `file` (format 2, or format 1). The scenario is loaded;
    /// if its text changed since the file was written, that is the error.
    pub fn parse(file: &str, text: &str) -> Result<Replay, ReplayError> {
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'));
        match first {
            Some(l) if l.starts_with(FORMAT) && !l.contains('=') => parse_v1(file, text),
            None => Err(ReplayError {
                file: file.to_string(),
                line: 1,
                field: "header".into(),
                msg: "empty file".into(),
            }),
            Some(_) => parse_v2(file, text),
        }
    }

    /// The scenario of the recorded cell (the file's, with `hw` and `kvm` applied).
    pub fn scenario(&self) -> Scenario {
        cell_scenario(&self.base, &self.hw, &self.kvm)
    }

    /// Rebuilds the scenario and runs the recorded schedule.
    pub fn run(&self) -> Result<Outcome, WorldError> {
        run(&self.scenario(), &Schedule::replay(&self.ranks))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    format: String,
    version: u32,
    scenario: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scenario_sha256: Option<String>,
    ranks: Vec<u16>,
    hardware: HwDoc,
    kvm: KvmDoc,
    expect: ExpectDoc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rtl: Option<RtlDoc>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HwDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    atomic_irr: bool,
    isrun_order: String,
    stale_isrun: bool,
    validate_first: bool,
    latch_doorbell: bool,
}

impl HwDoc {
    fn of(h: &HwVariant) -> HwDoc {
        let c = &h.cfg;
        let order = ISRUN_ORDERS
            .iter()
            .find(|(_, v)| *v == c.isrun_order)
            .map_or_else(|| c.isrun_order.to_string(), |(n, _)| n.to_string());
        HwDoc {
            name: Some(h.name.to_string()),
            atomic_irr: c.atomic_irr,
            isrun_order: order,
            stale_isrun: c.stale_isrun,
            validate_first: c.validate_first,
            latch_doorbell: c.latch_doorbell,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KvmDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    variant: String,
    #[serde(default)]
    knobs: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectDoc {
    invariant: String,
    vcpu: u8,
    vector: u8,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RtlDoc {
    top: String,
    filelist: PathBuf,
}

/// The 1-based line of `key` in `table` (`None`: the top level), else of the table, else 1.
fn line_of(text: &str, table: Option<&str>, key: &str) -> usize {
    let mut current: Option<String> = None;
    let mut table_line = None;
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if let Some(t) = l.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            current = Some(t.trim().to_string());
            if Some(t.trim()) == table {
                table_line = Some(i + 1);
            }
            continue;
        }
        let k = l.split('=').next().unwrap_or_default().trim();
        if current.as_deref() == table && k == key && l.contains('=') {
            return i + 1;
        }
    }
    table_line.unwrap_or(1)
}

/// Parses a format 2 file.
fn parse_v2(file: &str, text: &str) -> Result<Replay, ReplayError> {
    let err = |table: Option<&str>, key: &str, msg: String| ReplayError {
        file: file.to_string(),
        line: line_of(text, table, key),
        field: table.map_or(key.to_string(), |t| format!("{t}.{key}")),
        msg,
    };
    let doc: Doc = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start).min(text.len());
        let line = text[..at].matches('\n').count() + 1;
        let this = text.lines().nth(line - 1).unwrap_or_default();
        let field = match this.split_once('=') {
            Some((k, _)) => k.trim().to_string(),
            None => this.trim().trim_matches(['[', ']']).to_string(),
        };
        ReplayError {
            file: file.to_string(),
            line,
            field,
            msg: e.message().trim().to_string(),
        }
    })?;
    if doc.format != FORMAT {
        return Err(err(
            None,
            "format",
            format!("expected `{FORMAT}`, found `{}`", doc.format),
        ));
    }
    if doc.version != VERSION {
        return Err(err(
            None,
            "version",
            format!(
                "unsupported version {} (this build reads `{REPLAY_MAGIC}` and version {VERSION})",
                doc.version
            ),
        ));
    }
    let f = load_scenario(&doc.scenario).map_err(|e| err(None, "scenario", e.to_string()))?;
    if let Some(want) = &doc.scenario_sha256 {
        if *want != f.sha256 {
            return Err(err(
                None,
                "scenario_sha256",
                format!(
                    "scenario `{}` changed since the replay was written (sha256 {want} then, {} \
                     now); replay it against the scenario as it was, or find the violation again",
                    doc.scenario, f.sha256
                ),
            ));
        }
    }
    let h = &doc.hardware;
    let hw_at = |key: &str, msg: String| err(Some("hardware"), key, msg);
    let isrun_order = ISRUN_ORDERS
        .iter()
        .find(|(n, _)| *n == h.isrun_order)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            hw_at(
                "isrun_order",
                format!(
                    "unknown isrun_order `{}`, expected one of: {}",
                    h.isrun_order,
                    ISRUN_ORDERS.map(|o| o.0).join(", ")
                ),
            )
        })?;
    let cfg = HwConfig {
        atomic_irr: h.atomic_irr,
        isrun_order,
        stale_isrun: h.stale_isrun,
        validate_first: h.validate_first,
        latch_doorbell: h.latch_doorbell,
    };
    let base_kvm = parse_kvm(&doc.kvm.variant).map_err(|e| err(Some("kvm"), "variant", e))?;
    let mut knobs = base_kvm.knobs;
    for k in &doc.kvm.knobs {
        set_knob(&mut knobs, k).map_err(|e| err(Some("kvm"), "knobs", e))?;
    }
    let e = &doc.expect;
    let inv = invariant(&e.invariant).ok_or_else(|| {
        err(
            Some("expect"),
            "invariant",
            format!(
                "unknown invariant `{}`, expected one of: {}",
                e.invariant,
                Invariant::ALL.map(|i| i.name()).join(", ")
            ),
        )
    })?;
    Ok(Replay {
        scenario: doc.scenario,
        base: f.scenario,
        hw: hw_variant_of(cfg),
        kvm: kvm_row_of(base_kvm.variant, knobs),
        ranks: doc.ranks,
        expect: Expect {
            invariant: inv,
            vcpu: e.vcpu,
            vector: e.vector,
        },
        rtl: doc.rtl.map(|r| (r.top, r.filelist)),
        scenario_sha256: doc.scenario_sha256,
    })
}

/// Parses a version 1 file (line based).
fn parse_v1(file: &str, text: &str) -> Result<Replay, ReplayError> {
    let err = |line: usize, field: &str, msg: String| ReplayError {
        file: file.to_string(),
        line,
        field: field.to_string(),
        msg,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    match lines.next() {
        Some((_, l)) if l == REPLAY_MAGIC => {}
        Some((n, l)) if l.starts_with("avic-cosim-replay") => {
            return Err(err(
                n,
                "header",
                format!(
                    "unsupported version `{l}` (this build reads `{REPLAY_MAGIC}` and format {VERSION})"
                ),
            ))
        }
        Some((n, l)) => {
            return Err(err(
                n,
                "header",
                format!("expected `{REPLAY_MAGIC}`, found `{l}`"),
            ))
        }
        None => return Err(err(1, "header", "empty file".into())),
    }
    let mut scenario_name: Option<(String, Scenario)> = None;
    let mut hw: Option<HwVariant> = None;
    let mut kvm: Option<KvmRow> = None;
    let mut ranks: Option<Vec<u16>> = None;
    let mut expect: Option<Expect> = None;
    let mut rtl: Option<(String, PathBuf)> = None;
    let mut last = 1;
    for (n, l) in lines {
        last = n;
        let (key, rest) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
        let rest = rest.trim();
        let dup = |present: bool| {
            if present {
                Err(err(n, key, "given twice".into()))
            } else {
                Ok(())
            }
        };
        match key {
            "scenario" => {
                dup(scenario_name.is_some())?;
                let f = load_scenario(rest).map_err(|e| err(n, key, e.to_string()))?;
                scenario_name = Some((rest.to_string(), f.scenario));
            }
            "hw" => {
                dup(hw.is_some())?;
                hw = Some(parse_hw(rest).map_err(|e| err(n, key, e))?);
            }
            "kvm" => {
                dup(kvm.is_some())?;
                kvm = Some(parse_kvm(rest).map_err(|e| err(n, key, e))?);
            }
            "ranks" => {
                dup(ranks.is_some())?;
                let r = rest
                    .split_whitespace()
                    .map(|t| {
                        t.parse::<u16>()
                            .map_err(|_| err(n, key, format!("`{t}` is not a rank (0..65535)")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                ranks = Some(r);
            }
            "expect" => {
                dup(expect.is_some())?;
                expect = Some(parse_expect(rest).map_err(|m| err(n, key, m))?);
            }
            "rtl" => {
                dup(rtl.is_some())?;
                let (top, list) = rest
                    .split_once(char::is_whitespace)
                    .map(|(t, l)| (t, l.trim()))
                    .filter(|(_, l)| !l.is_empty())
                    .ok_or_else(|| err(n, key, "expected `rtl TOP FILELIST.f`".into()))?;
                rtl = Some((top.to_string(), PathBuf::from(list)));
            }
            other => {
                return Err(err(
                    n,
                    other,
                    "unknown field (expected scenario, rtl, hw, kvm, ranks or expect)".into(),
                ))
            }
        }
    }
    let missing = |f: &str| err(last + 1, f, "missing".into());
    let (scenario, base) = scenario_name.ok_or_else(|| missing("scenario"))?;
    Ok(Replay {
        scenario,
        base,
        hw: hw.ok_or_else(|| missing("hw"))?,
        kvm: kvm.ok_or_else(|| missing("kvm"))?,
        ranks: ranks.ok_or_else(|| missing("ranks"))?,
        expect: expect.ok_or_else(|| missing("expect"))?,
        rtl,
        scenario_sha256: None,
    })
}

/// `"no-lost-wakeup vcpu 1 vector 0x40"` (vector decimal or `0x` hex).
fn parse_expect(s: &str) -> Result<Expect, String> {
    let t: Vec<&str> = s.split_whitespace().collect();
    let [inv, "vcpu", vcpu, "vector", vector] = t.as_slice() else {
        return Err(format!("expected `INVARIANT vcpu N vector X`, found `{s}`"));
    };
    let invariant = invariant(inv).ok_or_else(|| {
        format!(
            "unknown invariant `{inv}` (known: {})",
            Invariant::ALL.map(|i| i.name()).join(", ")
        )
    })?;
    let vcpu = vcpu
        .parse::<u8>()
        .map_err(|_| format!("vcpu `{vcpu}` is not a number"))?;
    let vector = match vector
        .strip_prefix("0x")
        .or_else(|| vector.strip_prefix("0X"))
    {
        Some(h) => u8::from_str_radix(h, 16),
        None => vector.parse::<u8>(),
    }
    .map_err(|_| format!("vector `{vector}` is not a byte"))?;
    Ok(Expect {
        invariant,
        vcpu,
        vector,
    })
}
