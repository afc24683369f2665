// SPDX-License-Identifier: MIT OR Apache-2.0
//
// avic_top_ports.svh: the port list of avic_top (docs/port-contract.md), written once for
// rtl/avic_top.sv and for wrappers that present the same ports (tb/rtl/reordered_top.sv), so a
// wrapper does not repeat it. Include it as the whole ANSI port list of a module that has a
// parameter NumCores:
//
//   module my_top #(parameter int NumCores = 4) (
//   `include "avic_top_ports.svh"
//   );
//
// The file list must name rtl/ with +incdir+ (rtl/avic.f, tb/rtl/reordered.f). It is a
// convenience, not part of the contract: a design may as well declare the ports itself.
//
// Contract v2 adds avic_en_i. For a v1 port list (no avic_en_i), define AVIC_TOP_PORTS_V1 right
// before the include; the include undefines it again, so it affects that one module only.
//
// No include guard: every module that includes it gets the list.

  input  logic                                      clk_i,
  input  logic                                      rst_ni,

  // Hardware ordering variants, sampled while rst_ni is low.
  input  logic                                      cfg_atomic_irr_i,      // HW-A
  input  logic [1:0]                                cfg_isrun_order_i,     // HW-B (isrun_order_e)
  input  logic                                      cfg_stale_isrun_i,     // HW-G
  input  logic                                      cfg_validate_first_i,  // HW-D
  input  logic                                      cfg_latch_doorbell_i,  // HW-E

  // VM-wide AVIC state.
  input  logic [63:0]                               phys_base_i,
  input  logic [7:0]                                phys_max_idx_i,
  input  logic [63:0]                               log_base_i,

  // Per core: the vCPU it runs and what the guest does.
  input  logic [NumCores-1:0]                       guest_mode_i,
  input  logic [NumCores-1:0]                       vmrun_i,
`ifdef AVIC_TOP_PORTS_V1
`undef AVIC_TOP_PORTS_V1
`else
  // AVIC on for the guest entered, taken at VMRUN (contract v2).
  input  logic [NumCores-1:0]                       avic_en_i,
`endif
  input  logic [NumCores*8-1:0]                     self_idx_i,
  input  logic [NumCores*64-1:0]                    backing_i,
  input  logic [NumCores-1:0]                       ldr_cluster_i,
  input  logic [NumCores-1:0]                       icr_wr_i,
  input  logic [NumCores*32-1:0]                    icr_lo_i,
  input  logic [NumCores*32-1:0]                    icr_hi_i,
  input  logic [NumCores-1:0]                       intr_ready_i,
  input  logic [NumCores-1:0]                       eoi_i,
  // Host software's WRMSR to the doorbell MSR.
  input  logic [NumCores-1:0]                       sw_doorbell_i,

  // Memory ports, indexed core * avic_pkg::NumPorts + port.
  output logic [NumCores*avic_pkg::NumPorts-1:0]    mem_req_valid_o,
  output logic [NumCores*avic_pkg::NumPorts*2-1:0]  mem_req_op_o,
  output logic [NumCores*avic_pkg::NumPorts*64-1:0] mem_req_addr_o,
  output logic [NumCores*avic_pkg::NumPorts*64-1:0] mem_req_wdata_o,
  output logic [NumCores*avic_pkg::NumPorts*8-1:0]  mem_req_mask_o,
  input  logic [NumCores*avic_pkg::NumPorts-1:0]    mem_req_ready_i,
  input  logic [NumCores*avic_pkg::NumPorts-1:0]    mem_rsp_valid_i,
  input  logic [NumCores*avic_pkg::NumPorts*64-1:0] mem_rsp_rdata_i,

  // Per core results.
  output logic [NumCores-1:0]                       busy_o,
  output logic [NumCores-1:0]                       exit_valid_o,
  output logic [NumCores*12-1:0]                    exit_code_o,
  output logic [NumCores*64-1:0]                    exit_info1_o,
  output logic [NumCores*64-1:0]                    exit_info2_o,
  output logic [NumCores-1:0]                       doorbell_valid_o,
  output logic [NumCores*12-1:0]                    doorbell_host_id_o,
  // A doorbell arriving at core c.
  output logic [NumCores-1:0]                       doorbell_recv_o,
  output logic [NumCores-1:0]                       intr_valid_o,
  output logic [NumCores*8-1:0]                     intr_vec_o,
  output logic [NumCores-1:0]                       in_service_o,
  output logic [NumCores-1:0]                       eval_busy_o,
  output logic [NumCores-1:0]                       db_drop_o,
  output logic [NumCores-1:0]                       db_latched_o
