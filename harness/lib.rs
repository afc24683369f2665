//! avic-cosim: AMD AVIC IPI hardware (Verilated RTL, `rtl/`) co-simulated cycle by cycle with
//! models of KVM's code paths on x86-TSO memory.
//!
//! - [`ffi`]: the `cxx` bridge to the Verilated model (`bindings/`).
//! - [`dut`]: the model with a memory answering its ports, one FFI call per cycle.
//! - [`apic`]: AVIC register and table layouts.
//! - [`mem`]: simulated physical memory with x86-TSO store buffers.

#[path = "../bindings/ffi.rs"]
mod bridge;

pub mod apic;
pub mod dut;
pub mod kvm;
pub mod mem;

pub use bridge::ffi;
pub use dut::{Dut, DutError, DutEvent, MemOp, Txn};
