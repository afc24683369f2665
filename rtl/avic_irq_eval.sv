// SPDX-License-Identifier: MIT OR Apache-2.0
//
// avic_irq_eval: the receiving half of one core's AVIC (APM vol. 2 section 15.29.8.2, 15.29.3).
// While the core is in guest mode it evaluates the running vCPU's backing-page IRR at VMRUN, on a
// doorbell, on a self IPI and after an EOI: it scans IRR7..IRR0 for the highest pending vector,
// moves it from IRR to ISR (a locked clear of the IRR bit, whose old value proves the vector was
// still pending, then a locked set of the ISR bit) and presents it to the guest. EOI clears the
// ISR bit. A doorbell to a core in host mode is dropped (cfg_latch_doorbell_i = 0) or latched
// until the next VMRUN (1): HW-E in docs/port-contract.md. One interrupt is in service at a time.

`include "avic_assert.svh"

module avic_irq_eval
(
  input  logic        clk_i,
  input  logic        rst_ni,

  input  logic        cfg_latch_doorbell_i,  // HW-E, sampled while rst_ni is low

  input  logic        guest_mode_i,          // the core runs a guest
  input  logic        vmrun_i,               // VMRUN this cycle
  input  logic        avic_en_i,             // AVIC on for the running guest (taken at VMRUN)
  input  logic [63:0] backing_i,             // running vCPU's backing page
  input  logic        intr_ready_i,          // guest accepts interrupts (RFLAGS.IF)
  input  logic        eoi_i,                 // guest writes EOI
  input  logic        doorbell_i,            // doorbell addressed to this core
  input  logic        self_eval_i,           // self IPI from the local sender

  // Receiver port.
  output logic        req_valid_o,
  output logic [1:0]  req_op_o,
  output logic [63:0] req_addr_o,
  output logic [63:0] req_wdata_o,
  output logic [7:0]  req_mask_o,
  input  logic        req_ready_i,
  input  logic        rsp_valid_i,
  input  logic [63:0] rsp_rdata_i,

  output logic        intr_valid_o,          // vector taken by the guest this cycle
  output logic [7:0]  intr_vec_o,
  output logic        in_service_o,
  output logic        eval_busy_o,           // an evaluation is owed or running: the guest
                                             // executes no instruction before it (the APM
                                             // delivers pending interrupts first)
  output logic        db_drop_o,             // a doorbell to this host-mode core was dropped
                                             // (registered: the cycle after it arrived)
  output logic        db_latched_o           // a doorbell waits for the next VMRUN
);

  typedef enum logic [3:0] {
    StIdle,
    StScanReq,
    StScanWait,
    StClrReq,
    StClrWait,
    StIsrReq,
    StIsrWait,
    StPresent,
    StEoiReq,
    StEoiWait
  } state_e;

  logic cfg_latch_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) cfg_latch_q <= cfg_latch_doorbell_i;
  end

  state_e     state_q, state_d;
  logic       eval_q, eval_d;        // an evaluation is owed
  logic       eoi_q, eoi_d;          // an EOI waits to be processed
  logic       latch_q, latch_d;      // latched doorbell (HW-E)
  logic       drop_q, drop_d;        // a doorbell was dropped last cycle
  logic [2:0] word_q, word_d;        // IRR register being scanned
  logic [7:0] vec_q, vec_d;          // vector being accepted / in service
  logic       insvc_q, insvc_d;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q    <= StIdle;
      eval_q     <= 1'b0;
      eoi_q      <= 1'b0;
      latch_q    <= 1'b0;
      drop_q     <= 1'b0;
      word_q     <= '0;
      vec_q      <= '0;
      insvc_q    <= 1'b0;
    end else begin
      state_q    <= state_d;
      eval_q     <= eval_d;
      eoi_q      <= eoi_d;
      latch_q    <= latch_d;
      drop_q     <= drop_d;
      word_q     <= word_d;
      vec_q      <= vec_d;
      insvc_q    <= insvc_d;
    end
  end

  // Highest set bit of the IRR register returned by a scan read (vectors 0-15 are reserved).
  logic [31:0] scan_bits;
  logic [4:0]  scan_msb;
  assign scan_bits = rsp_rdata_i[31:0] & ((word_q == 3'd0) ? 32'hFFFF_0000 : 32'hFFFF_FFFF);
  always_comb begin
    scan_msb = '0;
    for (int unsigned i = 0; i < 32; i++) begin
      if (scan_bits[i]) scan_msb = 5'(i);
    end
  end

  logic [63:0] vec_bit;
  logic [63:0] vec_off;
  assign vec_bit = 64'd1 << vec_q[4:0];
  assign vec_off = {57'b0, vec_q[7:5], 4'b0};

  always_comb begin
    state_d    = state_q;
    eval_d     = eval_q;
    eoi_d      = eoi_q || (eoi_i && insvc_q);  // an EOI with nothing in service is a no-op
    latch_d    = latch_q;
    word_d     = word_q;
    vec_d      = vec_q;
    insvc_d    = insvc_q;

    req_valid_o  = 1'b0;
    req_op_o     = avic_pkg::MemRead;
    req_addr_o   = backing_i | 64'(avic_pkg::OffIrr) | {57'b0, word_q, 4'b0};
    req_wdata_o  = '0;
    req_mask_o   = 8'h0F;
    intr_valid_o = 1'b0;
    drop_d       = 1'b0;

    // Evaluation triggers.
    // With AVIC off (avic_en_i = 0) VMRUN does not evaluate the backing page and a doorbell
    // finds no AVIC guest: it is dropped as in host mode.
    if (avic_en_i && (vmrun_i || self_eval_i || (doorbell_i && guest_mode_i))) eval_d = 1'b1;
    if (doorbell_i && !avic_en_i) drop_d = 1'b1;
    if (doorbell_i && avic_en_i && !guest_mode_i) begin
      if (cfg_latch_q) latch_d = 1'b1;
      else drop_d = 1'b1;
    end
    if (vmrun_i && latch_q) latch_d = 1'b0;
    // Leaving guest mode forgets owed evaluations: the next VMRUN evaluates anyway.
    if (!guest_mode_i && !vmrun_i) eval_d = 1'b0;
    if (!avic_en_i) eval_d = 1'b0;

    unique case (state_q)
      StIdle: begin
        if (eoi_q && insvc_q) begin
          eoi_d   = 1'b0;
          state_d = StEoiReq;
        end else if (eval_q && guest_mode_i && intr_ready_i && !insvc_q) begin
          eval_d  = avic_en_i && (vmrun_i || self_eval_i || doorbell_i);  // a new trigger keeps one owed
          word_d  = 3'd7;
          state_d = StScanReq;
        end
      end

      // The read stays offered until accepted (port contract) and is waited for even if the
      // guest has left; an evaluation cut by a #VMEXIT before the IRR bit is claimed is dropped
      // in StScanWait (the next VMRUN evaluates again).
      StScanReq: begin
        req_valid_o = 1'b1;
        if (req_ready_i) state_d = StScanWait;
      end

      StScanWait: begin
        if (rsp_valid_i) begin
          if (!guest_mode_i) begin
            state_d = StIdle;
          end else if (scan_bits != '0) begin
            vec_d   = {word_q, scan_msb};
            state_d = StClrReq;
          end else if (word_q == 3'd0) begin
            state_d = StIdle;
          end else begin
            word_d  = word_q - 3'd1;
            state_d = StScanReq;
          end
        end
      end

      StClrReq: begin
        req_valid_o = 1'b1;
        req_op_o    = avic_pkg::MemLockClr;
        req_addr_o  = backing_i | 64'(avic_pkg::OffIrr) | vec_off;
        req_wdata_o = vec_bit;
        if (req_ready_i) state_d = StClrWait;
      end

      StClrWait: begin
        if (rsp_valid_i) begin
          if ((rsp_rdata_i & vec_bit) != '0) begin
            state_d = StIsrReq;
          end else begin
            eval_d  = 1'b1;  // cleared under us: look again
            state_d = StIdle;
          end
        end
      end

      StIsrReq: begin
        req_valid_o = 1'b1;
        req_op_o    = avic_pkg::MemLockSet;
        req_addr_o  = backing_i | 64'(avic_pkg::OffIsr) | vec_off;
        req_wdata_o = vec_bit;
        if (req_ready_i) state_d = StIsrWait;
      end

      StIsrWait: begin
        if (rsp_valid_i) begin
          insvc_d = 1'b1;
          state_d = StPresent;
        end
      end

      // The vector is the guest's: one cycle of intr_valid_o.
      StPresent: begin
        intr_valid_o = 1'b1;
        state_d      = StIdle;
      end

      StEoiReq: begin
        req_valid_o = 1'b1;
        req_op_o    = avic_pkg::MemLockClr;
        req_addr_o  = backing_i | 64'(avic_pkg::OffIsr) | vec_off;
        req_wdata_o = vec_bit;
        if (req_ready_i) state_d = StEoiWait;
      end

      // ISR bit cleared: look for the next pending vector.
      StEoiWait: begin
        if (rsp_valid_i) begin
          insvc_d = 1'b0;
          eval_d  = guest_mode_i;
          state_d = StIdle;
        end
      end

      default: state_d = StIdle;
    endcase
  end

  assign intr_vec_o   = vec_q;
  assign in_service_o = insvc_q;
  assign eval_busy_o  = (state_q != StIdle) || (eval_q && intr_ready_i) || eoi_q;
  assign db_latched_o = latch_q;
  assign db_drop_o    = drop_q;

  ////////////////
  // Assertions //
  ////////////////

  // A response on the receiver port needs one of its requests waited for.
  logic rcv_wait;
  assign rcv_wait = (state_q == StScanWait) || (state_q == StClrWait) ||
                    (state_q == StIsrWait) || (state_q == StEoiWait);
  `AVIC_ASSERT(RspNeedsReq_A, !rsp_valid_i || rcv_wait)

endmodule
