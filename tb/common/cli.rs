//! Running the `avic-cosim` binary from a test (`#[path = "common/cli.rs"] mod cli;`).

use std::process::{Command, Output};

/// Runs `avic-cosim ARGS` to completion.
pub fn cosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avic-cosim"))
        .args(args)
        .output()
        .expect("run avic-cosim")
}

/// Bytes of stdout or stderr as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
