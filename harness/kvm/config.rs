//! Where the software state lives ([`KvmLayout`]), one VM's configuration ([`KvmConfig`])
//! and the destination decoding of an ICR ([`decode_targets`]).

use super::*;
use crate::apic::{Icr, PhysEntry, Shorthand, VmLayout, DEST_BROADCAST};
use crate::mem::{MemError, Memory};

/// Where the per-vCPU software state lives in simulated memory, plus the AVIC tables.
///
/// vCPU `v`'s block starts at `sw_base + sw_stride * v`; each field is one 64-bit word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KvmLayout {
    /// AVIC tables and backing pages.
    pub vm: VmLayout,
    /// Base of vCPU 0's software block.
    pub sw_base: u64,
    /// Distance between vCPU blocks (at least 0x38).
    pub sw_stride: u64,
}

impl Default for KvmLayout {
    /// `VmLayout::default()`, software blocks at `0x8000 + 0x40 * vcpu`.
    fn default() -> Self {
        KvmLayout {
            vm: VmLayout::default(),
            sw_base: 0x8000,
            sw_stride: 0x40,
        }
    }
}

impl KvmLayout {
    fn sw(&self, vcpu: u8, off: u64) -> u64 {
        self.sw_base + self.sw_stride * u64::from(vcpu) + off
    }

    /// `vcpu->mode` (`OUTSIDE_GUEST_MODE` / `IN_GUEST_MODE` / `EXITING_GUEST_MODE`).
    pub fn mode(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x00)
    }

    /// `vcpu->requests` bitmap (bit [`KVM_REQ_EVENT_BIT`]).
    pub fn requests(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x08)
    }

    /// `vcpu->wait.task` (rcuwait): 0 = NULL, else the task id `vcpu + 1`. Non-zero is
    /// `kvm_vcpu_is_blocking()`.
    pub fn wait_task(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x10)
    }

    /// `current->__state` of the vCPU thread ([`TASK_RUNNING`] / [`TASK_INTERRUPTIBLE`]).
    pub fn task_state(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x18)
    }

    /// `apic->irr_pending` (0 / 1).
    pub fn irr_pending(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x20)
    }

    /// `vcpu->arch.apicv_active` (0 / 1).
    pub fn apicv_active(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x28)
    }

    /// `vcpu->cpu` (host CPU the vCPU is loaded on).
    pub fn vcpu_cpu(&self, vcpu: u8) -> u64 {
        self.sw(vcpu, 0x30)
    }

    /// `kvm->arch.apicv_inhibit_reasons` (VM-wide; 0 = APICv allowed), the word after the
    /// last possible vCPU block.
    pub fn apicv_inhibit_reasons(&self) -> u64 {
        self.sw(MAX_VCPUS as u8, 0x00)
    }

    /// The task id stored in `wait.task` while `vcpu` blocks.
    pub fn task_id(vcpu: u8) -> u64 {
        u64::from(vcpu) + 1
    }

    /// Physical APIC ID table entry of `vcpu` as `avic_init_backing_page` leaves it:
    /// valid, backing page, IsRunning=0, host id 0.
    pub fn initial_entry(&self, vcpu: u8) -> u64 {
        PhysEntry {
            valid: true,
            is_running: false,
            backing: self.vm.backing(vcpu),
            host_id: 0,
        }
        .encode()
    }

    /// Bytes of memory needed for `n_vcpus` (tables, backing pages, software blocks, the
    /// VM-wide inhibit word).
    pub fn mem_size(&self, n_vcpus: u8) -> u64 {
        self.vm
            .mem_size(n_vcpus)
            .max(self.apicv_inhibit_reasons() + 8)
    }

    /// Initialises `vcpu`'s table entry ([`KvmLayout::initial_entry`]) and software block
    /// before a run (not logged): mode OUTSIDE, no requests, not blocking, TASK_RUNNING,
    /// `irr_pending = 1` (always true while APICv is active, §8.2), `apicv_active = 1`,
    /// `vcpu->cpu = vcpu`. The thread's first steps are `vcpu_load` (IsRunning:=1).
    pub fn init_vcpu(&self, mem: &mut Memory, vcpu: u8) -> Result<(), MemError> {
        self.init_vcpu_on(mem, vcpu, vcpu)
    }

    /// [`KvmLayout::init_vcpu`] for a vCPU whose thread starts on host CPU `cpu`
    /// (`vcpu->cpu = cpu`).
    pub fn init_vcpu_on(&self, mem: &mut Memory, vcpu: u8, cpu: u8) -> Result<(), MemError> {
        mem.poke(self.vm.phys_entry(vcpu), self.initial_entry(vcpu))?;
        mem.poke(self.mode(vcpu), OUTSIDE_GUEST_MODE)?;
        mem.poke(self.requests(vcpu), 0)?;
        mem.poke(self.wait_task(vcpu), 0)?;
        mem.poke(self.task_state(vcpu), TASK_RUNNING)?;
        mem.poke(self.irr_pending(vcpu), 1)?;
        mem.poke(self.apicv_active(vcpu), 1)?;
        mem.poke(self.vcpu_cpu(vcpu), u64::from(cpu))
    }
}

