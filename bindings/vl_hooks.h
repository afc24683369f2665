// SPDX-License-Identifier: MIT OR Apache-2.0
//
// Verilator's user hooks (compiled with VL_USER_STOP, VL_USER_FATAL, VL_USER_FINISH; Verilator's
// own vl_stop_maybe calls this vl_stop): never exit or abort, throw instead, so Rust gets an
// `Err` with the cycle. Included by exactly one translation unit of each binary that links a
// Verilator runtime: bindings/shim.cpp (the bundled models) and bindings/user_model.cpp (a
// user's RTL built at run time by harness/rtl.rs).

#pragma once

#include <fstream>
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

// The source line `filename:linenum`, trimmed, when the file can be read from here (the
// repository's rtl/ for the bundled builds, the user's files for theirs): for a failed
// `AVIC_ASSERT (rtl/avic_assert.svh) it names the assertion and its signals. Only read when
// the model stops, never on the per-cycle path.
static std::string vl_source_line(const char* filename, int linenum) {
  if (!filename || !filename[0] || linenum <= 0) return "";
  std::ifstream in(filename);
  std::string line;
  for (int i = 0; i < linenum && std::getline(in, line); i++) {
  }
  if (!in) return "";
  const size_t b = line.find_first_not_of(" \t");
  const size_t e = line.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : line.substr(b, e - b + 1);
}

void vl_stop(const char* filename, int linenum, const char* hier) VL_MT_UNSAFE {
  Verilated::threadContextp()->gotError(true);
  const std::string src = vl_source_line(filename, linenum);
  throw std::runtime_error("RTL stopped ($stop or failed assertion) at " +
                           vl_where(filename, linenum, hier) +
                           (src.empty() ? "" : ": " + src));
}

void vl_fatal(const char* filename, int linenum, const char* hier, const char* msg) VL_MT_UNSAFE {
  Verilated::threadContextp()->gotError(true);
  throw std::runtime_error(std::string("Verilator fatal error: ") + (msg ? msg : "") + " at " +
                           vl_where(filename, linenum, hier));
}
