//! avic-cosim: AMD AVIC IPI hardware (Verilated RTL) co-simulated with KVM's code paths.

#[path = "../bindings/ffi.rs"]
mod bridge;

pub use bridge::ffi;
