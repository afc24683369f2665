//! The one registry of what a cell varies: hardware orderings, KVM generations and knobs.
//!
//! - A hardware ordering is a named [`HwConfig`] ([`hw_variants`]); a scenario file may also
//!   give the fields one by one, and a replay file always records the fields.
//! - A KVM configuration is a generation ([`KvmVariant::ALL`]) plus knobs ([`KNOBS`]). The
//!   named rows of the matrix are [`KVM_ROWS`]; any other combination is spelled
//!   `GENERATION+KNOB+KNOB` (`V4+no-wake-up-mb`), the same knob names as a scenario file's
//!   `[kvm] knobs` ([`parse_kvm`]). A combination that equals a named row is called by the
//!   row's name ([`kvm_row_of`]), so `V4+no-wake-up-mb` and `V4-no-wake-up-mb` are one cell.

use crate::ffi::HwConfig;
use crate::kvm::{Knobs, KvmVariant};
use crate::scenario::Scenario;
use std::sync::Mutex;

/// A named hardware ordering variant (`docs/port-contract.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HwVariant {
    /// Name on the command line and in reports (`"custom"` for fields that match no row).
    pub name: &'static str,
    /// The configuration inputs of the RTL.
    pub cfg: HwConfig,
}

/// Named hardware ordering variants as (name, configuration). `apm` is what the APM
/// describes: a locked IRR update (HW-A), IsRunning read after the update completed (HW-B),
/// read fresh (HW-G), every destination validated before the first IRR write (HW-D),
/// doorbells to host-mode cores dropped (HW-E). Each other variant changes one choice.
pub fn hw_table() -> [(&'static str, HwConfig); 7] {
    let apm = HwConfig {
        atomic_irr: true,
        validate_first: true,
        ..HwConfig::default()
    };
    let with = |f: fn(&mut HwConfig)| {
        let mut c = apm;
        f(&mut c);
        c
    };
    [
        ("apm", apm),
        ("split-irr", with(|c| c.atomic_irr = false)),
        ("in-flight", with(|c| c.isrun_order = 1)),
        ("isrun-first", with(|c| c.isrun_order = 2)),
        ("stale", with(|c| c.stale_isrun = true)),
        ("per-dest", with(|c| c.validate_first = false)),
        ("latch-doorbell", with(|c| c.latch_doorbell = true)),
    ]
}

/// The hardware variants of [`hw_table`], APM first.
pub fn hw_variants() -> Vec<HwVariant> {
    hw_table()
        .iter()
        .map(|&(name, cfg)| HwVariant { name, cfg })
        .collect()
}

/// The APM hardware variant (`hw_table()[0]`).
pub fn apm() -> HwConfig {
    hw_table()[0].1
}

/// The hardware variant called `name`.
pub fn hw_variant(name: &str) -> Option<HwVariant> {
    hw_variants().into_iter().find(|h| h.name == name)
}

/// `name`, or an error listing the known variants.
pub fn parse_hw(name: &str) -> Result<HwVariant, String> {
    hw_variant(name).ok_or_else(|| {
        format!(
            "unknown hardware variant `{name}`, expected one of: {}",
            hw_names()
        )
    })
}

/// The named variant whose configuration is `cfg`, else `custom` with `cfg`.
pub fn hw_variant_of(cfg: HwConfig) -> HwVariant {
    hw_variants()
        .into_iter()
        .find(|h| h.cfg == cfg)
        .unwrap_or(HwVariant {
            name: "custom",
            cfg,
        })
}

/// Spellings of [`HwConfig::isrun_order`], by value.
pub const ISRUN_ORDERS: [(&str, u8); 3] = [("after-ack", 0), ("in-flight", 1), ("before", 2)];

/// `"apm, split-irr, ..."`, for error messages.
pub fn hw_names() -> String {
    hw_table().map(|h| h.0).join(", ")
}

/// A named KVM row: a handler generation plus knobs (barrier ablations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvmRow {
    /// Name on the command line and in reports: a row of [`KVM_ROWS`], else
    /// `GENERATION+KNOB...` ([`kvm_row_of`]).
    pub name: &'static str,
    /// Handler generation.
    pub variant: KvmVariant,
    /// Knobs (all false for the plain generations).
    pub knobs: Knobs,
}

const NO_KNOBS: Knobs = Knobs {
    unconditional_running_on_load: false,
    no_irr_pending_update: false,
    no_block_fences: false,
    no_wake_up_mb: false,
    no_enter_mb: false,
    no_sleep_put: false,
    stale_cpu_on_unblock: false,
};

