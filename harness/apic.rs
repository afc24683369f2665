//! Register and table layouts of AVIC (AMD64 APM vol. 2 section 15.29), one definition each,
//! shared by the software model and the testbenches. The RTL keeps the same values in
//! `rtl/avic_pkg.sv`; the directed testbenches `tb/rtl_*.rs` check the two agree through the
//! RTL's behaviour.

use bitvec::prelude::*;

/// ISR0 in the vAPIC backing page; ISRn at `ISR + 0x10 * n`.
pub const ISR: u64 = 0x100;
/// IRR0 in the vAPIC backing page; IRRn at `IRR + 0x10 * n`.
pub const IRR: u64 = 0x200;
/// ICR low (written by the guest; the write triggers the IPI).
pub const ICR_LO: u64 = 0x300;
/// ICR high (destination in bits 31:24).
pub const ICR_HI: u64 = 0x310;
/// Logical destination register.
pub const LDR: u64 = 0xD0;
/// Destination format register.
pub const DFR: u64 = 0xE0;

/// Exit code of #VMEXIT AVIC_INCOMPLETE_IPI (APM Table 15-25).
pub const EXIT_AVIC_INCOMPLETE_IPI: u16 = 0x401;
/// Exit code of #VMEXIT NPF (APM Table 15-25): the guest's ICR store with AVIC off.
pub const EXIT_NPF: u16 = 0x400;
/// EXITINFO2 of that NPF: the guest-physical address of ICR low (xAPIC base 0xFEE00000).
pub const ICR_GPA: u64 = 0xFEE0_0300;
/// Doorbell MSR (APM 15.29.8.2); write-only.
pub const MSR_AVIC_DOORBELL: u32 = 0xC001_011B;
/// Destination byte that means broadcast in xAPIC mode.
pub const DEST_BROADCAST: u8 = 0xFF;

/// Address of the 64-bit memory word holding IRRn for `vector` in a backing page.
pub fn irr_word(backing: u64, vector: u8) -> u64 {
    backing + IRR + 0x10 * u64::from(vector >> 5)
}

/// Address of the 64-bit memory word holding ISRn for `vector` in a backing page.
pub fn isr_word(backing: u64, vector: u8) -> u64 {
    backing + ISR + 0x10 * u64::from(vector >> 5)
}

/// The bit of `vector` inside its IRR/ISR register.
pub fn vector_bit(vector: u8) -> u64 {
    1u64 << (vector & 31)
}

/// Highest vector whose bit is set in eight IRR or ISR registers (index n = register n).
pub fn highest_vector(regs: &[u32; 8]) -> Option<u8> {
    (0..8usize)
        .rev()
        .find(|&n| regs[n] != 0)
        .map(|n| (n as u8) << 5 | (31 - regs[n].leading_zeros()) as u8)
}

/// Failure cause in EXITINFO2\[63:32\] (APM Table 15-27, Linux `AVIC_IPI_FAILURE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// 0: not Fixed delivery mode, or level triggered; nothing delivered.
    InvalidIntType,
    /// 1: a destination's IsRunning was clear; every valid destination's IRR is set.
    TargetNotRunning,
    /// 2: an index above the max index or an invalid table entry; nothing delivered.
    InvalidTarget,
    /// 3: a destination's backing page pointer is invalid.
    InvalidBackingPage,
    /// 4: vector below 16.
    InvalidIpiVector,
}

impl Cause {
    /// The id the hardware writes.
    pub fn id(self) -> u32 {
        match self {
            Cause::InvalidIntType => 0,
            Cause::TargetNotRunning => 1,
            Cause::InvalidTarget => 2,
            Cause::InvalidBackingPage => 3,
            Cause::InvalidIpiVector => 4,
        }
    }

    /// The cause with this id, if defined.
    pub fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => Cause::InvalidIntType,
            1 => Cause::TargetNotRunning,
            2 => Cause::InvalidTarget,
            3 => Cause::InvalidBackingPage,
            4 => Cause::InvalidIpiVector,
            _ => return None,
        })
    }

    /// Linux's enumerator name.
    pub fn linux_name(self) -> &'static str {
        match self {
            Cause::InvalidIntType => "AVIC_IPI_FAILURE_INVALID_INT_TYPE",
            Cause::TargetNotRunning => "AVIC_IPI_FAILURE_TARGET_NOT_RUNNING",
            Cause::InvalidTarget => "AVIC_IPI_FAILURE_INVALID_TARGET",
            Cause::InvalidBackingPage => "AVIC_IPI_FAILURE_INVALID_BACKING_PAGE",
            Cause::InvalidIpiVector => "AVIC_IPI_FAILURE_INVALID_IPI_VECTOR",
        }
    }
}

/// A Physical APIC ID table entry (APM Table 15-23): 64 bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PhysEntry {
    /// Bit 63.
    pub valid: bool,
    /// Bit 62: the vCPU is scheduled on a physical core (not "in guest mode").
    pub is_running: bool,
    /// Bits 51:12: backing page host physical address (4 KiB aligned byte address here).
    pub backing: u64,
    /// Bits 11:0: host physical APIC ID of the core, meaningful while `is_running`.
    pub host_id: u16,
}

