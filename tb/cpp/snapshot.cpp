// Snapshot experiment (issue 5, "branching from saved RTL state"): what Verilator's --savable
// save/restore of avic_top costs against simulating cycles, with the model's state kept in a
// memory buffer (no file). benches/branching.rs runs it and turns the numbers into ratios.
//
//   snapshot REPS     prints key=value lines:
//     cycle_ns      one cycle of the back-to-back IPI stimulus of avic_tb.cpp (eval x2 + ports)
//     construct_ns  VerilatedContext + model constructed, configured, reset (2 cycles), destroyed
//     save_ns       the model serialized into a memory buffer
//     restore_ns    the model deserialized from that buffer into a live model
//     state_bytes   the size of the serialized state
//     restore_ok    1 when a restored model, run on from the snapshot, produces exactly the
//                   outputs the original produced from the same point (200 cycles compared)
//
// Built by `make -C tb/cpp snapshot` from a --savable verilation of the same RTL with the same
// flags as build.rs (--savable cannot be combined with --coverage; build.rs uses neither), with
// the memory-buffer serializers of the shim (bindings/snapshot.h).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "VavicSave.h"
#include "responder.h"
#include "snapshot.h"
#include "stimulus.h"
#include "verilated.h"
#include "verilated_save.h"

namespace {

using avic_tb::backing;

using avic::impl::MemRestore;  // bindings/snapshot.h: the shim's own buffers
using avic::impl::MemSave;

// A context with one thread, as the shim's (bindings/model_impl.h ModelCore): Verilator 5.006's
// default starts a worker thread for every model.
struct OneThread : VerilatedContext {
  OneThread() { threads(1); }
};

struct Rig {
  OneThread ctx;
  VavicSave t{&ctx, "avic_top"};
  avic_tb::Memory mem{backing(8)};
  avic_tb::Responder<VavicSave> resp;
  uint64_t cyc = 0;
  bool to_running = true;

  // Verilator 5.006's scope destructors unregister from the thread's current context, not
  // their own: make it ours, as ModelCore does. Without this, a Rig destroyed after another
  // Rig's context was destroyed locks a mutex in freed memory and hangs (not a
  // save/restore problem: it happens whenever the current context dangles).
  ~Rig() { Verilated::threadContextp(&ctx); }
  Rig() {
    avic_tb::setup(t, mem, [this] { clock(); });
  }
  void clock() {
    t.clk_i = 0;
    t.eval();
    t.clk_i = 1;
    t.eval();
    ++cyc;
  }
  // One stimulus cycle; returns a digest of the outputs.
  uint64_t step() {
    resp.service(t, mem, cyc);
    clock();
    t.icr_wr_i = 0;
    t.eoi_i = 0;
    if (const uint8_t iv = t.intr_valid_o) t.eoi_i = iv;
    if ((t.busy_o & 1) == 0) {
      t.icr_lo_i[0] = to_running ? 0x40 : 0x41;
      t.icr_hi_i[0] = (to_running ? 1u : 2u) << 24;
      t.icr_wr_i = 1;
      to_running = !to_running;
    }
    return uint64_t(t.exit_valid_o) | uint64_t(t.doorbell_valid_o) << 8 |
           uint64_t(t.intr_valid_o) << 16 | uint64_t(t.busy_o) << 24 | uint64_t(t.intr_vec_o) << 32;
  }
};

double now_ns() {
  return std::chrono::duration<double, std::nano>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 2000;
  // cycle_ns
  Rig a;
  const uint64_t ncyc = 200000;
  double t0 = now_ns();
  uint64_t sink = 0;
  for (uint64_t i = 0; i < ncyc; ++i) sink ^= a.step();
  const double cycle_ns = (now_ns() - t0) / double(ncyc);
  // construct_ns
  t0 = now_ns();
  for (int i = 0; i < reps; ++i) {
    auto r = std::make_unique<Rig>();
    sink ^= r->t.busy_o;
  }
  const double construct_ns = (now_ns() - t0) / reps;
  // save_ns / restore_ns
  MemSave s;
  t0 = now_ns();
  for (int i = 0; i < reps; ++i) {
    s.begin();
    s << a.t;
    s.end();
  }
  const double save_ns = (now_ns() - t0) / reps;
  Rig b;
  MemRestore r;
  t0 = now_ns();
  for (int i = 0; i < reps; ++i) {
    r.begin(s.buf.data(), s.buf.size());
    r >> b.t;
    r.end();
  }
  const double restore_ns = (now_ns() - t0) / reps;
  // restore_ok: b (restored from a's snapshot, with a's harness-side state) tracks a.
  b.mem = a.mem;
  b.resp = a.resp;
  b.cyc = a.cyc;
  b.to_running = a.to_running;
  // Inputs are model state too (the snapshot holds them); copy them for clarity.
  bool ok = true;
  for (int i = 0; i < 200; ++i) ok &= a.step() == b.step();
  std::printf("cycle_ns=%.1f\nconstruct_ns=%.1f\nsave_ns=%.1f\nrestore_ns=%.1f\n", cycle_ns,
              construct_ns, save_ns, restore_ns);
  std::printf("state_bytes=%zu\nrestore_ok=%d\nsink=%llu\n", s.buf.size(), ok ? 1 : 0,
              static_cast<unsigned long long>(sink & 1));
  return ok ? 0 : 1;
}
