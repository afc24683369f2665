// SPDX-License-Identifier: MIT OR Apache-2.0
//
// reordered_top: a second implementation of the port contract (docs/port-contract.md) for the
// bring-your-own-RTL tests (tb/byo.rs): a deliberately reordered sender. It has avic_top's port
// list as of contract v1 (rtl/avic_top_ports.svh without avic_en_i, so tb/apicv.rs can run a
// design without that port) and instantiates the one avic_top, but ties the IsRunning read
// before the IRR update (HW-B "before", avic_pkg::IsRunBeforeIrr) whatever cfg_isrun_order_i
// says. Run with APM configuration inputs, it must lose the wake-up the bundled RTL does not.

module reordered_top
#(
  parameter int NumCores = 4
) (
`define AVIC_TOP_PORTS_V1
`include "avic_top_ports.svh"
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