const fn plain(name: &'static str, variant: KvmVariant) -> KvmRow {
    KvmRow {
        name,
        variant,
        knobs: NO_KNOBS,
    }
}

const fn v4_without(name: &'static str, knobs: Knobs) -> KvmRow {
    KvmRow {
        name,
        variant: KvmVariant::V4,
        knobs,
    }
}

/// The KVM rows: the eight generations (V3-fast is 5.18 as shipped), then V4 with one of the
/// kernel's barriers removed each, named after the knob. The ablations sit on V4, not V3: the
/// bundled scenario lets the target be preempted in its blocking path, and V3's C2b window
/// would mask what a barrier does.
pub const KVM_ROWS: [KvmRow; 11] = [
    plain("V0", KvmVariant::V0),
    plain("V1", KvmVariant::V1),
    plain("V1b", KvmVariant::V1b),
    plain("V2", KvmVariant::V2),
    plain("V3", KvmVariant::V3),
    plain("V3-fast", KvmVariant::V3Fast),
    plain("V4", KvmVariant::V4),
    plain("V5", KvmVariant::V5),
    v4_without(
        "V4-no-block-fences",
        Knobs {
            no_block_fences: true,
            ..NO_KNOBS
        },
    ),
    v4_without(
        "V4-no-wake-up-mb",
        Knobs {
            no_wake_up_mb: true,
            ..NO_KNOBS
        },
    ),
    v4_without(
        "V4-no-enter-mb",
        Knobs {
            no_enter_mb: true,
            ..NO_KNOBS
        },
    ),
];

/// Rows renamed in issue 14 (after the barrier each removes in the kernel): (old, new).
pub const RENAMED_ROWS: [(&str, &str); 3] = [
    ("V4-no-scmb", "V4-no-block-fences"),
    ("V4-no-wakemb", "V4-no-wake-up-mb"),
    ("V4-no-entermb", "V4-no-enter-mb"),
];

/// The new name of a renamed row (`"V4-no-scmb"` → `"V4-no-block-fences"`).
pub fn renamed_row(old: &str) -> Option<&'static str> {
    RENAMED_ROWS
        .iter()
        .find(|(o, _)| *o == old)
        .map(|(_, n)| *n)
}

/// The field of [`Knobs`] a knob sets.
type KnobField = fn(&mut Knobs) -> &mut bool;

/// The KVM bug knobs, each spelled one way (the command line's `+KNOB` and a scenario
/// file's `[kvm] knobs` alike), with the field each sets.
const KNOB_FIELDS: [(&str, KnobField); 7] = [
    ("running-on-load", |k| &mut k.unconditional_running_on_load),
    ("no-irr-pending", |k| &mut k.no_irr_pending_update),
    ("no-block-fences", |k| &mut k.no_block_fences),
    ("no-wake-up-mb", |k| &mut k.no_wake_up_mb),
    ("no-enter-mb", |k| &mut k.no_enter_mb),
    ("no-sleep-put", |k| &mut k.no_sleep_put),
    ("stale-cpu-on-unblock", |k| &mut k.stale_cpu_on_unblock),
];

/// Named KVM bug knobs.
pub const KNOBS: [&str; 7] = [
    KNOB_FIELDS[0].0,
    KNOB_FIELDS[1].0,
    KNOB_FIELDS[2].0,
    KNOB_FIELDS[3].0,
    KNOB_FIELDS[4].0,
    KNOB_FIELDS[5].0,
    KNOB_FIELDS[6].0,
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

/// Sets knob `name` in `knobs`. An old name of [`RENAMED_KNOBS`] sets the new one and is
/// returned as `Some((old, new))`; an unknown name is an error listing [`KNOBS`].
pub fn set_knob(
    knobs: &mut Knobs,
    name: &str,
) -> Result<Option<(&'static str, &'static str)>, String> {
    let renamed = RENAMED_KNOBS.iter().copied().find(|(o, _)| *o == name);
    let name = renamed.map_or(name, |(_, new)| new);
    let (_, field) = KNOB_FIELDS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| {
            format!(
                "unknown knob `{name}`, expected one of: {}",
                KNOBS.join(", ")
            )
        })?;
    *field(knobs) = true;
    Ok(renamed)
}

/// The names of the knobs set in `knobs`, in [`KNOBS`] order.
pub fn knob_names(knobs: &Knobs) -> Vec<&'static str> {
    KNOB_FIELDS
        .iter()
        .filter(|(_, f)| {
            let mut k = *knobs;
            *f(&mut k)
        })
        .map(|(n, _)| *n)
        .collect()
}

