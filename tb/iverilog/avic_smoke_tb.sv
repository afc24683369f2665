// SPDX-License-Identifier: MIT OR Apache-2.0
//
// Cross-simulation smoke test of avic_top on Icarus Verilog (`make iverilog-smoke`), so the RTL
// does not depend on Verilator-only behaviour. Self-checking, with its own memory model (the
// 1-cycle-latency responder of tb/cpp/responder.h: a port whose request was accepted at an
// earlier edge completes, otherwise an offered request is accepted; never both in one cycle).
//
// vCPU c runs on core c (host APIC ID c); vCPUs 0, 1 and 3 are running, vCPU 2 is not (its core
// is in host mode). APM hardware order (locked IRR set, IsRunning read after it completed).
//   1. vCPU 0 sends vector 0x40 to vCPU 1: locked IRR set at vCPU 1's IRR2, doorbell to host
//      APIC ID 1, no exit; core 1 takes 0x40 and writes EOI.
//   2. vCPU 0 sends vector 0x41 to vCPU 2: IRR2 bit 1 set in vCPU 2's backing page, no
//      doorbell, #VMEXIT 0x401 with EXITINFO1 = ICR and EXITINFO2 = cause 1 << 32 | index 2.
// Ends with "N passed, N failed" and exit status 1 on a failure ($fatal).

