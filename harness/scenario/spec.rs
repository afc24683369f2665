//! [`Scenario`]: one VM's configuration as data (what the cycle loop, [`crate::sim`], runs),
//! its builder methods and its one validation.

use crate::apic::Icr;
use crate::dut::{DEFAULT_CORES, MAX_CORES};
use crate::ffi::HwConfig;
use crate::guest::{GuestOp, Program};
use crate::kvm::{Knobs, KvmConfig, KvmVariant};
use crate::rtl::Rtl;

/// Most vCPUs a scenario can have (one per RTL core, at most [`MAX_CORES`] cores).
pub const MAX_VCPUS: usize = MAX_CORES;

/// A scenario: who runs what, on which hardware and KVM variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Hardware ordering variant.
    pub hw: HwConfig,
    /// RTL cores (= host CPUs running vCPUs; host CPU `cores` is the timer's), 1..=
    /// [`MAX_CORES`]: the RTL's `NumCores`. Default [`DEFAULT_CORES`].
    pub cores: u8,
    /// KVM handler variant, knobs and layout; `kvm.n_vcpus` vCPUs (at most [`MAX_VCPUS`]).
    pub kvm: KvmConfig,
    /// Guest program of each vCPU.
    pub programs: [Program; MAX_VCPUS],
    /// `apic->irr_pending` of each vCPU at the start (false models a target whose APICv was
    /// inhibited and whose hint was recomputed from an empty IRR: the C4 setting).
    pub irr_pending: [bool; MAX_VCPUS],
    /// vCPUs that receive one LAPIC timer interrupt at a time the schedule chooses.
    pub timers: [bool; MAX_VCPUS],
    /// vCPUs that may be preempted once inside their blocking path (C2, C2b).
    pub preemptible: [bool; MAX_VCPUS],
    /// Host CPU (= RTL core) each vCPU's thread starts on; distinct.
    pub placement: [u8; MAX_VCPUS],
    /// Host CPU a vCPU's thread may be migrated to, once, at a preemption point (A3); a CPU
    /// no other vCPU is placed on or migrates to.
    pub migrate_to: [Option<u8>; MAX_VCPUS],
    /// Valid bit of each vCPU's Logical APIC ID table entry (at `kvm.logical_index`); false
    /// makes a logical IPI naming it an invalid target.
    pub logical_valid: [bool; MAX_VCPUS],
    /// APICv gets inhibited once and re-enabled once, each at a time the schedule chooses
    /// ([`Action::Apicv`]).
    pub apicv_toggle: bool,
    /// Bound on cycles per run.
    pub max_cycles: u64,
    /// The RTL the scenario runs on: the bundled one, or a user's (`--rtl FILELIST --top NAME`).
    pub rtl: Rtl,
}

impl Scenario {
    /// `n` vCPUs that idle in HLT on APM hardware (locked IRR update, IsRunning read after it
    /// completed, destinations validated first: `scenario::hw_variants()[0]`), KVM `variant`.
    pub fn new(n: u8, variant: KvmVariant) -> Self {
        Scenario {
            hw: HwConfig {
                atomic_irr: true,
                validate_first: true,
                ..HwConfig::default()
            },
            cores: DEFAULT_CORES as u8,
            kvm: KvmConfig::new(variant, n),
            programs: [Program::default(); MAX_VCPUS],
            irr_pending: [true; MAX_VCPUS],
            timers: [false; MAX_VCPUS],
            preemptible: [false; MAX_VCPUS],
            placement: [0, 1, 2, 3, 4, 5, 6, 7],
            migrate_to: [None; MAX_VCPUS],
            logical_valid: [true; MAX_VCPUS],
            apicv_toggle: false,
            max_cycles: 4000,
            rtl: Rtl::Bundled,
        }
    }

    /// The seed thread's scenario (LKML, March 2019): vCPU 0 sends vector 0x40 to vCPU 1,
    /// which halts; `scenarios/seed.toml` adds a timer and a preemption on vCPU 1.
    pub fn seed(variant: KvmVariant, hw: HwConfig) -> Self {
        Scenario::new(2, variant)
            .hw(hw)
            .program(0, &[GuestOp::SendIpi(Icr::fixed_physical(0x40, 1))])
            .program(1, &[GuestOp::Halt])
    }