impl PhysEntry {
    /// Bit position of IsRunning.
    pub const IS_RUNNING_BIT: usize = 62;
    /// Bit position of Valid.
    pub const VALID_BIT: usize = 63;

    /// The 64-bit encoding.
    pub fn encode(&self) -> u64 {
        let mut w = bitarr![u64, Lsb0; 0; 64];
        w[0..12].store_le(self.host_id & 0xFFF);
        w[12..52].store_le(self.backing >> 12);
        w.set(Self::IS_RUNNING_BIT, self.is_running);
        w.set(Self::VALID_BIT, self.valid);
        w.into_inner()[0]
    }

    /// Decodes a table word.
    pub fn decode(word: u64) -> Self {
        let w = word.view_bits::<Lsb0>();
        PhysEntry {
            valid: w[Self::VALID_BIT],
            is_running: w[Self::IS_RUNNING_BIT],
            backing: w[12..52].load_le::<u64>() << 12,
            host_id: w[0..12].load_le::<u16>(),
        }
    }
}

/// A Logical APIC ID table entry (32 bits, xAVIC): bit 31 valid, bits 7:0 guest physical ID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LogEntry {
    /// Bit 31.
    pub valid: bool,
    /// Bits 7:0: index into the Physical APIC ID table.
    pub phys_id: u8,
}

impl LogEntry {
    /// The 32-bit encoding.
    pub fn encode(&self) -> u32 {
        let mut w = bitarr![u32, Lsb0; 0; 32];
        w[0..8].store_le(self.phys_id);
        w.set(31, self.valid);
        w.into_inner()[0]
    }

    /// Decodes a table entry.
    pub fn decode(word: u32) -> Self {
        let w = word.view_bits::<Lsb0>();
        LogEntry {
            valid: w[31],
            phys_id: w[0..8].load_le(),
        }
    }
}

/// Destination shorthand, ICR\[19:18\].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Shorthand {
    /// 00: the destination field.
    #[default]
    None,
    /// 01: the sender itself.
    SelfOnly,
    /// 10: all including self.
    AllIncludingSelf,
    /// 11: all excluding self.
    AllExcludingSelf,
}

/// The interrupt command register, low and high halves (xAPIC layout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Icr {
    /// Bits 7:0.
    pub vector: u8,
    /// Bits 10:8: 0 Fixed, 1 Lowest priority, 2 SMI, 4 NMI, 5 INIT, 6 Start-up.
    pub delivery_mode: u8,
    /// Bit 11: logical (true) or physical destination.
    pub logical: bool,
    /// Bit 14: level assert.
    pub level: bool,
    /// Bit 15: level triggered (true) or edge.
    pub trigger_level: bool,
    /// Bits 19:18.
    pub shorthand: Shorthand,
    /// ICR high bits 31:24.
    pub dest: u8,
}

impl Icr {
    /// A Fixed, edge-triggered IPI of `vector` to physical APIC ID `dest`.
    pub fn fixed_physical(vector: u8, dest: u8) -> Self {
        Icr {
            vector,
            dest,
            ..Icr::default()
        }
    }

    /// A Fixed, edge-triggered IPI of `vector` to logical destination `dest`.
    pub fn fixed_logical(vector: u8, dest: u8) -> Self {
        Icr {
            vector,
            dest,
            logical: true,
            ..Icr::default()
        }
    }

    /// ICR low.
    pub fn lo(&self) -> u32 {
        let mut w = bitarr![u32, Lsb0; 0; 32];
        w[0..8].store_le(self.vector);
        w[8..11].store_le(self.delivery_mode & 7);
        w.set(11, self.logical);
        w.set(14, self.level);
        w.set(15, self.trigger_level);
        let sh: u8 = match self.shorthand {
            Shorthand::None => 0,
            Shorthand::SelfOnly => 1,
            Shorthand::AllIncludingSelf => 2,
            Shorthand::AllExcludingSelf => 3,
        };
        w[18..20].store_le(sh);
        w.into_inner()[0]
    }

    /// ICR high.
    pub fn hi(&self) -> u32 {
        u32::from(self.dest) << 24
    }

    /// Decodes ICR low and high.
    pub fn decode(lo: u32, hi: u32) -> Self {
        let w = lo.view_bits::<Lsb0>();
        Icr {
            vector: w[0..8].load_le(),
            delivery_mode: w[8..11].load_le(),
            logical: w[11],
            level: w[14],
            trigger_level: w[15],
            shorthand: match w[18..20].load_le::<u8>() {
                0 => Shorthand::None,
                1 => Shorthand::SelfOnly,
                2 => Shorthand::AllIncludingSelf,
                _ => Shorthand::AllExcludingSelf,
            },
            dest: (hi >> 24) as u8,
        }
    }
}

/// EXITINFO1/EXITINFO2 of #VMEXIT AVIC_INCOMPLETE_IPI (APM 15.29.9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExitInfo {
    /// EXITINFO1\[31:0\].
    pub icr_lo: u32,
    /// EXITINFO1\[63:32\].
    pub icr_hi: u32,
    /// EXITINFO2\[63:32\], as the raw id (see [`Cause::from_id`]).
    pub cause_id: u32,
    /// EXITINFO2\[11:0\]: table index (valid for causes 1..3).
    pub index: u16,
}