/// One VM's software configuration, shared by all its vCPU threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KvmConfig {
    /// Handler generation.
    pub variant: KvmVariant,
    /// Bug knobs.
    pub knobs: Knobs,
    /// Memory layout.
    pub layout: KvmLayout,
    /// Number of vCPUs (1..=[`MAX_VCPUS`]); vCPU `i` has APIC ID `i` (its thread's host CPU is
    /// the world's placement, `i` by default, and may change by migration).
    pub n_vcpus: u8,
    /// Logical APIC ID (`LDR[31:24]`) of each vCPU, for logical destinations; 0 = matches no
    /// logical destination except broadcast. Flat model: a bit mask; cluster model: cluster
    /// in bits 7:4, a bit of the cluster in bits 3:0.
    pub logical_ids: [u8; MAX_VCPUS],
    /// The guests' DFR: cluster model (true) or flat model.
    pub logical_cluster: bool,
}

impl KvmConfig {
    /// `variant` with no knobs, the default layout, `n_vcpus` vCPUs and logical IDs
    /// `1 << i`.
    pub fn new(variant: KvmVariant, n_vcpus: u8) -> Self {
        let mut logical_ids = [0u8; MAX_VCPUS];
        for (i, id) in logical_ids.iter_mut().enumerate() {
            *id = 1 << i;
        }
        KvmConfig {
            variant,
            knobs: Knobs::default(),
            layout: KvmLayout::default(),
            n_vcpus,
            logical_ids,
            logical_cluster: false,
        }
    }

    /// The same configuration in the cluster model with every vCPU `i` in `cluster`, logical
    /// ID `cluster << 4 | 1 << i` (`i` < 4).
    pub fn with_cluster(mut self, cluster: u8) -> Self {
        self.logical_cluster = true;
        for (i, id) in self.logical_ids.iter_mut().enumerate() {
            *id = if i < 4 {
                (cluster & 0xF) << 4 | 1 << i
            } else {
                0
            };
        }
        self
    }

    /// Index of `vcpu`'s entry in the Logical APIC ID table (`avic_get_logical_id_entry`):
    /// the bit number in the flat model, `cluster * 4 + bit` in the cluster model.
    pub fn logical_index(&self, vcpu: u8) -> Option<u8> {
        let id = *self.logical_ids.get(usize::from(vcpu))?;
        let bits = if self.logical_cluster { id & 0xF } else { id };
        if bits == 0 {
            return None;
        }
        let bit = bits.trailing_zeros() as u8;
        Some(if self.logical_cluster {
            (id >> 4) * 4 + bit
        } else {
            bit
        })
    }

    /// The same configuration with `knobs`.
    pub fn with_knobs(mut self, knobs: Knobs) -> Self {
        self.knobs = knobs;
        self
    }
}

// ----------------------------------------------------------------------------------------
// Targets
// ----------------------------------------------------------------------------------------

/// A set of destination vCPUs, in vCPU order, without allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Targets {
    ids: [u8; MAX_VCPUS],
    len: u8,
}

impl Targets {
    /// The vCPU ids.
    pub fn as_slice(&self) -> &[u8] {
        &self.ids[..usize::from(self.len)]
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there is no target.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn push(&mut self, v: u8) {
        if usize::from(self.len) < MAX_VCPUS {
            self.ids[usize::from(self.len)] = v;
            self.len += 1;
        }
    }

    pub(super) fn truncate(&mut self, n: u8) {
        self.len = self.len.min(n);
    }
}

/// The vCPUs `kvm_apic_match_dest(v, source, shorthand, dest, dest_mode)` accepts for an
/// ICR sent by `sender`: shorthands; physical destination (APIC ID = vCPU id, 0xFF =
/// broadcast); logical flat model (`logical_ids[v] & dest != 0`, 0xFF = broadcast) and
/// cluster model (same cluster, a common bit).
/// x2APIC is not modelled.
pub fn decode_targets(icr: &Icr, sender: u8, cfg: &KvmConfig) -> Targets {
    let mut t = Targets::default();
    let n = cfg.n_vcpus.min(MAX_VCPUS as u8);
    for v in 0..n {
        let m = match icr.shorthand {
            Shorthand::SelfOnly => v == sender,
            Shorthand::AllIncludingSelf => true,
            Shorthand::AllExcludingSelf => v != sender,
            Shorthand::None => {
                if icr.dest == DEST_BROADCAST {
                    true
                } else if icr.logical && cfg.logical_cluster {
                    // kvm_apic_match_logical_addr, APIC_DFR_CLUSTER.
                    let id = cfg.logical_ids[usize::from(v)];
                    id >> 4 == icr.dest >> 4 && id & icr.dest & 0xF != 0
                } else if icr.logical {
                    cfg.logical_ids[usize::from(v)] & icr.dest != 0
                } else {
                    v == icr.dest
                }
            }
        };
        if m {
            t.push(v);
        }
    }
    t
}
