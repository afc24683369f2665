//! The scenario file format (TOML, version [`VERSION`]): raw tables, field checks with the
//! file, line and column of every error, and the build of the world's [`Scenario`].

use super::variants::{
    apm, hw_table, knob_names, parse_kvm, renamed_knob_warning, set_knob, KvmRow, ISRUN_ORDERS,
};
use super::{ScenarioError, ScenarioFile, VERSION};
use crate::apic::{Icr, Shorthand};
use crate::dut::{DEFAULT_CORES, MAX_CORES};
use crate::ffi::HwConfig;
use crate::guest::{GuestOp, MAX_OPS};
use crate::kvm::Knobs;
use crate::scenario::{Scenario, MAX_VCPUS};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::ops::Range;
use std::path::Path;

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
}

/// The message for an old file's `[check]` table (its `invariants` were never read).
pub const CHECK_REMOVED: &str = "`[check]` is not a scenario table: every run judges every \
     invariant (docs/oracles.md); remove it";

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
    /// RTL cores (`NumCores`), 1..=8.
    cores: Option<toml::Spanned<u8>>,
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
    variant: KvmRow,
    #[serde(default, deserialize_with = "knobs")]
    knobs: KnobList,
    #[serde(default)]
    apicv_toggle: bool,
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

/// PCT seeds of a search when the scenario file does not say ([`crate::explore::Search`]).
pub const DEFAULT_SEEDS: u64 = 300;
/// Deviation bound of a search when the scenario file does not say.
pub const DEFAULT_BOUND: u32 = 2;

impl Default for RawExplore {
    fn default() -> Self {
        RawExplore {
            seeds: DEFAULT_SEEDS,
            bound: DEFAULT_BOUND,
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

fn hw_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<(String, HwConfig)>, D::Error> {
    let s = String::deserialize(d)?;
    one_of(&s, "hardware variant", &hw_table())
        .map(|h| Some((s, h)))
        .map_err(de::Error::custom)
}

fn isrun_order<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    let s = String::deserialize(d)?;
    one_of(&s, "isrun_order", &ISRUN_ORDERS)
        .map(Some)
        .map_err(de::Error::custom)
}

/// `[kvm] variant`: a generation, a named row or `GENERATION+KNOB...` ([`parse_kvm`]).
fn kvm_variant<'de, D: Deserializer<'de>>(d: D) -> Result<KvmRow, D::Error> {
    let s = String::deserialize(d)?;
    parse_kvm(&s).map_err(de::Error::custom)
}

fn knobs<'de, D: Deserializer<'de>>(d: D) -> Result<KnobList, D::Error> {
    let mut list = KnobList::default();
    for name in Vec::<String>::deserialize(d)? {
        if let Some(r) = set_knob(&mut list.knobs, &name).map_err(de::Error::custom)? {
            list.renamed.push(r);
        }
    }
    Ok(list)
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
/// ([`RENAMED_KNOBS`](crate::scenario::variants::RENAMED_KNOBS)) loads as the new one, with a warning in [`ScenarioFile::warnings`]
/// that is also printed on stderr.
pub fn parse(text: &str, file: &str) -> Result<ScenarioFile, ScenarioError> {
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let (line, column) = line_col(text, e.span());
        let msg = e.message().trim();
        let msg = if msg.starts_with("unknown field `check`") {
            CHECK_REMOVED.to_string()
        } else {
            msg.to_string()
        };
        ScenarioError::At {
            file: file.to_string(),
            line,
            column,
            msg,
        }
    })?;
    let invalid = |msg: String| ScenarioError::Invalid {
        file: file.to_string(),
        msg,
    };
    let cores = match &raw.hardware.cores {
        None => DEFAULT_CORES,
        Some(c) if (1..=MAX_CORES).contains(&usize::from(*c.get_ref())) => {
            usize::from(*c.get_ref())
        }
        Some(c) => {
            let (line, column) = line_col(text, Some(c.span()));
            return Err(ScenarioError::At {
                file: file.to_string(),
                line,
                column,
                msg: format!("[hardware] cores: 1 to {MAX_CORES}, found {}", c.get_ref()),
            });
        }
    };
    let n = raw.vcpu.len();
    if n == 0 || n > cores.min(MAX_VCPUS) {
        return Err(invalid(format!(
            "[[vcpu]]: 1 to {cores} vCPUs (one per RTL core, [hardware] cores = {cores}), found {n}"
        )));
    }
    let hw_name = raw.hardware.variant.as_ref().map(|(s, _)| s.clone());
    let mut hw = raw
        .hardware
        .variant
        .as_ref()
        .map(|(_, h)| *h)
        .unwrap_or(apm());
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
    let mut knobs = raw.kvm.variant.knobs;
    for name in knob_names(&raw.kvm.knobs.knobs) {
        set_knob(&mut knobs, name).map_err(invalid)?;
    }
    let mut sc = Scenario::new(n as u8, raw.kvm.variant.variant)
        .with_cores(cores as u8)
        .hw(hw)
        .knobs(knobs);
    sc.max_cycles = raw.bounds.max_cycles;
    sc.apicv_toggle = raw.kvm.apicv_toggle;
    if raw.apic.logical_model == Some(true) {
        sc.kvm = sc.kvm.with_cluster(raw.apic.cluster.unwrap_or(0));
    }
    // Host CPUs: in range, one vCPU each (placed or migrating there).
    let mut taken: [Option<usize>; MAX_CORES] = [None; MAX_CORES];
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
        match taken[..cores].get_mut(usize::from(cpu)) {
            None => {
                return Err(at(format!(
                    "vCPU {i}: {field} must be a host CPU in 0..={}, found {cpu}",
                    cores - 1
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
        sha256: sha256_hex(text),
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

/// SHA-256 of `text`, lowercase hex.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
