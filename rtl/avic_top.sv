// SPDX-License-Identifier: MIT OR Apache-2.0
//
// avic_top: NumCores physical cores sharing one guest's AVIC tables. Core c has host physical
// APIC ID c; a doorbell (APM 15.29.8.2, MSR C001_011Bh) is routed to the core whose host APIC ID
// it names. Per-core signals are packed arrays indexed by core; memory ports are indexed
// core * avic_pkg::NumPorts + port. The port contract is in docs/port-contract.md.

module avic_top
#(
  parameter int NumCores = 4
) (
  input  logic        clk_i,
  input  logic        rst_ni,

  // Hardware ordering variants, sampled while rst_ni is low.
  input  logic        cfg_atomic_irr_i,      // HW-A
  input  logic [1:0]  cfg_isrun_order_i,     // HW-B (avic_pkg::isrun_order_e)
  input  logic        cfg_stale_isrun_i,     // HW-G
  input  logic        cfg_validate_first_i,  // HW-D
  input  logic        cfg_latch_doorbell_i,  // HW-E

  // VM-wide AVIC state.
  input  logic [63:0] phys_base_i,
  input  logic [7:0]  phys_max_idx_i,
  input  logic [63:0] log_base_i,

  // Per core: the vCPU it runs and what the guest does.
  input  logic [NumCores-1:0]       guest_mode_i,
  input  logic [NumCores-1:0]       vmrun_i,
  input  logic [NumCores-1:0]       avic_en_i,         // AVIC on for the guest entered, taken
                                                       // at VMRUN (contract v2)
  input  logic [NumCores*8-1:0]  self_idx_i,
  input  logic [NumCores*64-1:0] backing_i,
  input  logic [NumCores-1:0]       ldr_cluster_i,
  input  logic [NumCores-1:0]       icr_wr_i,
  input  logic [NumCores*32-1:0] icr_lo_i,
  input  logic [NumCores*32-1:0] icr_hi_i,
  input  logic [NumCores-1:0]       intr_ready_i,
  input  logic [NumCores-1:0]       eoi_i,
  input  logic [NumCores-1:0]       sw_doorbell_i,     // host software WRMSR to the doorbell

  // Memory ports.
  output logic [NumCores*avic_pkg::NumPorts-1:0]       mem_req_valid_o,
  output logic [NumCores*avic_pkg::NumPorts*2-1:0]  mem_req_op_o,
  output logic [NumCores*avic_pkg::NumPorts*64-1:0] mem_req_addr_o,
  output logic [NumCores*avic_pkg::NumPorts*64-1:0] mem_req_wdata_o,
  output logic [NumCores*avic_pkg::NumPorts*8-1:0]  mem_req_mask_o,
  input  logic [NumCores*avic_pkg::NumPorts-1:0]       mem_req_ready_i,
  input  logic [NumCores*avic_pkg::NumPorts-1:0]       mem_rsp_valid_i,
  input  logic [NumCores*avic_pkg::NumPorts*64-1:0] mem_rsp_rdata_i,

  // Per core results.
  output logic [NumCores-1:0]       busy_o,
  output logic [NumCores-1:0]       exit_valid_o,
  output logic [NumCores*12-1:0] exit_code_o,
  output logic [NumCores*64-1:0] exit_info1_o,
  output logic [NumCores*64-1:0] exit_info2_o,
  output logic [NumCores-1:0]       doorbell_valid_o,
  output logic [NumCores*12-1:0] doorbell_host_id_o,
  output logic [NumCores-1:0]       doorbell_recv_o,   // doorbell arriving at core c
  output logic [NumCores-1:0]       intr_valid_o,
  output logic [NumCores*8-1:0]  intr_vec_o,
  output logic [NumCores-1:0]       in_service_o,
  output logic [NumCores-1:0]       eval_busy_o,
  output logic [NumCores-1:0]       db_drop_o,
  output logic [NumCores-1:0]       db_latched_o
);

  //////////////////////
  // Doorbell routing //
  //////////////////////

  logic [NumCores-1:0] doorbell_in;

  always_comb begin
    doorbell_in = sw_doorbell_i;
    for (int unsigned d = 0; d < NumCores; d++) begin
      for (int unsigned s = 0; s < NumCores; s++) begin
        if (doorbell_valid_o[s] && doorbell_host_id_o[(s)*12 +: 12] == 12'(d)) doorbell_in[d] = 1'b1;
      end
    end
  end

  assign doorbell_recv_o = doorbell_in;

  ///////////
  // Cores //
  ///////////

  for (genvar c = 0; c < NumCores; c++) begin : g_core
    avic_core u_core (
      .clk_i               (clk_i),
      .rst_ni              (rst_ni),
      .cfg_atomic_irr_i    (cfg_atomic_irr_i),
      .cfg_isrun_order_i   (cfg_isrun_order_i),
      .cfg_stale_isrun_i   (cfg_stale_isrun_i),
      .cfg_validate_first_i(cfg_validate_first_i),
      .cfg_latch_doorbell_i(cfg_latch_doorbell_i),
      .phys_base_i         (phys_base_i),
      .phys_max_idx_i      (phys_max_idx_i),
      .log_base_i          (log_base_i),
      .guest_mode_i        (guest_mode_i[c]),
      .vmrun_i             (vmrun_i[c]),
      .avic_en_i           (avic_en_i[c]),
      .self_idx_i          (self_idx_i[(c)*8 +: 8]),
      .backing_i           (backing_i[(c)*64 +: 64]),
      .ldr_cluster_i       (ldr_cluster_i[c]),
      .icr_wr_i            (icr_wr_i[c]),
      .icr_lo_i            (icr_lo_i[(c)*32 +: 32]),
      .icr_hi_i            (icr_hi_i[(c)*32 +: 32]),
      .intr_ready_i        (intr_ready_i[c]),
      .eoi_i               (eoi_i[c]),
      .doorbell_i          (doorbell_in[c]),
      .req_valid_o         (mem_req_valid_o[c*avic_pkg::NumPorts+:avic_pkg::NumPorts]),
      .req_op_o            (mem_req_op_o[c*avic_pkg::NumPorts*2 +: avic_pkg::NumPorts*2]),
      .req_addr_o          (mem_req_addr_o[c*avic_pkg::NumPorts*64 +: avic_pkg::NumPorts*64]),
      .req_wdata_o         (mem_req_wdata_o[c*avic_pkg::NumPorts*64 +: avic_pkg::NumPorts*64]),
      .req_mask_o          (mem_req_mask_o[c*avic_pkg::NumPorts*8 +: avic_pkg::NumPorts*8]),
      .req_ready_i         (mem_req_ready_i[c*avic_pkg::NumPorts+:avic_pkg::NumPorts]),
      .rsp_valid_i         (mem_rsp_valid_i[c*avic_pkg::NumPorts+:avic_pkg::NumPorts]),
      .rsp_rdata_i         (mem_rsp_rdata_i[c*avic_pkg::NumPorts*64 +: avic_pkg::NumPorts*64]),
      .busy_o              (busy_o[c]),
      .exit_valid_o        (exit_valid_o[c]),
      .exit_code_o         (exit_code_o[(c)*12 +: 12]),
      .exit_info1_o        (exit_info1_o[(c)*64 +: 64]),
      .exit_info2_o        (exit_info2_o[(c)*64 +: 64]),
      .doorbell_valid_o    (doorbell_valid_o[c]),
      .doorbell_host_id_o  (doorbell_host_id_o[(c)*12 +: 12]),
      .intr_valid_o        (intr_valid_o[c]),
      .intr_vec_o          (intr_vec_o[(c)*8 +: 8]),
      .in_service_o        (in_service_o[c]),
      .eval_busy_o         (eval_busy_o[c]),
      .db_drop_o           (db_drop_o[c]),
      .db_latched_o        (db_latched_o[c])
    );
  end

endmodule
