// SPDX-License-Identifier: MIT OR Apache-2.0
//
// avic_assert.svh: the RTL's assertion macros, in one file (the habit of lowRISC's
// prim_assert.sv). Every check is an immediate assertion in a clocked process, the one form
// that Verilator (5.006 and later, with --assert), Icarus Verilog 11 and Yosys all accept.
// Include it at the top of a source file; rtl/avic.f names rtl/ with +incdir+.
//
//   `AVIC_ASSERT(Name_A, prop)                 prop holds at every rising edge of clk_i while
//                                              rst_ni is high
//   `AVIC_ASSERT(Name_A, prop, clk, rst_n)     the same on another clock or reset
//
// Name_A labels the process (hierarchical name ...u_sender.Name_A). Keep one invocation on one
// line: Verilator reports the line where the invocation ends.
//
// A failure prints "assertion Name_A failed: prop" ($error). Under Verilator it then stops the
// model: the harness turns that into an RTL error naming the cycle, the file and line of the
// invocation and its text (harness/dut.rs, bindings/vl_hooks.h). Icarus prints the message and
// goes on (the smoke test fails on it: tb/iverilog/avic_smoke_tb.sv).
//
// By tool:
//   SYNTHESIS defined (Yosys by default, make synth):  nothing, the checks are no hardware.
//   YOSYS without SYNTHESIS (read_verilog -nosynthesis, for formal tools):  a bare assert, as
//                                                      Yosys 0.23 takes no action block.
//   otherwise (Verilator, Icarus):                     assert with an $error action block.

`ifndef AVIC_ASSERT_SVH
`define AVIC_ASSERT_SVH

`ifdef SYNTHESIS

`define AVIC_ASSERT(__name, __prop, __clk = clk_i, __rst_n = rst_ni)

`elsif YOSYS

`define AVIC_ASSERT(__name, __prop, __clk = clk_i, __rst_n = rst_ni) \
  always_ff @(posedge __clk) begin : __name \
    if (__rst_n) assert (__prop); \
  end

`else

`define AVIC_ASSERT(__name, __prop, __clk = clk_i, __rst_n = rst_ni) \
  always_ff @(posedge __clk) begin : __name \
    if (__rst_n) begin \
      assert (__prop) \
        else $error("assertion %s failed: %s", `"__name`", `"__prop`"); \
    end \
  end

`endif

`endif  // AVIC_ASSERT_SVH
