//! [`RunState`]: everything of a run that a snapshot copies.
//!
//! A [`super::Snapshot`] is the RTL's saved bytes plus one `RunState`, and a restore puts
//! back one `RunState`: a field added here is saved and restored without another line, and
//! a field of the run kept anywhere else in [`World`] is, by construction, not part of
//! the run's future (recorders and the scenario).

use super::*;
use crate::guest::Guest;
use crate::kvm::VcpuThread;
use crate::oracle::Oracles;

/// The state of a run besides the RTL and its memory: threads, guests, the pending kicks and
/// wake-ups, the world's ledger of writes and doorbells, the invariants' state, the event
/// log and the choices so far.
#[derive(Clone, Debug)]
pub(super) struct RunState {
    pub(super) threads: Vec<VcpuThread>,
    pub(super) guests: [Guest; MAX_VCPUS],
    pub(super) kick: [bool; MAX_CORES],
    pub(super) wake: [bool; MAX_VCPUS],
    pub(super) timer_fired: [bool; MAX_VCPUS],
    pub(super) apicv: Apicv,
    pub(super) preempted: [bool; MAX_VCPUS],
    pub(super) migrated: [bool; MAX_VCPUS],
    /// The vCPU whose guest a core runs (set at VMRUN); `NO_VCPU` before any.
    pub(super) vcpu_on: [u8; MAX_CORES],
    /// Per sender core: target vCPU and cycle of its last IRR write (doorbell target).
    pub(super) irr_write: [(u8, u64); MAX_CORES],
    /// Per vCPU thread: cycle of its last `kvm_lapic_set_irr` (software doorbells).
    pub(super) set_irr_at: [u64; MAX_VCPUS],
    pub(super) last_icr: [u64; MAX_VCPUS],
    /// Per core: the vCPU whose guest wrote the ICR its sender works on.
    pub(super) icr_from: [u8; MAX_CORES],
    /// The invariants' state ([`crate::oracle`]).
    pub(super) oracles: Oracles,
    pub(super) log: Vec<Event>,
    /// Per choice point: (rank taken, actions enabled).
    pub(super) choices: Vec<(u16, u16)>,
    pub(super) choice_cycles: Vec<u32>,
    /// The action of the last cycle (the default order continues it).
    pub(super) current: Option<Action>,
    /// Per choice point: the agent that acted (PCT demotion).
    pub(super) acted_at: Vec<u64>,
    pub(super) rtl_seen: usize,
    pub(super) violation: Option<Violation>,
    pub(super) timer_cpu: u8,
    /// Cycles run so far (reset not included).
    pub(super) ran: u64,
}

/// `vcpu_on` of a core that has run no guest yet.
pub(super) const NO_VCPU: u8 = u8::MAX;

/// Capacity of the event log reserved at construction (and at a restore).
const LOG_CAPACITY: usize = 4096;
/// Capacity of the per-choice-point vectors reserved at construction (and at a restore).
const CHOICE_CAPACITY: usize = 512;

impl RunState {
    /// The state of a run at reset: `threads` about to `vcpu_load`, `guests` at their first
    /// instruction, core `c` running `vcpu_on[c]`, the timer on host CPU `timer_cpu`.
    pub(super) fn new(
        threads: Vec<VcpuThread>,
        guests: [Guest; MAX_VCPUS],
        vcpu_on: [u8; MAX_CORES],
        timer_cpu: u8,
        oracles: Oracles,
    ) -> Self {
        let mut s = RunState {
            threads,
            guests,
            kick: [false; MAX_CORES],
            wake: [false; MAX_VCPUS],
            timer_fired: [false; MAX_VCPUS],
            apicv: Apicv::default(),
            preempted: [false; MAX_VCPUS],
            migrated: [false; MAX_VCPUS],
            vcpu_on,
            irr_write: [(NO_VCPU, 0); MAX_CORES],
            set_irr_at: [0; MAX_VCPUS],
            last_icr: [0; MAX_VCPUS],
            icr_from: [NO_VCPU; MAX_CORES],
            oracles,
            log: Vec::new(),
            choices: Vec::new(),
            choice_cycles: Vec::new(),
            current: None,
            acted_at: Vec::new(),
            rtl_seen: 0,
            violation: None,
            timer_cpu,
            ran: 0,
        };
        s.reserve();
        s
    }

    /// Puts back the state `s` holds, with the loop's buffers reserved as at [`RunState::new`]
    /// (so the loop that follows allocates no more than a fresh run's).
    pub(super) fn restore(&mut self, s: &RunState) {
        *self = s.clone();
        self.reserve();
    }

    /// Reserves the buffers the loop pushes to, so that the loop allocates nothing.
    fn reserve(&mut self) {
        fn at_least<T>(v: &mut Vec<T>, cap: usize) {
            v.reserve(cap.saturating_sub(v.len()));
        }
        at_least(&mut self.log, LOG_CAPACITY);
        at_least(&mut self.choices, CHOICE_CAPACITY);
        at_least(&mut self.choice_cycles, CHOICE_CAPACITY);
        at_least(&mut self.acted_at, CHOICE_CAPACITY);
        self.oracles.reserve();
    }
}

/// APICv inhibition in a run ([`Scenario::apicv_toggle`], [`Action::Apicv`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Apicv {
    /// `kvm_set_or_clear_apicv_inhibit` calls made: 0, 1 (inhibited), 2 (re-enabled).
    pub(super) toggles: u8,
    /// Per vCPU: the VMCB's `AVIC_ENABLE` at its last VMRUN.
    pub(super) avic_on: [bool; MAX_VCPUS],
}

impl Default for Apicv {
    fn default() -> Self {
        Apicv {
            toggles: 0,
            avic_on: [true; MAX_VCPUS],
        }
    }
}
