//! avic-cosim: AMD AVIC IPI hardware (Verilated RTL, `rtl/`) co-simulated cycle by cycle with
//! models of KVM's code paths on x86-TSO memory.
//!
//! - [`ffi`]: the `cxx` bridge to the Verilated model (`bindings/`).
//! - [`dut`]: the model with a memory answering its ports, one FFI call per cycle.
//! - [`apic`]: AVIC register and table layouts.
//! - [`mem`]: simulated physical memory with x86-TSO store buffers.
//! - [`kvm`]: KVM's code paths (variants V0-V5, bug knobs) as step machines.
//! - [`guest`]: guest programs.
//! - [`sim`]: the cycle loop: RTL + memory + KVM threads + guests, driven by a schedule.
//! - [`sched`]: schedules: one [`sched::Scheduler`] trait, one strategy a file (default
//!   order, random, PCT, replay).
//! - [`oracle`]: the invariants.
//! - [`scenario`]: scenario files (TOML), the bundled scenarios and the registry of hardware
//!   orderings, KVM generations and knobs ([`scenario::variants`]).
//! - [`explore`]: searches over schedules.
//! - [`rtl`]: bring your own RTL: a user's implementation of the port contract, built at run
//!   time and cached.
//! - [`report`]: the verdict matrix and its JSON / JUnit reports.
//! - [`replay`]: replay files, counterexamples as data (format 2; format 1 still read).
//! - [`golden`]: golden matrices, the checked-in verdicts of every scenario (`tb/golden/`).
//! - [`mutants`]: the mutation score: single-point edits of the bundled RTL run against the
//!   golden matrices.
//! - [`wave`]: waveforms of a run: RTL and software lanes in one VCD/FST, with a GTKWave save file.

#[path = "../bindings/ffi.rs"]
mod bridge;

pub mod apic;
pub mod coverage;
pub mod dpor;
pub mod dut;
pub mod explore;
pub mod golden;
pub mod guest;
pub mod kvm;
pub mod mem;
pub mod mutants;
pub mod oracle;
pub mod replay;
pub mod report;
pub mod rtl;
pub mod scenario;
pub mod sched;
pub mod sim;
pub mod wave;

pub use bridge::ffi;
pub use dut::{Dut, DutError, DutEvent, MemOp, Txn};
