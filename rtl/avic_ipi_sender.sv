// SPDX-License-Identifier: MIT OR Apache-2.0
//
// avic_ipi_sender: the IPI half of one core's AVIC. On a guest write of ICR low it runs the
// algorithm of AMD64 APM vol. 2 section 15.29.6.1:
//   0  non-Fixed delivery mode or level trigger -> #VMEXIT 401h cause 0; vector < 16 -> cause 4
//   1  shorthand self: set own IRR, re-evaluate locally
//   2  shorthand all / destination FFh: every valid Physical APIC ID table entry
//   3  logical: Logical APIC ID table entry per set bit (flat, or cluster*4+bit); invalid -> cause 2
//   4  physical: index > max index or entry not valid -> cause 2; no backing page -> cause 3
//   5  per valid destination: set IRR bit, read IsRunning, doorbell the host core if running
//   6  any destination not running -> #VMEXIT 401h cause 1 with its table index
// The hardware ordering choices the APM leaves open are configuration inputs sampled at reset
// (docs/port-contract.md lists them with the avic-protocol.md names HW-A, HW-B, HW-D, HW-G).

`include "avic_assert.svh"

module avic_ipi_sender
(
  input  logic        clk_i,
  input  logic        rst_ni,

  // Configuration, sampled while rst_ni is low.
  input  logic        cfg_atomic_irr_i,      // HW-A: 1 locked set-bit, 0 read then write
  input  logic [1:0]  cfg_isrun_order_i,     // HW-B: avic_pkg::isrun_order_e
  input  logic        cfg_stale_isrun_i,     // HW-G: 1 use IsRunning from the entry read
                                             //       before the IRR update (erratum #1235)
  input  logic        cfg_validate_first_i,  // HW-D: 1 validate all destinations first

  // AVIC enable of the running guest as taken at its VMRUN (avic_core latches it). Off: an
  // ICR write is not accelerated but exits at once (avic_pkg::ExitNpf).
  input  logic        avic_en_i,

  // VM-wide AVIC state (VMCB 0F0h/0F8h).
  input  logic [63:0] phys_base_i,           // Physical APIC ID table, 4 KiB aligned
  input  logic [7:0]  phys_max_idx_i,        // AVIC_PHYSICAL_MAX_INDEX
  input  logic [63:0] log_base_i,            // Logical APIC ID table, 4 KiB aligned

  // The vCPU this core runs.
  input  logic [7:0]  self_idx_i,            // its guest physical APIC ID
  input  logic [63:0] self_backing_i,        // its backing page, 4 KiB aligned
  input  logic        ldr_cluster_i,         // its DFR model: 1 cluster, 0 flat

  // Guest ICR write (ICR high is a plain store, ICR low triggers).
  input  logic        icr_wr_i,
  input  logic [31:0] icr_lo_i,
  input  logic [31:0] icr_hi_i,
  output logic        busy_o,

  // IRR port (backing-page updates).
  output logic        irr_req_valid_o,
  output logic [1:0]  irr_req_op_o,
  output logic [63:0] irr_req_addr_o,
  output logic [63:0] irr_req_wdata_o,
  output logic [7:0]  irr_req_mask_o,
  input  logic        irr_req_ready_i,
  input  logic        irr_rsp_valid_i,
  /* verilator lint_off UNUSEDSIGNAL */
  input  logic [63:0] irr_rsp_rdata_i,       // IRR registers are 32 bits: [63:32] reserved
  /* verilator lint_on UNUSEDSIGNAL */

  // Table port (Physical / Logical APIC ID table reads).
  output logic        tbl_req_valid_o,
  output logic [63:0] tbl_req_addr_o,
  input  logic        tbl_req_ready_i,
  input  logic        tbl_rsp_valid_i,
  input  logic [63:0] tbl_rsp_rdata_i,

  // Results.
  output logic        doorbell_valid_o,
  output logic [11:0] doorbell_host_id_o,
  output logic        self_eval_o,           // self IPI: local re-evaluation of IRR
  output logic        exit_valid_o,
  output logic [11:0] exit_code_o,
  output logic [63:0] exit_info1_o,
  output logic [63:0] exit_info2_o
);

  typedef enum logic [3:0] {
    StIdle,
    StNext,
    StLogReq,
    StLogWait,
    StEntReq,
    StEntWait,
    StDispatch,
    StIrrRdReq,
    StIrrRdWait,
    StIrrReq,
    StIrIsReq,
    StIrIsWait,
    StDecide,
    StFinish,
    StExit
  } state_e;

  typedef enum logic [1:0] {
    KindSelf,
    KindPhys,
    KindLog,
    KindBcast
  } kind_e;

  ///////////////////
  // Configuration //
  ///////////////////

  logic         cfg_atomic_q, cfg_stale_q, cfg_valfirst_q;
  logic [1:0]   cfg_order_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      cfg_atomic_q   <= cfg_atomic_irr_i;
      cfg_order_q    <= cfg_isrun_order_i;
      cfg_stale_q    <= cfg_stale_isrun_i;
      cfg_valfirst_q <= cfg_validate_first_i;
    end
  end

  ///////////
  // State //
  ///////////

  state_e      state_q, state_d;
  kind_e       kind_q, kind_d;
  logic [31:0] icr_lo_q, icr_lo_d;
  logic [31:0] icr_hi_q, icr_hi_d;
  logic [8:0]  cur_q, cur_d;             // candidate: table index (bcast) or mask bit (logical)
  logic [7:0]  mask_q, mask_d;           // logical destination bits
  logic        excl_self_q, excl_self_d;
  logic        pass_q, pass_d;           // 0 validate only, 1 deliver
  logic        done_one_q, done_one_d;   // single-destination kinds: destination handled
  logic [7:0]  pidx_q, pidx_d;           // physical index of the current destination
  logic [63:0] backing_q, backing_d;     // its backing page
  logic        isrun_q, isrun_d;
  logic [11:0] host_q, host_d;
  logic        ir_done_q, ir_done_d;     // IsRunning known for the current destination
  logic        irr_issued_q, irr_issued_d;
  logic        irr_pend_q, irr_pend_d;   // IRR update accepted, not yet completed
  logic [31:0] irr_old_q, irr_old_d;     // split update: value read
  logic        notrun_q, notrun_d;
  logic [7:0]  notrun_idx_q, notrun_idx_d;
  logic [31:0] cause_q, cause_d;
  logic [11:0] cause_idx_q, cause_idx_d;
  logic        trap_q, trap_d;           // the exit is the unaccelerated ICR write (AVIC off)

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q      <= StIdle;
      kind_q       <= KindPhys;
      icr_lo_q     <= '0;
      icr_hi_q     <= '0;
      cur_q        <= '0;
      mask_q       <= '0;
      excl_self_q  <= 1'b0;
      pass_q       <= 1'b0;
      done_one_q   <= 1'b0;
      pidx_q       <= '0;
      backing_q    <= '0;
      isrun_q      <= 1'b0;
      host_q       <= '0;
      ir_done_q    <= 1'b0;
      irr_issued_q <= 1'b0;
      irr_pend_q   <= 1'b0;
      irr_old_q    <= '0;
      notrun_q     <= 1'b0;
      notrun_idx_q <= '0;
      cause_q      <= '0;
      cause_idx_q  <= '0;
      trap_q       <= 1'b0;
    end else begin
      state_q      <= state_d;
      kind_q       <= kind_d;
      icr_lo_q     <= icr_lo_d;
      icr_hi_q     <= icr_hi_d;
      cur_q        <= cur_d;
      mask_q       <= mask_d;
      excl_self_q  <= excl_self_d;
      pass_q       <= pass_d;
      done_one_q   <= done_one_d;
      pidx_q       <= pidx_d;
      backing_q    <= backing_d;
      isrun_q      <= isrun_d;
      host_q       <= host_d;
      ir_done_q    <= ir_done_d;
      irr_issued_q <= irr_issued_d;
      irr_pend_q   <= irr_pend_d;
      irr_old_q    <= irr_old_d;
      notrun_q     <= notrun_d;
      notrun_idx_q <= notrun_idx_d;
      cause_q      <= cause_d;
      cause_idx_q  <= cause_idx_d;
      trap_q       <= trap_d;
    end
  end

  ////////////
  // Decode //
  ////////////

  logic [7:0] vector;
  logic [7:0] dest;
  logic [7:0] lidx;         // Logical APIC ID table index of the current candidate
  logic [7:0] cand_limit;   // number of candidates of a logical destination
  logic       ent_valid, ent_isrun;
  logic [39:0] ent_backing;
  logic [31:0] log_entry;
  logic [63:0] irr_addr;
  logic [63:0] irr_bit;

  assign vector        = icr_lo_q[avic_pkg::IcrVectorMsb:0];
  assign dest          = icr_hi_q[31:24];
  assign lidx          = ldr_cluster_i ? {2'b00, dest[7:4], cur_q[1:0]} : {5'b0, cur_q[2:0]};
  assign cand_limit    = ldr_cluster_i ? 8'd4 : 8'd8;
  assign ent_valid     = tbl_rsp_rdata_i[avic_pkg::PhysValidBit];
  assign ent_isrun     = tbl_rsp_rdata_i[avic_pkg::PhysIsRunningBit];
  assign ent_backing   = tbl_rsp_rdata_i[avic_pkg::PhysBackingMsb:avic_pkg::PhysBackingLsb];
  assign log_entry     = lidx[0] ? tbl_rsp_rdata_i[63:32] : tbl_rsp_rdata_i[31:0];
  assign irr_addr      = backing_q | 64'(avic_pkg::OffIrr) | {57'b0, vector[7:5], 4'b0};
  assign irr_bit       = 64'd1 << vector[4:0];

  //////////////////////
  // Next-state logic //
  //////////////////////

  always_comb begin
    state_d      = state_q;
    kind_d       = kind_q;
    icr_lo_d     = icr_lo_q;
    icr_hi_d     = icr_hi_q;
    cur_d        = cur_q;
    mask_d       = mask_q;
    excl_self_d  = excl_self_q;
    pass_d       = pass_q;
    done_one_d   = done_one_q;
    pidx_d       = pidx_q;
    backing_d    = backing_q;
    isrun_d      = isrun_q;
    host_d       = host_q;
    ir_done_d    = ir_done_q;
    irr_issued_d = irr_issued_q;
    irr_pend_d   = irr_pend_q;
    irr_old_d    = irr_old_q;
    notrun_d     = notrun_q;
    notrun_idx_d = notrun_idx_q;
    cause_d      = cause_q;
    cause_idx_d  = cause_idx_q;
    trap_d       = trap_q;

    irr_req_valid_o    = 1'b0;
    irr_req_op_o       = avic_pkg::MemLockSet;
    irr_req_addr_o     = irr_addr;
    irr_req_wdata_o    = irr_bit;
    irr_req_mask_o     = 8'h0F;
    tbl_req_valid_o    = 1'b0;
    tbl_req_addr_o     = phys_base_i + {53'b0, pidx_q, 3'b000};
    doorbell_valid_o   = 1'b0;
    doorbell_host_id_o = host_q;
    self_eval_o        = 1'b0;
    exit_valid_o       = 1'b0;

    // An outstanding IRR update completes whatever state the walk is in.
    if (irr_pend_q && irr_rsp_valid_i) begin
      irr_pend_d = 1'b0;
    end

    unique case (state_q)
      StIdle: begin
        if (icr_wr_i) begin
          icr_lo_d    = icr_lo_i;
          icr_hi_d    = icr_hi_i;
          cur_d       = '0;
          done_one_d  = 1'b0;
          notrun_d    = 1'b0;
          excl_self_d = 1'b0;
          pass_d      = !cfg_valfirst_q;
          mask_d      = icr_hi_i[31:24];
          state_d     = StNext;
          trap_d      = 1'b0;
          if (!avic_en_i) begin
            // AVIC off: no table walk, no IRR update; KVM emulates the write.
            trap_d      = 1'b1;
            cause_d     = '0;
            cause_idx_d = '0;
            state_d     = StExit;
          end else if (icr_lo_i[avic_pkg::IcrDelivModeLsb+:3] != 3'b000 || icr_lo_i[avic_pkg::IcrTrigModeBit]) begin
            cause_d     = avic_pkg::CauseInvalidIntType;
            cause_idx_d = '0;
            state_d     = StExit;
          end else if (icr_lo_i[avic_pkg::IcrVectorMsb:4] == 4'h0) begin
            cause_d     = avic_pkg::CauseInvalidVector;
            cause_idx_d = '0;
            state_d     = StExit;
          end else begin
            unique case (icr_lo_i[avic_pkg::IcrShorthandLsb+:2])
              avic_pkg::DshSelf: begin
                kind_d = KindSelf;
                pass_d = 1'b1;
              end
              avic_pkg::DshAllInclSelf: kind_d = KindBcast;
              avic_pkg::DshAllExclSelf: begin
                kind_d      = KindBcast;
                excl_self_d = 1'b1;
              end
              default: begin
                if (icr_hi_i[31:24] == avic_pkg::DestBroadcast) begin
                  kind_d = KindBcast;
                end else if (icr_lo_i[avic_pkg::IcrDestModeBit]) begin
                  kind_d = KindLog;
                  if (ldr_cluster_i) begin
                    mask_d = {4'h0, icr_hi_i[27:24]};
                    if (icr_hi_i[31:28] == 4'hF) kind_d = KindBcast;
                  end
                end else begin
                  kind_d = KindPhys;
                end
              end
            endcase
          end
        end
      end

      // Pick the next destination candidate of this pass.
      StNext: begin
        ir_done_d    = cfg_stale_q;
        irr_issued_d = 1'b0;
        unique case (kind_q)
          KindSelf: begin
            if (done_one_q) begin
              state_d = StFinish;
            end else begin
              pidx_d    = self_idx_i;
              backing_d = self_backing_i;
              ir_done_d = 1'b1;
              isrun_d   = 1'b1;
              state_d   = StDispatch;
            end
          end
          KindPhys: begin
            if (done_one_q) begin
              state_d = StFinish;
            end else if (dest > phys_max_idx_i) begin
              cause_d     = avic_pkg::CauseInvalidTarget;
              cause_idx_d = {4'b0, dest};
              state_d     = StExit;
            end else begin
              pidx_d  = dest;
              state_d = StEntReq;
            end
          end
          KindBcast: begin
            if (cur_q > {1'b0, phys_max_idx_i}) begin
              state_d = StFinish;
            end else if (excl_self_q && cur_q[7:0] == self_idx_i) begin
              cur_d = cur_q + 9'd1;
            end else begin
              pidx_d  = cur_q[7:0];
              state_d = StEntReq;
            end
          end
          default: begin  // KindLog
            if (cur_q[7:0] >= cand_limit) begin
              state_d = StFinish;
            end else if (!mask_q[cur_q[2:0]]) begin
              cur_d = cur_q + 9'd1;
            end else begin
              state_d = StLogReq;
            end
          end
        endcase
      end

      StLogReq: begin
        tbl_req_valid_o = 1'b1;
        tbl_req_addr_o  = log_base_i + {54'b0, lidx[7:1], 3'b000};
        if (tbl_req_ready_i) state_d = StLogWait;
      end

      StLogWait: begin
        if (tbl_rsp_valid_i) begin
          if (!log_entry[avic_pkg::LogValidBit]) begin
            cause_d     = avic_pkg::CauseInvalidTarget;
            cause_idx_d = {4'b0, lidx};
            state_d     = StExit;
          end else if (log_entry[7:0] > phys_max_idx_i) begin
            cause_d     = avic_pkg::CauseInvalidTarget;
            cause_idx_d = {4'b0, log_entry[7:0]};
            state_d     = StExit;
          end else begin
            pidx_d  = log_entry[7:0];
            state_d = StEntReq;
          end
        end
      end

      StEntReq: begin
        tbl_req_valid_o = 1'b1;
        if (tbl_req_ready_i) state_d = StEntWait;
      end

      StEntWait: begin
        if (tbl_rsp_valid_i) begin
          if (!ent_valid && kind_q == KindBcast) begin
            // Broadcast ignores invalid entries.
            cur_d   = cur_q + 9'd1;
            state_d = StNext;
          end else if (!ent_valid) begin
            cause_d     = avic_pkg::CauseInvalidTarget;
            cause_idx_d = {4'b0, pidx_q};
            state_d     = StExit;
          end else if (ent_backing == '0) begin
            cause_d     = avic_pkg::CauseInvalidBacking;
            cause_idx_d = {4'b0, pidx_q};
            state_d     = StExit;
          end else if (!pass_q) begin
            cur_d      = cur_q + 9'd1;
            done_one_d = 1'b1;
            state_d    = StNext;
          end else begin
            backing_d = {12'b0, ent_backing, 12'b0};
            isrun_d   = ent_isrun;
            host_d    = tbl_rsp_rdata_i[avic_pkg::PhysHostIdMsb:0];
            state_d   = StDispatch;
          end
        end
      end

      // Issue the IRR update and the IsRunning read in the configured order, then decide.
      StDispatch: begin
        if (!ir_done_q && cfg_order_q == avic_pkg::IsRunBeforeIrr) begin
          state_d = StIrIsReq;
        end else if (!irr_issued_q) begin
          if (cfg_atomic_q) state_d = StIrrReq;
          else state_d = StIrrRdReq;
        end else if (!ir_done_q && (cfg_order_q == avic_pkg::IsRunInFlight || !irr_pend_q)) begin
          state_d = StIrIsReq;
        end else if (ir_done_q && !irr_pend_q) begin
          state_d = StDecide;
        end
      end

      StIrrRdReq: begin
        irr_req_valid_o = 1'b1;
        irr_req_op_o    = avic_pkg::MemRead;
        if (irr_req_ready_i) state_d = StIrrRdWait;
      end

      StIrrRdWait: begin
        if (irr_rsp_valid_i) begin
          irr_old_d = irr_rsp_rdata_i[31:0];
          state_d   = StIrrReq;
        end
      end

      StIrrReq: begin
        irr_req_valid_o = 1'b1;
        if (!cfg_atomic_q) begin
          irr_req_op_o    = avic_pkg::MemWrite;
          irr_req_wdata_o = {32'b0, irr_old_q} | irr_bit;
        end
        if (irr_req_ready_i) begin
          irr_issued_d = 1'b1;
          irr_pend_d   = 1'b1;
          state_d      = StDispatch;
        end
      end

      StIrIsReq: begin
        tbl_req_valid_o = 1'b1;
        if (tbl_req_ready_i) state_d = StIrIsWait;
      end

      StIrIsWait: begin
        if (tbl_rsp_valid_i) begin
          isrun_d   = ent_isrun;
          host_d    = tbl_rsp_rdata_i[avic_pkg::PhysHostIdMsb:0];
          ir_done_d = 1'b1;
          state_d   = StDispatch;
        end
      end

      StDecide: begin
        if (kind_q == KindSelf) begin
          self_eval_o = 1'b1;
        end else if (isrun_q) begin
          doorbell_valid_o = 1'b1;
        end else if (!notrun_q) begin
          notrun_d     = 1'b1;
          notrun_idx_d = pidx_q;
        end
        cur_d      = cur_q + 9'd1;
        done_one_d = 1'b1;
        state_d    = StNext;
      end

      StFinish: begin
        if (!pass_q) begin
          pass_d     = 1'b1;
          cur_d      = '0;
          done_one_d = 1'b0;
          state_d    = StNext;
        end else if (notrun_q) begin
          cause_d     = avic_pkg::CauseTargetNotRunning;
          cause_idx_d = {4'b0, notrun_idx_q};
          state_d     = StExit;
        end else begin
          state_d = StIdle;
        end
      end

      StExit: begin
        exit_valid_o = 1'b1;
        state_d      = StIdle;
      end

      default: state_d = StIdle;
    endcase
  end

  assign busy_o       = (state_q != StIdle);
  assign exit_info1_o = {icr_hi_q, icr_lo_q};
  assign exit_code_o  = trap_q ? avic_pkg::ExitNpf : avic_pkg::ExitAvicIncompleteIpi;
  assign exit_info2_o = trap_q ? avic_pkg::GpaApicIcrLow : {cause_q, 20'b0, cause_idx_q};

  ////////////////
  // Assertions //
  ////////////////

  // A response on the IRR port needs a request in flight: the locked set or write of an update
  // (irr_pend_q), or the read of a split update.
  `AVIC_ASSERT(IrrRspNeedsReq_A, !irr_rsp_valid_i || irr_pend_q || state_q == StIrrRdWait)
  // A response on the table port needs one of its reads waited for.
  logic tbl_wait;
  assign tbl_wait = (state_q == StLogWait) || (state_q == StEntWait) || (state_q == StIrIsWait);
  `AVIC_ASSERT(TblRspNeedsReq_A, !tbl_rsp_valid_i || tbl_wait)

endmodule
