// SPDX-License-Identifier: MIT OR Apache-2.0
//
// reordered_top: a second implementation of the port contract (docs/port-contract.md) for the
// bring-your-own-RTL tests (tb/byo.rs): a deliberately reordered sender. It has avic_top's port
// list and instantiates the one avic_top, but ties the IsRunning read before the IRR update
// (HW-B "before", avic_pkg::IsRunBeforeIrr) whatever cfg_isrun_order_i says. Run with APM
// configuration inputs, it must lose the wake-up the bundled RTL does not.

module reordered_top
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

  /* verilator lint_off UNUSEDSIGNAL */
  logic [1:0] unused_isrun_order;
  /* verilator lint_on UNUSEDSIGNAL */
  assign unused_isrun_order = cfg_isrun_order_i;

  avic_top #(
    .NumCores(NumCores)
  ) u_avic_top (
    .clk_i                (clk_i),
    .rst_ni               (rst_ni),
    .cfg_atomic_irr_i     (cfg_atomic_irr_i),
    // The reordering: IsRunning is read before the IRR update is issued.
    .cfg_isrun_order_i    (avic_pkg::IsRunBeforeIrr),
    // A port-contract v1 design: no avic_en_i of its own, AVIC always on.
    .avic_en_i            ({NumCores{1'b1}}),
    .cfg_stale_isrun_i    (cfg_stale_isrun_i),
    .cfg_validate_first_i (cfg_validate_first_i),
    .cfg_latch_doorbell_i (cfg_latch_doorbell_i),
    .phys_base_i          (phys_base_i),
    .phys_max_idx_i       (phys_max_idx_i),
    .log_base_i           (log_base_i),
    .guest_mode_i         (guest_mode_i),
    .vmrun_i              (vmrun_i),
    .self_idx_i           (self_idx_i),
    .backing_i            (backing_i),
    .ldr_cluster_i        (ldr_cluster_i),
    .icr_wr_i             (icr_wr_i),
    .icr_lo_i             (icr_lo_i),
    .icr_hi_i             (icr_hi_i),
    .intr_ready_i         (intr_ready_i),
    .eoi_i                (eoi_i),
    .sw_doorbell_i        (sw_doorbell_i),
    .mem_req_valid_o      (mem_req_valid_o),
    .mem_req_op_o         (mem_req_op_o),
    .mem_req_addr_o       (mem_req_addr_o),
    .mem_req_wdata_o      (mem_req_wdata_o),
    .mem_req_mask_o       (mem_req_mask_o),
    .mem_req_ready_i      (mem_req_ready_i),
    .mem_rsp_valid_i      (mem_rsp_valid_i),
    .mem_rsp_rdata_i      (mem_rsp_rdata_i),
    .busy_o               (busy_o),
    .exit_valid_o         (exit_valid_o),
    .exit_code_o          (exit_code_o),
    .exit_info1_o         (exit_info1_o),
    .exit_info2_o         (exit_info2_o),
    .doorbell_valid_o     (doorbell_valid_o),
    .doorbell_host_id_o   (doorbell_host_id_o),
    .doorbell_recv_o      (doorbell_recv_o),
    .intr_valid_o         (intr_valid_o),
    .intr_vec_o           (intr_vec_o),
    .in_service_o         (in_service_o),
    .eval_busy_o          (eval_busy_o),
    .db_drop_o            (db_drop_o),
    .db_latched_o         (db_latched_o)
  );

endmodule
