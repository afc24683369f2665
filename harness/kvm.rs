//! KVM's AVIC code paths as step machines: the software half of the co-simulation.
//!
//! Every kernel step named here is mapped to its source and commits in `docs/kvm-model.md`
//! (the verified reference); section numbers below (`§2`, `§4 V3`, ...) point into it.
//!
//! One [`VcpuThread`] per vCPU, on host CPU = vCPU id unless the scenario places it elsewhere
//! ([`VcpuThread::place`]); a preemption may migrate it to another host CPU
//! ([`VcpuThread::migrate`], the world's `Action::Migrate`, scenario `migrate_to`:
//! `kvm_sched_out`, the context switch, `kvm_sched_in` on the new CPU, then
//! `vcpu->cpu = cpu`). [`VcpuThread::step`] performs
//! exactly one shared-memory access (a load, a store, a locked RMW or a fence, on the x86-TSO
//! [`Memory`](crate::mem::Memory) through the thread's own store buffer) or one local action (VMRUN, a doorbell
//! WRMSR, a reschedule IPI, a wake-up of another thread, a decision), then advances the
//! program counter [`Pc`]. Between any two steps the cycle loop ([`crate::sim`]) may run another thread, drain a
//! store buffer or clock the RTL. Everything the software does to the hardware or to the
//! scheduler goes through [`HostCtx`]; this module does not depend on the RTL.
//!
//! The seven handler generations ([`KvmVariant`]) are one model: they differ only through
//! the [`Traits`] table. Known bugs and removable barriers are [`Knobs`].
//!
//! Software state that other threads (or the hardware) can observe lives in simulated
//! memory at the addresses of [`KvmLayout`]: `vcpu->mode`, the request bitmap,
//! `vcpu->wait.task` (rcuwait), the task state, `apic->irr_pending`, `apicv_active` and
//! `vcpu->cpu`. State only the owning thread ever touches (V0's `svm->avic_is_running`,
//! V5's shadow `svm->avic_physical_id_entry`) is thread-local.
//!
//! Simplifications (each also noted where it applies): no halt-polling (`halt_poll_ns = 0`),
//! PPR = 0 and guest RFLAGS.IF = 1 in `kvm_vcpu_check_block`, no IRTE / IOMMU updates,
//! APICv inhibition through `KVM_REQ_APICV_UPDATE` (`kvm/thread/apicv.rs`: deactivation, the emulated
//! LAPIC's injection and EOI; the inhibiting side is the world's `Action::Apicv`), V4/V5's fixed `avic_kick_target_vcpus_fast` (`603ccef42ce9`) run as the slow
//! `kvm_apic_match_dest` loop (same targets, [`Traits::fast_path_518`]); V3-fast runs 5.18's
//! shipped fast path. Context switches: a preemption runs `kvm_sched_out`/`kvm_sched_in`, and
//! so does the voluntary sleep in `schedule()` ([`Pc::ScheduleKvmSchedOut`],
//! [`Pc::ScheduleKvmSchedIn`]; `kernel/sched/core.c` fires the preempt notifiers on every
//! context switch).

mod config;
mod context;
mod pc;
mod thread;
mod variant;

pub use config::{decode_targets, KvmConfig, KvmLayout, Targets};
pub use context::{GuestExit, HostCtx, KvmError, KvmEvent};
pub use pc::{LoadVia, Pc, PutVia};
pub use thread::VcpuThread;
pub use variant::{
    DeliveryKey, DeliveryPath, Knobs, KvmVariant, LoadRule, NotRunningDelivery, NotRunningHandler,
    Traits,
};

use crate::apic::PhysEntry;

/// Largest number of vCPUs a VM may have in this model (fixed-size target arrays).
pub const MAX_VCPUS: usize = 8;

/// `OUTSIDE_GUEST_MODE` (`include/linux/kvm_host.h`).
pub const OUTSIDE_GUEST_MODE: u64 = 0;
/// `IN_GUEST_MODE`.
pub const IN_GUEST_MODE: u64 = 1;
/// `EXITING_GUEST_MODE` (set by a kicker's cmpxchg).
pub const EXITING_GUEST_MODE: u64 = 2;

/// `TASK_RUNNING` (`current->__state`).
pub const TASK_RUNNING: u64 = 0;
/// `TASK_INTERRUPTIBLE`.
pub const TASK_INTERRUPTIBLE: u64 = 1;

/// Bit of `KVM_REQ_EVENT` in `vcpu->requests`: `KVM_ARCH_REQ(6)` with
/// `KVM_REQUEST_ARCH_BASE` 8 (`arch/x86/include/asm/kvm_host.h`). Only its being a bit of
/// the word matters to the model.
pub const KVM_REQ_EVENT_BIT: u32 = 14;

/// ICR bit 12, "delivery status" / `APIC_ICR_BUSY`.
pub const APIC_ICR_BUSY: u32 = 1 << 12;
/// `KVM_REQ_APICV_UPDATE` = `KVM_ARCH_REQ_FLAGS(25, KVM_REQUEST_WAIT | KVM_REQUEST_NO_WAKEUP)`
/// (`arch/x86/include/asm/kvm_host.h`; arch requests start at bit 8): bit 33 of `requests`.
pub const KVM_REQ_APICV_UPDATE_BIT: u32 = 33;

const IR_MASK: u64 = 1 << PhysEntry::IS_RUNNING_BIT;
/// Byte mask of a 32-bit APIC register in the low half of its 64-bit word.
const REG32_MASK: u8 = 0x0F;

#[cfg(test)]
mod tests;
