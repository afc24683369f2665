// SPDX-License-Identifier: MIT OR Apache-2.0
//
// avic_core: one physical core's AVIC: the IPI sender and the interrupt evaluator, with their
// three memory ports (avic_pkg::PortIrr, avic_pkg::PortTbl, avic_pkg::PortRcv). The memory
// port handshake of docs/port-contract.md is checked at the bottom, for every port.

`include "avic_assert.svh"

module avic_core
(
  input  logic        clk_i,
  input  logic        rst_ni,

  input  logic        cfg_atomic_irr_i,
  input  logic [1:0]  cfg_isrun_order_i,
  input  logic        cfg_stale_isrun_i,
  input  logic        cfg_validate_first_i,
  input  logic        cfg_latch_doorbell_i,

  input  logic [63:0] phys_base_i,
  input  logic [7:0]  phys_max_idx_i,
  input  logic [63:0] log_base_i,

  input  logic        guest_mode_i,
  input  logic        vmrun_i,
  input  logic        avic_en_i,             // AVIC enable of the guest entered, taken at VMRUN
  input  logic [7:0]  self_idx_i,
  input  logic [63:0] backing_i,
  input  logic        ldr_cluster_i,
  input  logic        icr_wr_i,
  input  logic [31:0] icr_lo_i,
  input  logic [31:0] icr_hi_i,
  input  logic        intr_ready_i,
  input  logic        eoi_i,
  input  logic        doorbell_i,

  output logic [avic_pkg::NumPorts-1:0]       req_valid_o,
  output logic [avic_pkg::NumPorts*2-1:0]  req_op_o,
  output logic [avic_pkg::NumPorts*64-1:0] req_addr_o,
  output logic [avic_pkg::NumPorts*64-1:0] req_wdata_o,
  output logic [avic_pkg::NumPorts*8-1:0]  req_mask_o,
  input  logic [avic_pkg::NumPorts-1:0]       req_ready_i,
  input  logic [avic_pkg::NumPorts-1:0]       rsp_valid_i,
  input  logic [avic_pkg::NumPorts*64-1:0] rsp_rdata_i,

  output logic        busy_o,
  output logic        exit_valid_o,
  output logic [11:0] exit_code_o,
  output logic [63:0] exit_info1_o,
  output logic [63:0] exit_info2_o,
  output logic        doorbell_valid_o,
  output logic [11:0] doorbell_host_id_o,
  output logic        intr_valid_o,
  output logic [7:0]  intr_vec_o,
  output logic        in_service_o,
  output logic        eval_busy_o,
  output logic        db_drop_o,
  output logic        db_latched_o
);

  logic self_eval;

  ////////////////////////////////////////////
  // AVIC enable, taken when vmrun_i pulses //
  ////////////////////////////////////////////

  // Reset value 1: a core that never entered a guest behaves as before contract v2.
  // (Every flop of the RTL has this synchronous reset: see avic_top.sv, "Reset".)
  logic avic_en_q, avic_en;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      avic_en_q <= 1'b1;
    end else if (vmrun_i) begin
      avic_en_q <= avic_en_i;
    end
  end

  assign avic_en = vmrun_i ? avic_en_i : avic_en_q;

  avic_ipi_sender u_sender (
    .clk_i               (clk_i),
    .rst_ni              (rst_ni),
    .cfg_atomic_irr_i    (cfg_atomic_irr_i),
    .cfg_isrun_order_i   (cfg_isrun_order_i),
    .cfg_stale_isrun_i   (cfg_stale_isrun_i),
    .cfg_validate_first_i(cfg_validate_first_i),
    .avic_en_i           (avic_en),
    .phys_base_i         (phys_base_i),
    .phys_max_idx_i      (phys_max_idx_i),
    .log_base_i          (log_base_i),
    .self_idx_i          (self_idx_i),
    .self_backing_i      (backing_i),
    .ldr_cluster_i       (ldr_cluster_i),
    .icr_wr_i            (icr_wr_i),
    .icr_lo_i            (icr_lo_i),
    .icr_hi_i            (icr_hi_i),
    .busy_o              (busy_o),
    .irr_req_valid_o     (req_valid_o[avic_pkg::PortIrr]),
    .irr_req_op_o        (req_op_o[avic_pkg::PortIrr*2 +: 2]),
    .irr_req_addr_o      (req_addr_o[avic_pkg::PortIrr*64 +: 64]),
    .irr_req_wdata_o     (req_wdata_o[avic_pkg::PortIrr*64 +: 64]),
    .irr_req_mask_o      (req_mask_o[avic_pkg::PortIrr*8 +: 8]),
    .irr_req_ready_i     (req_ready_i[avic_pkg::PortIrr]),
    .irr_rsp_valid_i     (rsp_valid_i[avic_pkg::PortIrr]),
    .irr_rsp_rdata_i     (rsp_rdata_i[avic_pkg::PortIrr*64 +: 64]),
    .tbl_req_valid_o     (req_valid_o[avic_pkg::PortTbl]),
    .tbl_req_addr_o      (req_addr_o[avic_pkg::PortTbl*64 +: 64]),
    .tbl_req_ready_i     (req_ready_i[avic_pkg::PortTbl]),
    .tbl_rsp_valid_i     (rsp_valid_i[avic_pkg::PortTbl]),
    .tbl_rsp_rdata_i     (rsp_rdata_i[avic_pkg::PortTbl*64 +: 64]),
    .doorbell_valid_o    (doorbell_valid_o),
    .doorbell_host_id_o  (doorbell_host_id_o),
    .self_eval_o         (self_eval),
    .exit_valid_o        (exit_valid_o),
    .exit_code_o         (exit_code_o),
    .exit_info1_o        (exit_info1_o),
    .exit_info2_o        (exit_info2_o)
  );

  // The table port only reads whole entries.
  assign req_op_o[avic_pkg::PortTbl*2 +: 2]    = avic_pkg::MemRead;
  assign req_wdata_o[avic_pkg::PortTbl*64 +: 64] = '0;
  assign req_mask_o[avic_pkg::PortTbl*8 +: 8]  = 8'hFF;

  avic_irq_eval u_eval (
    .clk_i               (clk_i),
    .rst_ni              (rst_ni),
    .cfg_latch_doorbell_i(cfg_latch_doorbell_i),
    .guest_mode_i        (guest_mode_i),
    .vmrun_i             (vmrun_i),
    .avic_en_i           (avic_en),
    .backing_i           (backing_i),
    .intr_ready_i        (intr_ready_i),
    .eoi_i               (eoi_i),
    .doorbell_i          (doorbell_i),
    .self_eval_i         (self_eval),
    .req_valid_o         (req_valid_o[avic_pkg::PortRcv]),
    .req_op_o            (req_op_o[avic_pkg::PortRcv*2 +: 2]),
    .req_addr_o          (req_addr_o[avic_pkg::PortRcv*64 +: 64]),
    .req_wdata_o         (req_wdata_o[avic_pkg::PortRcv*64 +: 64]),
    .req_mask_o          (req_mask_o[avic_pkg::PortRcv*8 +: 8]),
    .req_ready_i         (req_ready_i[avic_pkg::PortRcv]),
    .rsp_valid_i         (rsp_valid_i[avic_pkg::PortRcv]),
    .rsp_rdata_i         (rsp_rdata_i[avic_pkg::PortRcv*64 +: 64]),
    .intr_valid_o        (intr_valid_o),
    .intr_vec_o          (intr_vec_o),
    .in_service_o        (in_service_o),
    .eval_busy_o         (eval_busy_o),
    .db_drop_o           (db_drop_o),
    .db_latched_o        (db_latched_o)
  );

  /////////////////////////////////////
  // Memory port contract assertions //
  /////////////////////////////////////

  // Per port (docs/port-contract.md, "Memory ports"): a request offered and not accepted is
  // offered again, unchanged, at the next edge; a request is accepted only when the port's
  // last one has completed (at most one outstanding; its response may come at the same edge).
  // Responses without a request are checked by the sender and the receiver, which know what
  // they wait for. The flops here feed the assertions only: not synthesized, not covered.
`ifndef SYNTHESIS
  /* verilator coverage_off */
  for (genvar p = 0; p < avic_pkg::NumPorts; p++) begin : g_port_check
    logic [137:0] req, req_q;  // op, address, write data, byte mask
    logic         offered_q;   // offered at the last edge and not accepted
    logic         outst_q;     // accepted, not completed
    logic         accept;      // accepted at this edge

    assign req = {req_op_o[p*2 +: 2], req_addr_o[p*64 +: 64], req_wdata_o[p*64 +: 64],
                  req_mask_o[p*8 +: 8]};
    assign accept = req_valid_o[p] && req_ready_i[p];

    always_ff @(posedge clk_i) begin
      if (!rst_ni) begin
        offered_q <= 1'b0;
        outst_q   <= 1'b0;
      end else begin
        offered_q <= req_valid_o[p] && !req_ready_i[p];
        outst_q   <= (outst_q && !rsp_valid_i[p]) || accept;
      end
      req_q <= req;
    end

    `AVIC_ASSERT(ReqStableUntilAccepted_A, !offered_q || (req_valid_o[p] && req == req_q))
    `AVIC_ASSERT(OneOutstanding_A, !accept || !outst_q || rsp_valid_i[p])
  end
  /* verilator coverage_on */
`endif

endmodule
