// SPDX-License-Identifier: MIT OR Apache-2.0
//
// avic_pkg: field layouts, encodings and cause ids of AMD AVIC IPI delivery.
// Source: AMD64 APM vol. 2 (pub. 24593) section 15.29; the same values are kept by Linux in
// arch/x86/include/asm/svm.h (AVIC_PHYSICAL_ID_ENTRY_*, AVIC_IPI_FAILURE_*).

package avic_pkg;

  ////////////////////////////
  // Memory port operations //
  ////////////////////////////

  // One request per port at a time; the harness decides when it completes (see
  // docs/port-contract.md). Locked operations return the old word in the response.
  typedef enum logic [1:0] {
    MemRead    = 2'd0,  // rdata = word
    MemWrite   = 2'd1,  // word = (word & ~mask) | (wdata & mask), by byte
    MemLockSet = 2'd2,  // atomically word |= wdata; rdata = old word
    MemLockClr = 2'd3   // atomically word &= ~wdata; rdata = old word
  } mem_op_e;

  // Port numbers inside one core.
  localparam int PortIrr = 0;  // sender: backing-page IRR updates
  localparam int PortTbl = 1;  // sender: Physical/Logical APIC ID table reads
  localparam int PortRcv = 2;  // receiver: IRR scan, IRR->ISR, EOI
  localparam int NumPorts = 3;

  ///////////////////////////////
  // vAPIC backing page layout //
  ///////////////////////////////

  localparam logic [11:0] OffIsr = 12'h100;  // ISR0..7 at 0x100 + 0x10*n
  localparam logic [11:0] OffIrr = 12'h200;  // IRR0..7 at 0x200 + 0x10*n

  //////////////////////////////////////////////////////////////
  // Physical APIC ID table entry (APM Table 15-23), 64 bits  //
  //////////////////////////////////////////////////////////////

  localparam int PhysValidBit = 63;
  localparam int PhysIsRunningBit = 62;
  localparam int PhysBackingLsb = 12;  // backing page HPA[51:12]
  localparam int PhysBackingMsb = 51;
  localparam int PhysHostIdMsb = 11;  // host physical APIC ID [11:0]

  // Logical APIC ID table entry (32 bits; xAVIC only).
  localparam int LogValidBit = 31;

  //////////////////////////
  // ICR low fields (SDM) //
  //////////////////////////

  localparam int IcrVectorMsb = 7;
  localparam int IcrDelivModeLsb = 8;  // [10:8], 000 = Fixed
  localparam int IcrDestModeBit = 11;  // 0 physical, 1 logical
  localparam int IcrTrigModeBit = 15;  // 1 = level
  localparam int IcrShorthandLsb = 18;  // [19:18]

  typedef enum logic [1:0] {
    DshNone       = 2'b00,
    DshSelf       = 2'b01,
    DshAllInclSelf = 2'b10,
    DshAllExclSelf = 2'b11
  } dsh_e;

  localparam logic [7:0] DestBroadcast = 8'hFF;

  ///////////////////////////////////////////////
  // #VMEXIT AVIC_INCOMPLETE_IPI (APM 15.29.9) //
  ///////////////////////////////////////////////

  localparam logic [11:0] ExitAvicIncompleteIpi = 12'h401;

  // With AVIC off at VMRUN (avic_en_i = 0, KVM's APICv inhibited) the ICR write is not
  // accelerated: KVM zapped the APIC access page when it inhibited APICv
  // (__kvm_set_or_clear_apicv_inhibit: kvm_zap_gfn_range of APIC_DEFAULT_PHYS_BASE), so the
  // guest's MMIO store faults as #VMEXIT NPF (SVM_EXIT_NPF, 400h) and KVM emulates it
  // (kvm_lapic_reg_write(APIC_ICR) -> kvm_apic_send_ipi). EXITINFO2 is the faulting GPA (ICR
  // low of the default APIC base); EXITINFO1 carries ICR high:low, standing for the data KVM's
  // emulator decodes from the instruction (docs/port-contract.md, contract v2).
  localparam logic [11:0] ExitNpf       = 12'h400;
  localparam logic [63:0] GpaApicIcrLow = 64'h0000_0000_FEE0_0300;

  // EXITINFO2[63:32]: IPI delivery failure cause (APM Table 15-27; Linux
  // AVIC_IPI_FAILURE_*).
  typedef enum logic [31:0] {
    CauseInvalidIntType   = 32'd0,
    CauseTargetNotRunning = 32'd1,
    CauseInvalidTarget    = 32'd2,
    CauseInvalidBacking   = 32'd3,
    CauseInvalidVector    = 32'd4
  } ipi_cause_e;

  //////////////////////////////////////////////////////////////////////
  // Hardware ordering variants (docs/port-contract.md, avic-protocol) //
  //////////////////////////////////////////////////////////////////////

  // HW-B: when the IsRunning read is issued relative to the IRR update.
  typedef enum logic [1:0] {
    IsRunAfterAck  = 2'd0,  // after the IRR update has completed (APM order, fenced)
    IsRunInFlight  = 2'd1,  // once the IRR update is accepted, before it completes
    IsRunBeforeIrr = 2'd2   // before the IRR update is issued (APM order reversed)
  } isrun_order_e;

endpackage