`timescale 1ns / 1ps

// Cores: the RTL's NumCores (make iverilog-smoke runs 4 and 8; cores 4..7 stay idle).
module avic_smoke_tb #(
  parameter int Cores = 4
);

  localparam int Ports = Cores * 3;
  localparam logic [63:0] PhysTable = 64'h1000;
  localparam logic [63:0] LogTable = 64'h2000;
  localparam int MemWords = 'h18000 / 8;

  function automatic logic [63:0] backing(input int id);
    return 64'h10000 + 64'h1000 * id;
  endfunction

  logic clk_i = 1'b0;
  logic rst_ni = 1'b0;
  always #5 clk_i = ~clk_i;

  logic [Cores-1:0]      guest_mode_i, vmrun_i, ldr_cluster_i, icr_wr_i, intr_ready_i, eoi_i;
  logic [Cores-1:0]      sw_doorbell_i;
  logic [Cores*8-1:0]    self_idx_i;
  logic [Cores*64-1:0]   backing_i;
  logic [Cores*32-1:0]   icr_lo_i, icr_hi_i;
  logic [Ports-1:0]      mem_req_valid_o, mem_req_ready_i, mem_rsp_valid_i;
  logic [Ports*2-1:0]    mem_req_op_o;
  logic [Ports*64-1:0]   mem_req_addr_o, mem_req_wdata_o, mem_rsp_rdata_i;
  logic [Ports*8-1:0]    mem_req_mask_o;
  logic [Cores-1:0]      busy_o, exit_valid_o, doorbell_valid_o, doorbell_recv_o, intr_valid_o;
  logic [Cores-1:0]      in_service_o, eval_busy_o, db_drop_o, db_latched_o;
  logic [Cores*12-1:0]   exit_code_o, doorbell_host_id_o;
  logic [Cores*64-1:0]   exit_info1_o, exit_info2_o;
  logic [Cores*8-1:0]    intr_vec_o;

  avic_top #(.NumCores(Cores)) dut (
    .clk_i, .rst_ni,
    .cfg_atomic_irr_i(1'b1), .cfg_isrun_order_i(2'd0), .cfg_stale_isrun_i(1'b0),
    .cfg_validate_first_i(1'b0), .cfg_latch_doorbell_i(1'b0),
    .phys_base_i(PhysTable), .phys_max_idx_i(8'd3), .log_base_i(LogTable),
    .guest_mode_i, .vmrun_i, .self_idx_i, .backing_i, .ldr_cluster_i, .icr_wr_i, .icr_lo_i,
    .icr_hi_i, .intr_ready_i, .eoi_i, .sw_doorbell_i,
    .mem_req_valid_o, .mem_req_op_o, .mem_req_addr_o, .mem_req_wdata_o, .mem_req_mask_o,
    .mem_req_ready_i, .mem_rsp_valid_i, .mem_rsp_rdata_i,
    .busy_o, .exit_valid_o, .exit_code_o, .exit_info1_o, .exit_info2_o, .doorbell_valid_o,
    .doorbell_host_id_o, .doorbell_recv_o, .intr_valid_o, .intr_vec_o, .in_service_o,
    .eval_busy_o, .db_drop_o, .db_latched_o
  );

  ///////////////////////////////////
  // Memory and the port responder //
  ///////////////////////////////////

  logic [63:0] mem [MemWords];
  logic [Ports-1:0] busy;
  logic [1:0]  f_op    [Ports];
  logic [63:0] f_addr  [Ports];
  logic [63:0] f_wdata [Ports];
  logic [7:0]  f_mask  [Ports];
  int          f_acc   [Ports];
  int          cyc;

  // What the checks look at.
  int          n_doorbell, n_exit, n_intr, n_drop;
  logic [11:0] last_db_host;
  logic [11:0] last_exit_code;
  logic [63:0] last_info1, last_info2;
  logic [7:0]  last_vec;
  int          last_intr_core;
  logic [1:0]  irr_op;     // last request accepted on core 0's IRR port
  logic [63:0] irr_addr, irr_wdata;

  function automatic logic [63:0] byte_mask(input logic [7:0] m);
    logic [63:0] r = '0;
    for (int b = 0; b < 8; b++) if (m[b]) r[b*8 +: 8] = 8'hFF;
    return r;
  endfunction

  // One cycle: answer the ports (on the outputs after the previous edge), clock edge, pulses
  // cleared, events recorded, and the guest on a core that took a vector writes EOI.
  task automatic step;
    logic [Ports-1:0] ready, rsp;
    logic [63:0] old;
    int w;
    ready = '0;
    rsp = '0;
    for (int i = 0; i < Ports; i++) begin
      if (busy[i]) begin
        if (cyc >= f_acc[i] + 1) begin
          w = int'(f_addr[i] >> 3);
          old = mem[w];
          case (f_op[i])
            2'd1: mem[w] = (old & ~byte_mask(f_mask[i])) | (f_wdata[i] & byte_mask(f_mask[i]));
            2'd2: mem[w] = old | f_wdata[i];
            2'd3: mem[w] = old & ~f_wdata[i];
            default: ;
          endcase
          mem_rsp_rdata_i[i*64 +: 64] = old;
          rsp[i] = 1'b1;
          busy[i] = 1'b0;
        end
      end else if (mem_req_valid_o[i]) begin
        f_op[i] = mem_req_op_o[i*2 +: 2];
        f_addr[i] = mem_req_addr_o[i*64 +: 64];
        f_wdata[i] = mem_req_wdata_o[i*64 +: 64];
        f_mask[i] = mem_req_mask_o[i*8 +: 8];
        f_acc[i] = cyc;
        busy[i] = 1'b1;
        ready[i] = 1'b1;
        if (i == 0) begin
          irr_op = f_op[i];
          irr_addr = f_addr[i];
          irr_wdata = f_wdata[i];
        end
      end
    end
    mem_req_ready_i = ready;
    mem_rsp_valid_i = rsp;
    @(posedge clk_i);
    #1;
    cyc++;
    icr_wr_i = '0;
    eoi_i = '0;
    for (int c = 0; c < Cores; c++) begin
      if (doorbell_valid_o[c]) begin
        n_doorbell++;
        last_db_host = doorbell_host_id_o[c*12 +: 12];
      end
      if (exit_valid_o[c]) begin
        n_exit++;
        last_exit_code = exit_code_o[c*12 +: 12];
        last_info1 = exit_info1_o[c*64 +: 64];
        last_info2 = exit_info2_o[c*64 +: 64];
      end
      if (db_drop_o[c]) n_drop++;
      if (intr_valid_o[c]) begin
        n_intr++;
        last_vec = intr_vec_o[c*8 +: 8];
        last_intr_core = c;
        eoi_i[c] = 1'b1;
      end
    end
  endtask

  // Steps until no sender is busy, no request is offered or in flight and no receiver works.
  task automatic settle;
    int idle = 0;
    for (int n = 0; n < 2000 && idle < 8; n++) begin
      step();
      if (busy_o == '0 && mem_req_valid_o == '0 && busy == '0 && eval_busy_o == '0 &&
          eoi_i == '0)
        idle++;
      else
        idle = 0;
    end
  endtask

  int passed = 0, failed = 0;

  task automatic check(input bit ok, input string what);
    if (ok) begin
      passed++;
    end else begin
      failed++;
      $display("FAIL: %s", what);
    end
  endtask

  task automatic clear_events;
    n_doorbell = 0;
    n_exit = 0;
    n_intr = 0;
    n_drop = 0;
  endtask

  task automatic send(input logic [7:0] vec, input logic [7:0] dest);
    icr_lo_i[31:0] = {24'h0, vec};  // Fixed, physical, edge
    icr_hi_i[31:0] = {dest, 24'h0};
    icr_wr_i[0] = 1'b1;
  endtask

  logic [63:0] page;

  initial begin
    for (int i = 0; i < MemWords; i++) mem[i] = '0;
    for (int id = 0; id < 4; id++) begin
      page = backing(id);
      mem[(PhysTable >> 3) + id] = {1'b1, id != 2, 10'b0, page[51:12], 12'(id)};
    end
    busy = '0;
    cyc = 0;
    guest_mode_i = Cores'(2'b11);
    vmrun_i = '0;
    ldr_cluster_i = '0;
    icr_wr_i = '0;
    intr_ready_i = '1;
    eoi_i = '0;
    sw_doorbell_i = '0;
    for (int c = 0; c < Cores; c++) begin
      self_idx_i[c*8 +: 8] = 8'(c);
      backing_i[c*64 +: 64] = backing(c);
    end
    icr_lo_i = '0;
    icr_hi_i = '0;
    mem_req_ready_i = '0;
    mem_rsp_valid_i = '0;
    mem_rsp_rdata_i = '0;
    @(posedge clk_i);
    @(posedge clk_i);
    #1;
    rst_ni = 1'b1;
    settle();

    // 1. Running target: IRR set, doorbell, the vector taken.
    clear_events();
    send(8'h40, 8'd1);
    settle();
    check(irr_op == 2'd2 && irr_addr == backing(1) + 64'h220 && irr_wdata == 64'h1,
          $sformatf("IPI 0x40 to running vCPU 1: locked IRR set at %h bits %h (op %0d)",
                    irr_addr, irr_wdata, irr_op));
    check(n_doorbell == 1 && last_db_host == 12'd1,
          $sformatf("doorbell to host APIC ID 1 (%0d doorbells, last to %0d)", n_doorbell,
                    last_db_host));
    check(n_exit == 0, $sformatf("no exit for a running target (%0d)", n_exit));
    check(n_intr == 1 && last_intr_core == 1 && last_vec == 8'h40,
          $sformatf("core 1 takes 0x40 (%0d interrupts, last %h on core %0d)", n_intr, last_vec,
                    last_intr_core));
    check(mem[(backing(1) + 64'h220) >> 3] == '0 && mem[(backing(1) + 64'h120) >> 3] == '0,
          "vCPU 1's IRR2 and ISR2 clear after the EOI");

    // 2. Not-running target: IRR set, exit 0x401 cause 1 index 2, no doorbell.
    clear_events();
    send(8'h41, 8'd2);
    settle();
    check(mem[(backing(2) + 64'h220) >> 3] == 64'h2,
          $sformatf("IPI 0x41 to not-running vCPU 2: its IRR2 = %h", mem[(backing(2) + 64'h220) >> 3]));
    check(n_doorbell == 0 && n_drop == 0, $sformatf("no doorbell (%0d)", n_doorbell));
    check(n_exit == 1 && last_exit_code == 12'h401,
          $sformatf("one #VMEXIT 0x401 (%0d, code %h)", n_exit, last_exit_code));
    check(last_info1 == 64'h0200_0000_0000_0041, $sformatf("EXITINFO1 = %h", last_info1));
    check(last_info2 == 64'h0000_0001_0000_0002,
          $sformatf("EXITINFO2 = %h (cause 1, index 2)", last_info2));
    check(n_intr == 0, "no interrupt taken");

    $display("iverilog-smoke: %0d passed, %0d failed", passed, failed);
    if (failed != 0) $fatal(1, "iverilog smoke failed");
    $finish;
  end

endmodule
