// SPDX-License-Identifier: MIT OR Apache-2.0
//
// Pure C++ Verilator testbench of avic_top: the physical limit that benches/throughput.rs
// compares the Rust-driven model against. Same Verilated model as build.rs (same Verilator
// flags, one translation unit per build, g++ -O3), same stimulus as the Rust bench, and the
// same 1-cycle-latency memory (tb/cpp/responder.h, shared with the shim's batched mode).
//
// Stimulus ("ping-pong"): vCPU 0 on core 0 sends back-to-back Fixed physical IPIs, alternately
// vector 0x40 to vCPU 1 (running on core 1: IRR set, doorbell) and vector 0x41 to vCPU 2 (not
// running: IRR set, #VMEXIT 0x401 cause 1 index 2); the next ICR write goes in the cycle after
// the sender is seen idle. Every core whose guest takes a vector writes EOI in the next cycle.
//
//   avic_tb plain|vcd|fst CYCLES [WAVE_PATH]
//
// prints one line of key=value pairs: the cycles run, the wall-clock and thread CPU seconds of
// the cycle loop alone (no construction, no file close) and the event counts. Exit status 1 if an exit carried wrong
// EXITINFO.

#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

#include "VavicFst.h"
#include "VavicPlain.h"
#include "VavicVcd.h"
#include "responder.h"
#include "stimulus.h"
#include "verilated.h"
#include "verilated_fst_c.h"
#include "verilated_vcd_c.h"

namespace {

using avic_tb::backing;
constexpr uint8_t kVecRunning = 0x40;     // to vCPU 1
constexpr uint8_t kVecNotRunning = 0x41;  // to vCPU 2
constexpr uint64_t kExitInfo2 = (1ULL << 32) | 2;  // cause 1 (target not running), index 2

struct NoTrace {};

struct Counts {
  uint64_t cycles = 0, ipis = 0, doorbells = 0, exits = 0, interrupts = 0, drops = 0, bad = 0;
  double secs = 0, cpu_secs = 0;
};

double thread_cpu() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

template <class V, class Tfp>
Counts run(uint64_t n, const char* wave) {
  VerilatedContext ctx;
  if constexpr (!std::is_same_v<Tfp, NoTrace>) ctx.traceEverOn(true);
  V t(&ctx, "avic_top");
  std::unique_ptr<Tfp> tfp;
  if constexpr (!std::is_same_v<Tfp, NoTrace>) {
    if (wave) {
      tfp.reset(new Tfp);
      t.trace(tfp.get(), 99);
      tfp->open(wave);
    }
  }
  uint64_t cyc = 0;
  auto cycle = [&]() {
    t.clk_i = 0;
    t.eval();
    if constexpr (!std::is_same_v<Tfp, NoTrace>)
      if (tfp) tfp->dump(2 * cyc);
    t.clk_i = 1;
    t.eval();
    if constexpr (!std::is_same_v<Tfp, NoTrace>)
      if (tfp) tfp->dump(2 * cyc + 1);
    ++cyc;
  };

  // Memory: the tables of vCPUs 0..3 (vCPU 2 not running), backing pages of 8 vCPUs; APM
  // configuration; core c runs vCPU c; cores 0 and 1 in guest mode.
  avic_tb::Memory mem(backing(8));
  avic_tb::Responder<V> resp;
  avic_tb::setup(t, mem, cycle);

  Counts k;
  bool to_running = true;
  const double c0 = thread_cpu();
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < n; ++i) {
    resp.service(t, mem, cyc);
    cycle();
    // Pulses last one cycle.
    t.icr_wr_i = 0;
    t.eoi_i = 0;
    if (const uint8_t ex = t.exit_valid_o) {
      k.exits += __builtin_popcount(ex);
      const uint64_t info2 =
          static_cast<uint64_t>(t.exit_info2_o[0]) | static_cast<uint64_t>(t.exit_info2_o[1]) << 32;
      if (ex != 1 || info2 != kExitInfo2) ++k.bad;
    }
    k.doorbells += __builtin_popcount(t.doorbell_valid_o);
    k.drops += __builtin_popcount(t.db_drop_o);
    if (const uint8_t iv = t.intr_valid_o) {
      k.interrupts += __builtin_popcount(iv);
      t.eoi_i = iv;
    }
    if ((t.busy_o & 1) == 0) {
      t.icr_lo_i[0] = to_running ? kVecRunning : kVecNotRunning;
      t.icr_hi_i[0] = (to_running ? 1u : 2u) << 24;
      t.icr_wr_i = 1;
      to_running = !to_running;
      ++k.ipis;
    }
  }
  k.secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  k.cpu_secs = thread_cpu() - c0;
  k.cycles = n;
  if constexpr (!std::is_same_v<Tfp, NoTrace>)
    if (tfp) tfp->close();
  t.final();
  return k;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s plain|vcd|fst CYCLES [WAVE_PATH]\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const uint64_t n = std::strtoull(argv[2], nullptr, 10);
  const char* wave = argc > 3 ? argv[3] : nullptr;
  Counts k;
  if (mode == "plain") {
    k = run<VavicPlain, NoTrace>(n, nullptr);
  } else if (mode == "vcd") {
    k = run<VavicVcd, VerilatedVcdC>(n, wave);
  } else if (mode == "fst") {
    k = run<VavicFst, VerilatedFstC>(n, wave);
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  std::printf(
      "mode=%s cycles=%llu secs=%.6f cpu_secs=%.6f ipis=%llu doorbells=%llu exits=%llu interrupts=%llu "
      "drops=%llu bad_exits=%llu\n",
      mode.c_str(), (unsigned long long)k.cycles, k.secs, k.cpu_secs, (unsigned long long)k.ipis,
      (unsigned long long)k.doorbells, (unsigned long long)k.exits,
      (unsigned long long)k.interrupts, (unsigned long long)k.drops, (unsigned long long)k.bad);
  return k.bad == 0 ? 0 : 1;
}
