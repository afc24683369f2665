//! Scenario files: TOML, versioned, every field checked.
//!
//! ```toml
//! version = 1
//! name = "seed"
//! description = "vCPU 0 sends 0x40 to vCPU 1, which halts"
//!
//! [hardware]            # ordering variant (docs/port-contract.md)
//! variant = "apm"       # apm | split-irr | in-flight | isrun-first | stale | per-dest |
//!                       # latch-doorbell
//! # or fields overriding it: atomic_irr, isrun_order ("after-ack" | "in-flight" | "before"),
//! # stale_isrun, validate_first, latch_doorbell
//!
//! [kvm]
//! variant = "V3"        # V0 V1 V1b V2 V3 V3-fast V4 V5
//! knobs = []            # running-on-load, no-irr-pending, no-block-fences,
//!                       # no-wake-up-mb, no-enter-mb, no-sleep-put, stale-cpu-on-unblock
//!                       # (old names no-set-current-state-mb, no-enter-guest-mb still load,
//!                       # with a warning naming the new one)
//!
//! [apic]                # the guests' logical destination model (DFR)
//! logical_model = "flat"  # flat: vCPU i has logical ID 1 << i; cluster: (cluster << 4) | 1 << i
//! cluster = 0           # cluster model only, 0..=14
//!
//! [[vcpu]]              # vCPU i (at most 4); host CPU c is RTL core c
//! program = [{ send_ipi = { vector = 0x40, dest = 1 } }]
//! cpu = 0               # host CPU its thread starts on (default: i; one vCPU per CPU)
//!
//! [[vcpu]]
//! program = ["halt", "loop"]  # "loop": spin in the guest forever, never exiting
//! timer = true          # one LAPIC timer interrupt at a time the schedule chooses
//! preemptible = true    # may be preempted once in its blocking path
//! migrate_to = 2        # may be preempted once and moved to this (free) host CPU
//! irr_pending = true    # apic->irr_pending at the start
//! logical_valid = true  # valid bit of its Logical APIC ID table entry (flat: entry i, ID 1<<i)
//!
//! [bounds]
//! max_cycles = 4000     # per run
//!
//! [explore]
//! seeds = 300           # PCT runs before the bounded exhaustive search
//! bound = 2             # deviations from the default order
//!
//! [check]
//! invariants = ["no-lost-ipi", "no-duplicate-ipi", "no-lost-wakeup", "exit-info-protocol"]
//! ```
//!
//! `send_ipi` takes `vector`, `dest` (APIC ID or 0xFF), `mode` (`physical` | `logical`),
//! `shorthand` (`none` | `self` | `all` | `all-but-self`), `delivery` (`fixed` | `nmi` |
//! `init` | `smi` | `lowest`) and `trigger` (`edge` | `level`). Unknown fields are errors;
//! every error names the file, line and column.

use crate::apic::{Icr, Shorthand};
use crate::dut::NUM_CORES;
use crate::ffi::HwConfig;
use crate::guest::{GuestOp, MAX_OPS};
use crate::kvm::{Knobs, KvmVariant};
use crate::oracle::Invariant;
use crate::world::{Scenario, MAX_VCPUS};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::ops::Range;
use std::path::Path;

/// The scenario file format version this build reads.
pub const VERSION: u32 = 1;

/// A scenario file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// Syntax, an unknown field, a wrong type or a value out of range.
    #[error("{file}:{line}:{column}: {msg}")]
    At {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong and what was expected.
        msg: String,
    },
    /// A rule across fields.
    #[error("{file}: {msg}")]
    Invalid {
        /// The file.
        file: String,
        /// What was wrong.
        msg: String,
    },
}

/// A parsed scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioFile {
    /// Warnings about old spellings ([`RENAMED_KNOBS`]); [`parse`] also prints each on
    /// stderr when it loads the file.
    pub warnings: Vec<String>,
    /// Name (from the file, else its stem).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Hardware variant name, if one was given.
    pub hw_name: Option<String>,
    /// The world's scenario.
    pub scenario: Scenario,
    /// PCT seeds before the bounded search.
    pub seeds: u64,
    /// Deviation bound of the exhaustive search.
    pub bound: u32,
    /// Invariants the verdict reports.
    pub invariants: Vec<Invariant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(deserialize_with = "version")]
    #[allow(dead_code)] // checked while parsing
    version: u32,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    hardware: RawHw,
    kvm: RawKvm,
    #[serde(default)]
    apic: RawApic,
    vcpu: Vec<RawVcpu>,
    #[serde(default)]
    bounds: RawBounds,
    #[serde(default)]
    explore: RawExplore,
    #[serde(default)]
    check: RawCheck,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHw {
    #[serde(default, deserialize_with = "hw_name")]
    variant: Option<(String, HwConfig)>,
    atomic_irr: Option<bool>,
    #[serde(default, deserialize_with = "isrun_order")]
    isrun_order: Option<u8>,
    stale_isrun: Option<bool>,
    validate_first: Option<bool>,
    latch_doorbell: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApic {
    #[serde(default, deserialize_with = "logical_model")]
    logical_model: Option<bool>,
    #[serde(default, deserialize_with = "cluster")]
    cluster: Option<u8>,
}

fn logical_model<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let s = String::deserialize(d)?;
    one_of(&s, "logical_model", &[("flat", false), ("cluster", true)])
        .map(Some)
        .map_err(de::Error::custom)
}