    /// Sets the hardware variant.
    pub fn hw(mut self, hw: HwConfig) -> Self {
        self.hw = hw;
        self
    }

    /// Sets the core count ([`Scenario::cores`]).
    pub fn with_cores(mut self, cores: u8) -> Self {
        self.cores = cores;
        self
    }

    /// Sets the RTL the scenario runs on.
    pub fn rtl(mut self, rtl: Rtl) -> Self {
        self.rtl = rtl;
        self
    }

    /// Sets the KVM bug knobs.
    pub fn knobs(mut self, knobs: Knobs) -> Self {
        self.kvm.knobs = knobs;
        self
    }

    /// Sets the guest program of `vcpu`.
    pub fn program(mut self, vcpu: u8, ops: &[GuestOp]) -> Self {
        self.programs[usize::from(vcpu)] = Program::new(ops);
        self
    }

    /// Gives `vcpu` one timer interrupt.
    pub fn timer(mut self, vcpu: u8) -> Self {
        self.timers[usize::from(vcpu)] = true;
        self
    }

    /// Lets `vcpu` be preempted once in its blocking path.
    pub fn preemptible(mut self, vcpu: u8) -> Self {
        self.preemptible[usize::from(vcpu)] = true;
        self
    }

    /// Starts `vcpu`'s thread on host CPU `cpu`.
    pub fn place(mut self, vcpu: u8, cpu: u8) -> Self {
        self.placement[usize::from(vcpu)] = cpu;
        self
    }

    /// Lets `vcpu`'s thread be migrated once to host CPU `cpu`.
    pub fn migratable(mut self, vcpu: u8, cpu: u8) -> Self {
        self.migrate_to[usize::from(vcpu)] = Some(cpu);
        self
    }

    /// Starts `vcpu` with `irr_pending = false`.
    pub fn irr_pending_false(mut self, vcpu: u8) -> Self {
        self.irr_pending[usize::from(vcpu)] = false;
        self
    }

    /// Most sends a run of the scenario records (every ICR write to every vCPU, every timer):
    /// the oracles reserve that much so the cycle loop allocates nothing.
    pub fn max_sends(&self) -> usize {
        let n = self.n();
        let icrs: usize = self.programs[..n]
            .iter()
            .map(|p| {
                (0..p.len())
                    .filter(|&i| matches!(p.get(i), Some(GuestOp::SendIpi(_))))
                    .count()
            })
            .sum();
        icrs * n + self.timers[..n].iter().filter(|&&t| t).count()
    }

    /// Number of vCPUs (`kvm.n_vcpus`).
    pub fn n(&self) -> usize {
        usize::from(self.kvm.n_vcpus)
    }

    /// Checks the scenario: 1..=[`MAX_CORES`] cores, 1 to `cores` vCPUs, each placed on (and
    /// migrating to) a host CPU of its own below `cores`.
    pub fn validate(&self) -> Result<(), String> {
        let cores = usize::from(self.cores);
        if cores == 0 || cores > MAX_CORES {
            return Err(format!("{cores} cores: 1 to {MAX_CORES} are supported"));
        }
        if self.n() == 0 || self.n() > cores {
            return Err(format!(
                "{} vCPUs: the RTL has {cores} cores, one vCPU per core",
                self.n()
            ));
        }
        let mut used = [false; MAX_CORES];
        let mut claim = |v: usize, cpu: u8, what: &str| {
            let c = usize::from(cpu);
            if c >= cores {
                return Err(format!(
                    "vCPU {v}: {what} host CPU {cpu}: the RTL has host CPUs 0..{cores}"
                ));
            }
            if std::mem::replace(&mut used[c], true) {
                return Err(format!(
                    "vCPU {v}: {what} host CPU {cpu} is already taken by another vCPU"
                ));
            }
            Ok(())
        };
        for v in 0..self.n() {
            claim(v, self.placement[v], "placed on")?;
        }
        for v in 0..self.n() {
            if let Some(c) = self.migrate_to[v] {
                claim(v, c, "migrating to")?;
            }
        }
        Ok(())
    }
}
