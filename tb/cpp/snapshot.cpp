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
// flags as build.rs (--savable cannot be combined with --coverage; build.rs uses neither).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "VavicSave.h"
#include "responder.h"
#include "stimulus.h"
#include "verilated.h"
#include "verilated_save.h"

namespace {

using avic_tb::backing;

// Serializes into a growing memory buffer instead of a file.
class MemSave final : public VerilatedSerialize {
 public:
  std::vector<uint8_t> buf;
  void begin() {
    buf.clear();
    m_cp = m_bufp;
    m_isOpen = true;
    header();
  }
  void end() {
    trailer();
    flush();
  }
  void flush() override {
    buf.insert(buf.end(), m_bufp, m_cp);
    m_cp = m_bufp;
  }
};

// Deserializes from a memory buffer.
class MemRestore final : public VerilatedDeserialize {
  const std::vector<uint8_t>* src_ = nullptr;
  size_t pos_ = 0;

 protected:
  void fill() override {
    const size_t keep = static_cast<size_t>(m_endp - m_cp);
    std::memmove(m_bufp, m_cp, keep);
    m_endp = m_bufp + keep;
    m_cp = m_bufp;
    const size_t room = static_cast<size_t>(m_bufp + bufferSize() - m_endp);
    const size_t n = std::min(room, src_->size() - pos_);
    std::memcpy(m_endp, src_->data() + pos_, n);
    pos_ += n;
    m_endp += n;
    // At the end, zeros as VerilatedRestore pads, but only the read slack, not the whole
    // 256 KiB buffer.
    if (pos_ == src_->size()) {
      const size_t pad = std::min(static_cast<size_t>(m_bufp + bufferSize() - m_endp),
                                  bufferInsertSize());
      std::memset(m_endp, 0, pad);
      m_endp += pad;
    }
  }

 public:
  void begin(const std::vector<uint8_t>& s) {
    src_ = &s;
    pos_ = 0;
    m_cp = m_bufp;
    m_endp = m_bufp;
    m_isOpen = true;
    header();
  }
  void end() { trailer(); }
};

struct Rig {
  VerilatedContext ctx;
  VavicSave t{&ctx, "avic_top"};
  avic_tb::Memory mem{backing(8)};
  avic_tb::Responder<VavicSave> resp;
  uint64_t cyc = 0;
  bool to_running = true;

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
    r.begin(s.buf);
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
  // Verilator 5.006: the model's serialized state includes its VerilatedContext's block
  // (serialized1Ptr), which is copied while the context's mutex is held, so a restored
  // context's mutex stays locked and destroying the model deadlocks in scopeErase. Leave
  // without running destructors.
  std::fflush(stdout);
  std::_Exit(ok ? 0 : 1);
}
