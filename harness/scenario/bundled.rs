//! The scenarios of `scenarios/`, compiled into the build, and the lookup of a scenario by
//! bundled name or path.

use super::{load, parse, ScenarioError, ScenarioFile};
use std::path::Path;

/// The scenarios of `scenarios/`, bundled into the build: (name, file, text). Every file of
/// `scenarios/` is here (`tb/scenarios.rs` checks it); docs/scenarios.md describes them.
pub const BUNDLED: [(&str, &str, &str); 20] = [
    (
        "seed",
        "scenarios/seed.toml",
        include_str!("../../scenarios/seed.toml"),
    ),
    (
        "broadcast-mixed",
        "scenarios/broadcast-mixed.toml",
        include_str!("../../scenarios/broadcast-mixed.toml"),
    ),
    (
        "invalid-target",
        "scenarios/invalid-target.toml",
        include_str!("../../scenarios/invalid-target.toml"),
    ),
    (
        "logical-flat",
        "scenarios/logical-flat.toml",
        include_str!("../../scenarios/logical-flat.toml"),
    ),
    (
        "logical-cluster",
        "scenarios/logical-cluster.toml",
        include_str!("../../scenarios/logical-cluster.toml"),
    ),
    (
        "self-ipi",
        "scenarios/self-ipi.toml",
        include_str!("../../scenarios/self-ipi.toml"),
    ),
    (
        "two-senders",
        "scenarios/two-senders.toml",
        include_str!("../../scenarios/two-senders.toml"),
    ),
    (
        "c2b-window",
        "scenarios/c2b-window.toml",
        include_str!("../../scenarios/c2b-window.toml"),
    ),
    (
        "fast-path-broadcast",
        "scenarios/fast-path-broadcast.toml",
        include_str!("../../scenarios/fast-path-broadcast.toml"),
    ),
    (
        "migration",
        "scenarios/migration.toml",
        include_str!("../../scenarios/migration.toml"),
    ),
    (
        "same-vector-senders",
        "scenarios/same-vector-senders.toml",
        include_str!("../../scenarios/same-vector-senders.toml"),
    ),
    (
        "broadcast-three",
        "scenarios/broadcast-three.toml",
        include_str!("../../scenarios/broadcast-three.toml"),
    ),
    (
        "broadcast-ff",
        "scenarios/broadcast-ff.toml",
        include_str!("../../scenarios/broadcast-ff.toml"),
    ),
    (
        "ping-pong",
        "scenarios/ping-pong.toml",
        include_str!("../../scenarios/ping-pong.toml"),
    ),
    (
        "spinning-target",
        "scenarios/spinning-target.toml",
        include_str!("../../scenarios/spinning-target.toml"),
    ),
    (
        "logical-multicast",
        "scenarios/logical-multicast.toml",
        include_str!("../../scenarios/logical-multicast.toml"),
    ),
    (
        "self-ipi-spin",
        "scenarios/self-ipi-spin.toml",
        include_str!("../../scenarios/self-ipi-spin.toml"),
    ),
    (
        "spinning-target-two",
        "scenarios/spinning-target-two.toml",
        include_str!("../../scenarios/spinning-target-two.toml"),
    ),
    (
        "two-vectors-one-sender",
        "scenarios/two-vectors-one-sender.toml",
        include_str!("../../scenarios/two-vectors-one-sender.toml"),
    ),
    (
        "apicv-inhibit",
        "scenarios/apicv-inhibit.toml",
        include_str!("../../scenarios/apicv-inhibit.toml"),
    ),
];

/// `"seed, broadcast-mixed, ..."`, for error messages.
pub fn scenario_names() -> String {
    BUNDLED.map(|b| b.0).join(", ")
}

/// The scenario `spec`: a bundled name, else the path of a scenario file (`.toml`).
pub fn load_scenario(spec: &str) -> Result<ScenarioFile, ScenarioError> {
    if let Some((_, file, text)) = BUNDLED.iter().find(|b| b.0 == spec) {
        return parse(text, file);
    }
    if spec.ends_with(".toml") || spec.contains('/') {
        return load(Path::new(spec));
    }
    Err(ScenarioError::Invalid {
        file: spec.to_string(),
        msg: format!(
            "neither a bundled scenario ({}) nor a scenario file (.toml)",
            scenario_names()
        ),
    })
}

/// The text of scenario `spec` ([`load_scenario`]'s lookup), if it can be read.
pub fn scenario_text(spec: &str) -> Option<String> {
    match BUNDLED.iter().find(|b| b.0 == spec) {
        Some((_, _, text)) => Some(text.to_string()),
        None => std::fs::read_to_string(spec).ok(),
    }
}