impl ExitInfo {
    /// Decodes EXITINFO1 and EXITINFO2.
    pub fn decode(info1: u64, info2: u64) -> Self {
        ExitInfo {
            icr_lo: info1 as u32,
            icr_hi: (info1 >> 32) as u32,
            cause_id: (info2 >> 32) as u32,
            index: (info2 & 0xFFF) as u16,
        }
    }

    /// EXITINFO1.
    pub fn info1(&self) -> u64 {
        u64::from(self.icr_hi) << 32 | u64::from(self.icr_lo)
    }

    /// EXITINFO2 (bits 31:12 reserved, zero).
    pub fn info2(&self) -> u64 {
        u64::from(self.cause_id) << 32 | u64::from(self.index & 0xFFF)
    }

    /// The decoded cause, if the id is defined.
    pub fn cause(&self) -> Option<Cause> {
        Cause::from_id(self.cause_id)
    }
}

/// Where one VM's AVIC structures live in simulated memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VmLayout {
    /// Physical APIC ID table (4 KiB aligned).
    pub phys_table: u64,
    /// Logical APIC ID table (4 KiB aligned).
    pub log_table: u64,
    /// Backing page of vCPU 0; vCPU i's is `backing_base + 0x1000 * i`.
    pub backing_base: u64,
}

impl Default for VmLayout {
    fn default() -> Self {
        VmLayout {
            phys_table: 0x1000,
            log_table: 0x2000,
            backing_base: 0x10000,
        }
    }
}

impl VmLayout {
    /// Backing page of the vCPU with guest physical APIC ID `id`.
    pub fn backing(&self, id: u8) -> u64 {
        self.backing_base + 0x1000 * u64::from(id)
    }

    /// Address of the Physical APIC ID table entry `id`.
    pub fn phys_entry(&self, id: u8) -> u64 {
        self.phys_table + 8 * u64::from(id)
    }

    /// Address of the 64-bit word holding Logical APIC ID table entry `idx`, and whether the
    /// entry is its upper half.
    pub fn log_entry(&self, idx: u8) -> (u64, bool) {
        (self.log_table + 8 * u64::from(idx >> 1), idx & 1 == 1)
    }

    /// Bytes of memory the layout needs for `n_vcpus` backing pages.
    pub fn mem_size(&self, n_vcpus: u8) -> u64 {
        self.backing(n_vcpus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phys_entry_matches_linux_masks() {
        // Linux: AVIC_PHYSICAL_ID_ENTRY_VALID_MASK = 1<<63, IS_RUNNING = 1<<62,
        // BACKING_PAGE_MASK = GENMASK_ULL(51, 12), HOST_PHYSICAL_ID_MASK = GENMASK_ULL(11, 0).
        let e = PhysEntry {
            valid: true,
            is_running: true,
            backing: 0xA_BCDE_F000,
            host_id: 0x123,
        };
        assert_eq!(e.encode(), 1 << 63 | 1 << 62 | 0xA_BCDE_F000 | 0x123);
        assert_eq!(PhysEntry::decode(e.encode()), e);
        assert_eq!(
            PhysEntry::decode(0x000F_FFFF_FFFF_F000).backing,
            0x000F_FFFF_FFFF_F000
        );
    }

    #[test]
    fn icr_fields_round_trip() {
        let icr = Icr {
            vector: 0xEC,
            delivery_mode: 4,
            logical: true,
            level: true,
            trigger_level: true,
            shorthand: Shorthand::AllExcludingSelf,
            dest: 0x5A,
        };
        assert_eq!(
            icr.lo(),
            0xEC | 4 << 8 | 1 << 11 | 1 << 14 | 1 << 15 | 3 << 18
        );
        assert_eq!(icr.hi(), 0x5A00_0000);
        assert_eq!(Icr::decode(icr.lo(), icr.hi()), icr);
    }

    #[test]
    fn irr_addressing_and_priority() {
        assert_eq!(irr_word(0x4000, 0x31), 0x4000 + 0x200 + 0x10);
        assert_eq!(isr_word(0x4000, 0xFF), 0x4000 + 0x100 + 0x70);
        assert_eq!(vector_bit(0x31), 1 << 17);
        let mut regs = [0u32; 8];
        assert_eq!(highest_vector(&regs), None);
        regs[1] = 1 << 17;
        regs[2] = 1;
        assert_eq!(highest_vector(&regs), Some(0x40));
    }

    #[test]
    fn exit_info_layout() {
        let x = ExitInfo {
            icr_lo: 0x40,
            icr_hi: 0x0200_0000,
            cause_id: 1,
            index: 2,
        };
        assert_eq!(x.info1(), 0x0200_0000_0000_0040);
        assert_eq!(x.info2(), 0x1_0000_0002);
        assert_eq!(ExitInfo::decode(x.info1(), x.info2()), x);
        assert_eq!(x.cause(), Some(Cause::TargetNotRunning));
    }
}