fn cluster<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    ranged(d, "cluster", 0, 14).map(|v| Some(v as u8))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKvm {
    #[serde(deserialize_with = "kvm_variant")]
    variant: KvmVariant,
    #[serde(default, deserialize_with = "knobs")]
    knobs: KnobList,
}

/// Knobs as read, with the renamed ones that were spelled the old way.
#[derive(Default)]
struct KnobList {
    knobs: Knobs,
    renamed: Vec<(&'static str, &'static str)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVcpu {
    #[serde(default, deserialize_with = "program")]
    program: Vec<GuestOp>,
    #[serde(default)]
    timer: bool,
    #[serde(default)]
    preemptible: bool,
    #[serde(default)]
    cpu: Option<toml::Spanned<u8>>,
    #[serde(default)]
    migrate_to: Option<toml::Spanned<u8>>,
    #[serde(default = "yes")]
    irr_pending: bool,
    #[serde(default = "yes")]
    logical_valid: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBounds {
    #[serde(deserialize_with = "max_cycles")]
    max_cycles: u64,
}

impl Default for RawBounds {
    fn default() -> Self {
        RawBounds { max_cycles: 4000 }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExplore {
    #[serde(deserialize_with = "seeds")]
    seeds: u64,
    #[serde(deserialize_with = "bound")]
    bound: u32,
}

impl Default for RawExplore {
    fn default() -> Self {
        RawExplore {
            seeds: 300,
            bound: 2,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    #[serde(deserialize_with = "invariants")]
    invariants: Vec<Invariant>,
}

impl Default for RawCheck {
    fn default() -> Self {
        RawCheck {
            invariants: Invariant::ALL.to_vec(),
        }
    }
}

fn yes() -> bool {
    true
}

fn ranged<'de, D: Deserializer<'de>>(d: D, what: &str, lo: u64, hi: u64) -> Result<u64, D::Error> {
    let v = u64::deserialize(d)?;
    if v < lo || v > hi {
        return Err(de::Error::custom(format!(
            "{what} must be in {lo}..={hi}, found {v}"
        )));
    }
    Ok(v)
}

fn version<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = u64::deserialize(d)?;
    if v != u64::from(VERSION) {
        return Err(de::Error::custom(format!(
            "unsupported scenario version {v}; this build reads version {VERSION}"
        )));
    }
    Ok(VERSION)
}

fn max_cycles<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    ranged(d, "max_cycles", 10, 1_000_000)
}

fn seeds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    ranged(d, "seeds", 0, 1_000_000)
}

fn bound<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    ranged(d, "bound", 0, 6).map(|v| v as u32)
}

fn one_of<'a, T: Copy>(name: &str, what: &str, table: &'a [(&'a str, T)]) -> Result<T, String> {
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown {what} `{name}`, expected one of: {}",
                names.join(", ")
            )
        })
}