/// `name` as a `&'static str`, allocated once per distinct name (composed KVM names).
fn intern(name: String) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.into_boxed_str());
    names.push(n);
    n
}

/// The KVM configuration `variant` with `knobs`, named: the row of [`KVM_ROWS`] that is this
/// configuration, else `GENERATION+KNOB+...` with the knobs in [`KNOBS`] order.
pub fn kvm_row_of(variant: KvmVariant, knobs: Knobs) -> KvmRow {
    if let Some(r) = KVM_ROWS
        .iter()
        .find(|r| r.variant == variant && r.knobs == knobs)
    {
        return *r;
    }
    let mut name = variant.name().to_string();
    for k in knob_names(&knobs) {
        name.push('+');
        name.push_str(k);
    }
    KvmRow {
        name: intern(name),
        variant,
        knobs,
    }
}

/// The generation or row `name` (an old row name of [`RENAMED_ROWS`] resolves, with a
/// warning on stderr).
fn base_row(name: &str) -> Option<KvmRow> {
    let found = |n: &str| KVM_ROWS.iter().copied().find(|k| k.name == n);
    found(name).or_else(|| {
        let new = renamed_row(name)?;
        eprintln!("warning: KVM row `{name}` is now called `{new}`");
        found(new)
    })
}

/// Parses a KVM configuration: a generation or named row, then `+KNOB` parts
/// (`V4+no-wake-up-mb`, `V4-no-block-fences+no-enter-mb`). An old knob name still loads, with
/// a warning on stderr. Errors name the bad part and list the valid ones.
pub fn parse_kvm(spec: &str) -> Result<KvmRow, String> {
    let mut parts = spec.split('+');
    let first = parts.next().unwrap_or_default();
    let base = base_row(first).ok_or_else(|| {
        let gens: Vec<&str> = KvmVariant::ALL.iter().map(|v| v.name()).collect();
        let rows: Vec<&str> = KVM_ROWS[KvmVariant::ALL.len()..]
            .iter()
            .map(|r| r.name)
            .collect();
        format!(
            "unknown KVM variant `{first}`, expected one of: {}; or a row: {}; then `+KNOB` \
             parts ({})",
            gens.join(", "),
            rows.join(", "),
            KNOBS.join(", ")
        )
    })?;
    let mut knobs = base.knobs;
    for part in parts {
        if let Some((old, new)) =
            set_knob(&mut knobs, part).map_err(|e| format!("`{spec}`: {e}"))?
        {
            eprintln!("warning: `{spec}`: knob `{old}` is now called `{new}`");
        }
    }
    Ok(kvm_row_of(base.variant, knobs))
}

/// The KVM configuration `name` ([`parse_kvm`]), `None` when it does not parse.
pub fn kvm_row(name: &str) -> Option<KvmRow> {
    parse_kvm(name).ok()
}

/// `"V0, V1, ..."`, for error messages.
pub fn kvm_names() -> String {
    KVM_ROWS.map(|k| k.name).join(", ")
}

/// `base` with the hardware configuration of `hw` and the KVM variant and knobs of `kvm`.
pub fn cell_scenario(base: &Scenario, hw: &HwVariant, kvm: &KvmRow) -> Scenario {
    let mut sc = base.clone();
    sc.hw = hw.cfg;
    sc.kvm.variant = kvm.variant;
    sc.kvm.knobs = kvm.knobs;
    sc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_names_are_canonical() {
        let r = parse_kvm("V4+no-wake-up-mb").unwrap();
        assert_eq!(r, kvm_row("V4-no-wake-up-mb").unwrap());
        let r = parse_kvm("V4-no-block-fences+no-enter-mb").unwrap();
        assert_eq!(r.name, "V4+no-block-fences+no-enter-mb");
        assert!(r.knobs.no_block_fences && r.knobs.no_enter_mb);
        assert_eq!(parse_kvm(r.name), Ok(r));
        let e = parse_kvm("V4+no-mb").unwrap_err();
        assert!(
            e.contains("unknown knob `no-mb`") && e.contains("no-wake-up-mb"),
            "{e}"
        );
        let e = parse_kvm("V9+no-enter-mb").unwrap_err();
        assert!(
            e.starts_with("unknown KVM variant `V9`, expected one of: V0"),
            "{e}"
        );
        for (i, k) in KVM_ROWS.iter().enumerate() {
            assert_eq!(kvm_row(k.name), Some(KVM_ROWS[i]));
        }
        for (i, h) in hw_variants().iter().enumerate() {
            assert_eq!(hw_variant(h.name), Some(hw_variants()[i]));
            assert_eq!(hw_variant_of(h.cfg), *h);
        }
    }
}
