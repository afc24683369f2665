// SPDX-License-Identifier: MIT OR Apache-2.0
//
// Verilator's user hooks (compiled with VL_USER_STOP, VL_USER_FATAL, VL_USER_FINISH; Verilator's
// own vl_stop_maybe calls this vl_stop): never exit or abort, throw instead, so Rust gets an
// `Err` with the cycle. Included by exactly one translation unit of each binary that links a
// Verilator runtime: bindings/shim.cpp (the bundled models) and bindings/user_model.cpp (a
// user's RTL built at run time by harness/rtl.rs).

#pragma once

#include <stdexcept>
#include <string>

#include "verilated.h"

static std::string vl_where(const char* filename, int linenum, const char* hier) {
  std::string s;
  if (filename && filename[0]) s += std::string(filename) + ":" + std::to_string(linenum);
  if (hier && hier[0]) s += std::string(s.empty() ? "" : " ") + "(" + hier + ")";
  return s;
}

void vl_finish(const char* filename, int linenum, const char* hier) VL_MT_UNSAFE {
  Verilated::threadContextp()->gotFinish(true);
  throw std::runtime_error("RTL called $finish at " + vl_where(filename, linenum, hier));
}

void vl_stop(const char* filename, int linenum, const char* hier) VL_MT_UNSAFE {
  Verilated::threadContextp()->gotError(true);
  throw std::runtime_error("RTL stopped ($stop or failed assertion) at " +
                           vl_where(filename, linenum, hier));
}

void vl_fatal(const char* filename, int linenum, const char* hier, const char* msg) VL_MT_UNSAFE {
  Verilated::threadContextp()->gotError(true);
  throw std::runtime_error(std::string("Verilator fatal error: ") + (msg ? msg : "") + " at " +
                           vl_where(filename, linenum, hier));
}