/// Named hardware ordering variants. `apm` is what the APM describes: a locked IRR update
/// (HW-A), IsRunning read after the update completed (HW-B), read fresh (HW-G), every
/// destination validated before the first IRR write (HW-D), doorbells to host-mode cores
/// dropped (HW-E). Each other variant changes one choice.
pub fn hw_variants() -> [(&'static str, HwConfig); 7] {
    let apm = HwConfig {
        atomic_irr: true,
        validate_first: true,
        ..HwConfig::default()
    };
    [
        ("apm", apm),
        (
            "split-irr",
            HwConfig {
                atomic_irr: false,
                ..apm
            },
        ),
        (
            "in-flight",
            HwConfig {
                isrun_order: 1,
                ..apm
            },
        ),
        (
            "isrun-first",
            HwConfig {
                isrun_order: 2,
                ..apm
            },
        ),
        (
            "stale",
            HwConfig {
                stale_isrun: true,
                ..apm
            },
        ),
        (
            "per-dest",
            HwConfig {
                validate_first: false,
                ..apm
            },
        ),
        (
            "latch-doorbell",
            HwConfig {
                latch_doorbell: true,
                ..apm
            },
        ),
    ]
}

/// The APM hardware variant (`hw_variants()[0]`).
pub fn apm() -> HwConfig {
    hw_variants()[0].1
}

fn hw_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<(String, HwConfig)>, D::Error> {
    let s = String::deserialize(d)?;
    one_of(&s, "hardware variant", &hw_variants())
        .map(|h| Some((s, h)))
        .map_err(de::Error::custom)
}

fn isrun_order<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    let s = String::deserialize(d)?;
    one_of(
        &s,
        "isrun_order",
        &[("after-ack", 0u8), ("in-flight", 1), ("before", 2)],
    )
    .map(Some)
    .map_err(de::Error::custom)
}

fn kvm_variant<'de, D: Deserializer<'de>>(d: D) -> Result<KvmVariant, D::Error> {
    let s = String::deserialize(d)?;
    let table: Vec<(&str, KvmVariant)> = KvmVariant::ALL.iter().map(|v| (v.name(), *v)).collect();
    one_of(&s, "KVM variant", &table).map_err(de::Error::custom)
}

/// Named KVM bug knobs.
pub const KNOBS: [&str; 7] = [
    "running-on-load",
    "no-irr-pending",
    "no-block-fences",
    "no-wake-up-mb",
    "no-enter-mb",
    "no-sleep-put",
    "stale-cpu-on-unblock",
];

/// Knobs renamed in issue 14 (after what they remove in the kernel): (old, new). The old
/// name of `no-block-fences` removed only `set_current_state`'s barrier; the kernel has a
/// second full fence there (SRCU's), and the knob now removes both.
pub const RENAMED_KNOBS: [(&str, &str); 2] = [
    ("no-set-current-state-mb", "no-block-fences"),
    ("no-enter-guest-mb", "no-enter-mb"),
];

/// The warning for a knob spelled the old way.
pub fn renamed_knob_warning(file: &str, old: &str, new: &str) -> String {
    format!("warning: {file}: knob `{old}` is now called `{new}`")
}

fn knobs<'de, D: Deserializer<'de>>(d: D) -> Result<KnobList, D::Error> {
    let mut list = KnobList::default();
    let k = &mut list.knobs;
    for name in Vec::<String>::deserialize(d)? {
        let name = match RENAMED_KNOBS.iter().find(|(o, _)| *o == name) {
            Some(&(old, new)) => {
                list.renamed.push((old, new));
                new.to_string()
            }
            None => name,
        };
        let flag = match name.as_str() {
            "running-on-load" => &mut k.unconditional_running_on_load,
            "no-irr-pending" => &mut k.no_irr_pending_update,
            "no-block-fences" => &mut k.no_block_fences,
            "no-wake-up-mb" => &mut k.no_wake_up_mb,
            "no-enter-mb" => &mut k.no_enter_mb,
            "no-sleep-put" => &mut k.no_sleep_put,
            "stale-cpu-on-unblock" => &mut k.stale_cpu_on_unblock,
            other => {
                return Err(de::Error::custom(format!(
                    "unknown knob `{other}`, expected one of: {}",
                    KNOBS.join(", ")
                )))
            }
        };
        *flag = true;
    }
    Ok(list)
}

fn invariants<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Invariant>, D::Error> {
    let table: Vec<(&str, Invariant)> = Invariant::ALL.iter().map(|i| (i.name(), *i)).collect();
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| one_of(s, "invariant", &table).map_err(de::Error::custom))
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum RawOp {
    SendIpi(RawIpi),
    Spin(u16),
}

enum RawStep {
    Word(String),
    Op(RawOp),
}

