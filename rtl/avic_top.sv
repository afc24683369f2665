// SPDX-License-Identifier: MIT OR Apache-2.0
//
// avic_top: NumCores physical cores sharing one guest's AVIC tables. Core c has host physical
// APIC ID c; a doorbell (APM 15.29.8.2, MSR C001_011Bh) is routed to the core whose host APIC ID
// it names. Per-core signals are packed arrays indexed by core; memory ports are indexed
// core * avic_pkg::NumPorts + port. The port contract is in docs/port-contract.md; the port list
// is rtl/avic_top_ports.svh, shared with wrappers that present the same ports.
//
// Reset: rst_ni is synchronous (flops are `always_ff @(posedge clk_i)`, reset by an
// `if (!rst_ni)` branch), on purpose. The configuration flops load the cfg_* inputs while rst_ni
// is low (docs/port-contract.md), which an asynchronous reset cannot do: its reset value must be
// a constant. And the harness drives rst_ni like every other input of its cycle loop (applied
// with the clock low, taken at the edge, low for two cycles), so an asynchronous reset would buy
// nothing it can observe.

module avic_top
#(
  parameter int NumCores = 4
) (
`include "avic_top_ports.svh"
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
