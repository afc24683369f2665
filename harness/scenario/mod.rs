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
//! cores = 4             # RTL cores (avic_top's NumCores), 1..=8; default: the RTL's default
//!
//! [kvm]
//! variant = "V3"        # V0 V1 V1b V2 V3 V3-fast V4 V5, a row such as V4-no-enter-mb, or
//!                       # a generation with knobs: "V4+no-wake-up-mb" (variants.rs)
//! knobs = []            # running-on-load, no-irr-pending, no-block-fences,
//!                       # no-wake-up-mb, no-enter-mb, no-sleep-put, stale-cpu-on-unblock
//!                       # (old names no-set-current-state-mb, no-enter-guest-mb still load,
//!                       # with a warning naming the new one)
//! apicv_toggle = false  # APICv inhibited once and re-enabled once, when the schedule
//!                       # chooses (kvm_set_or_clear_apicv_inhibit)
//!
//! [apic]                # the guests' logical destination model (DFR)
//! logical_model = "flat"  # flat: vCPU i has logical ID 1 << i; cluster: (cluster << 4) | 1 << i
//! cluster = 0           # cluster model only, 0..=14
//!
//! [[vcpu]]              # vCPU i (at most `cores`); host CPU c is RTL core c
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
//! ```
//!
//! `send_ipi` takes `vector`, `dest` (APIC ID or 0xFF), `mode` (`physical` | `logical`),
//! `shorthand` (`none` | `self` | `all` | `all-but-self`), `delivery` (`fixed` | `nmi` |
//! `init` | `smi` | `lowest`) and `trigger` (`edge` | `level`). Unknown fields are errors;
//! every error names the file, line and column.

//!
//! A `[check]` table (an old file's `invariants = [...]`) is an error at its line: every run
//! judges every invariant.
//!
//! - [`file`](mod@file): the TOML format (parsing, spans, [`parse`], [`load`]).
//! - [`variants`]: the one registry of hardware orderings, KVM generations and knobs.
//! - [`bundled`]: the scenarios of `scenarios/`, compiled in ([`BUNDLED`], [`load_scenario`]).

pub mod bundled;
pub mod file;
mod spec;
pub mod variants;

pub use bundled::{load_scenario, scenario_names, BUNDLED};
pub use file::{load, parse};
pub use variants::{
    apm, hw_table as hw_variants, renamed_knob_warning, HwVariant, KvmRow, KNOBS, RENAMED_KNOBS,
};

pub use spec::{Scenario, MAX_VCPUS};

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
    /// Warnings about old spellings ([`RENAMED_KNOBS`]); [`parse`] also prints each on stderr
    /// when it loads the file.
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
    /// SHA-256 of the file's text (lowercase hex), recorded in replay files so that a changed
    /// scenario is reported instead of replayed.
    pub sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apic::Icr;
    use crate::guest::GuestOp;
    use crate::kvm::KvmVariant;

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