/// A step is a word (`"halt"`) or a one-key table; a hand-written visitor keeps the inner
/// table's errors (an untagged enum would replace them with "did not match any variant").
impl<'de> Deserialize<'de> for RawStep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = RawStep;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"halt\", { send_ipi = { ... } } or { spin = N }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawStep, E> {
                Ok(RawStep::Word(v.to_string()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, m: A) -> Result<RawStep, A::Error> {
                RawOp::deserialize(de::value::MapAccessDeserializer::new(m)).map(RawStep::Op)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIpi {
    vector: u8,
    dest: u8,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    shorthand: Option<String>,
    #[serde(default)]
    delivery: Option<String>,
    #[serde(default)]
    trigger: Option<String>,
}

fn ipi(r: RawIpi) -> Result<Icr, String> {
    let logical = one_of(
        r.mode.as_deref().unwrap_or("physical"),
        "mode",
        &[("physical", false), ("logical", true)],
    )?;
    let shorthand = one_of(
        r.shorthand.as_deref().unwrap_or("none"),
        "shorthand",
        &[
            ("none", Shorthand::None),
            ("self", Shorthand::SelfOnly),
            ("all", Shorthand::AllIncludingSelf),
            ("all-but-self", Shorthand::AllExcludingSelf),
        ],
    )?;
    let delivery_mode = one_of(
        r.delivery.as_deref().unwrap_or("fixed"),
        "delivery",
        &[
            ("fixed", 0u8),
            ("lowest", 1),
            ("smi", 2),
            ("nmi", 4),
            ("init", 5),
        ],
    )?;
    let trigger_level = one_of(
        r.trigger.as_deref().unwrap_or("edge"),
        "trigger",
        &[("edge", false), ("level", true)],
    )?;
    Ok(Icr {
        vector: r.vector,
        delivery_mode,
        logical,
        level: true,
        trigger_level,
        shorthand,
        dest: r.dest,
    })
}

fn program<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<GuestOp>, D::Error> {
    let steps = Vec::<RawStep>::deserialize(d)?;
    if steps.len() > MAX_OPS {
        return Err(de::Error::custom(format!(
            "a program has at most {MAX_OPS} steps, found {}",
            steps.len()
        )));
    }
    steps
        .into_iter()
        .map(|s| match s {
            RawStep::Word(w) if w == "halt" => Ok(GuestOp::Halt),
            RawStep::Word(w) if w == "loop" => Ok(GuestOp::Loop),
            RawStep::Word(w) => Err(format!("unknown step `{w}`, expected \"halt\", \"loop\", {{ send_ipi = {{ ... }} }} or {{ spin = N }}")),
            RawStep::Op(RawOp::Spin(n)) => Ok(GuestOp::Spin(n)),
            RawStep::Op(RawOp::SendIpi(r)) => ipi(r).map(GuestOp::SendIpi),
        })
        .collect::<Result<_, _>>()
        .map_err(de::Error::custom)
}

fn line_col(text: &str, span: Option<Range<usize>>) -> (usize, usize) {
    let at = span.map(|s| s.start).unwrap_or(0).min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map(|i| at - i).unwrap_or(at + 1);
    (line, column)
}

/// Parses scenario text; `file` names it in errors. A knob spelled the old way
/// ([`RENAMED_KNOBS`]) loads as the new one, with a warning in [`ScenarioFile::warnings`]
/// that is also printed on stderr.
pub fn parse(text: &str, file: &str) -> Result<ScenarioFile, ScenarioError> {
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let (line, column) = line_col(text, e.span());
        ScenarioError::At {
            file: file.to_string(),
            line,
            column,
            msg: e.message().trim().to_string(),
        }
    })?;
    let invalid = |msg: String| ScenarioError::Invalid {
        file: file.to_string(),
        msg,
    };
    let n = raw.vcpu.len();
    if n == 0 || n > MAX_VCPUS {
        return Err(invalid(format!(
            "[[vcpu]]: 1 to {MAX_VCPUS} vCPUs (one per RTL core), found {n}"
        )));
    }
    let hw_name = raw.hardware.variant.as_ref().map(|(s, _)| s.clone());
    let mut hw = raw
        .hardware
        .variant
        .as_ref()
        .map(|(_, h)| *h)
        .unwrap_or(hw_variants()[0].1);
    let h = &raw.hardware;
    hw.atomic_irr = h.atomic_irr.unwrap_or(hw.atomic_irr);
    hw.isrun_order = h.isrun_order.unwrap_or(hw.isrun_order);
    hw.stale_isrun = h.stale_isrun.unwrap_or(hw.stale_isrun);
    hw.validate_first = h.validate_first.unwrap_or(hw.validate_first);
    hw.latch_doorbell = h.latch_doorbell.unwrap_or(hw.latch_doorbell);
    if raw.apic.cluster.is_some() && raw.apic.logical_model != Some(true) {
        return Err(invalid(
            "[apic] cluster needs logical_model = \"cluster\"".to_string(),
        ));
    }
    let mut sc = Scenario::new(n as u8, raw.kvm.variant)
        .hw(hw)
        .knobs(raw.kvm.knobs.knobs);
    sc.max_cycles = raw.bounds.max_cycles;
    if raw.apic.logical_model == Some(true) {
        sc.kvm = sc.kvm.with_cluster(raw.apic.cluster.unwrap_or(0));
    }
    // Host CPUs: in range, one vCPU each (placed or migrating there).
    let mut taken: [Option<usize>; NUM_CORES] = [None; NUM_CORES];
    let cpus = raw.vcpu.iter().enumerate().flat_map(|(i, v)| {
        let placed = v
            .cpu
            .as_ref()
            .map(|c| (i, "cpu", *c.get_ref(), Some(c.span())));
        let placed = placed.unwrap_or((i, "cpu", i as u8, None));
        let moved = v
            .migrate_to
            .as_ref()
            .map(|c| (i, "migrate_to", *c.get_ref(), Some(c.span())));
        [Some(placed), moved]
    });
    for (i, field, cpu, span) in cpus.flatten() {
        let at = |msg: String| {
            let (line, column) = line_col(text, span.clone());
            ScenarioError::At {
                file: file.to_string(),
                line,
                column,
                msg,
            }
        };
        match taken.get_mut(usize::from(cpu)) {
            None => {
                return Err(at(format!(
                    "vCPU {i}: {field} must be a host CPU in 0..={}, found {cpu}",
                    NUM_CORES - 1
                )))
            }
            Some(Some(j)) => {
                return Err(at(format!(
                    "vCPU {i}: {field} = {cpu}: host CPU {cpu} is already vCPU {j}'s"
                )))
            }
            Some(t) => *t = Some(i),
        }
    }
    for (i, v) in raw.vcpu.iter().enumerate() {
        sc = sc.program(i as u8, &v.program);
        sc.timers[i] = v.timer;
        sc.preemptible[i] = v.preemptible;
        sc.placement[i] = v.cpu.as_ref().map_or(i as u8, |c| *c.get_ref());
        sc.migrate_to[i] = v.migrate_to.as_ref().map(|c| *c.get_ref());
        sc.irr_pending[i] = v.irr_pending;
        sc.logical_valid[i] = v.logical_valid;
    }
    let stem = Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario");
    let warnings: Vec<String> = raw
        .kvm
        .knobs
        .renamed
        .iter()
        .map(|(old, new)| renamed_knob_warning(file, old, new))
        .collect();
    for w in &warnings {
        eprintln!("{w}");
    }
    Ok(ScenarioFile {
        warnings,
        name: raw.name.unwrap_or_else(|| stem.to_string()),
        description: raw.description,
        hw_name,
        scenario: sc,
        seeds: raw.explore.seeds,
        bound: raw.explore.bound,
        invariants: raw.check.invariants,
    })
}

/// Reads and parses a scenario file.
pub fn load(path: &Path) -> Result<ScenarioFile, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"
version = 1
[kvm]
variant = "V3"
[[vcpu]]
program = [{ send_ipi = { vector = 0x40, dest = 1 } }]
[[vcpu]]
program = ["halt"]
timer = true
"#;

    #[test]
    fn the_seed_parses_to_the_builder_scenario() {
        let f = parse(SEED, "seed.toml").unwrap();
        let want = Scenario::new(2, KvmVariant::V3)
            .program(
                0,
                &[GuestOp::SendIpi(Icr {
                    level: true,
                    ..Icr::fixed_physical(0x40, 1)
                })],
            )
            .program(1, &[GuestOp::Halt])
            .timer(1);
        assert_eq!(f.scenario, want);
        assert_eq!((f.name.as_str(), f.seeds, f.bound), ("seed", 300, 2));
    }

    fn err(text: &str) -> String {
        parse(text, "bad.toml").unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_line_column_and_expectation() {
        let e = err(&SEED.replace("variant = \"V3\"", "variant = \"V9\""));
        assert!(
            e.starts_with("bad.toml:4:11: unknown KVM variant `V9`, expected one of: V0, V1"),
            "{e}"
        );
        let e = err(&SEED.replace("timer = true", "timer = true\ncolour = 3"));
        assert!(
            e.starts_with("bad.toml:10:1:") && e.contains("unknown field `colour`"),
            "{e}"
        );
        let e = err(&SEED.replace("vector = 0x40", "vector = 300"));
        assert!(e.starts_with("bad.toml:6:") && e.contains("u8"), "{e}");
        let e = err(&SEED.replace("version = 1", "version = 2"));
        assert!(
            e.starts_with("bad.toml:2:11: unsupported scenario version 2"),
            "{e}"
        );
    }
}
