// SPDX-License-Identifier: MIT OR Apache-2.0
//
// ModelCore<V, Tfp>: one Verilated top `V` (any implementation of docs/port-contract.md) driven
// through the grouped port structs of bindings/ffi.rs, with optional tracing (`Tfp` =
// VerilatedVcdC, VerilatedFstC or NoTrace). The one definition of how ports are copied, how a
// cycle is clocked and how the batched responder runs; compiled into the crate for the bundled
// builds (bindings/shim.cpp) and into a user's shared object built at run time
// (bindings/user_model.cpp, harness/rtl.rs). Errors are C++ exceptions; callers translate them.
//
// Before including: the header of `V`, verilated.h and the trace headers in use, and the shared
// structs (avic-cosim/bindings/ffi.rs.h).

#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "verilated.h"
#include "responder.h"

namespace avic {
namespace impl {

// The core count the model was verilated with (`-GNumCores`, the default of `avic_top`'s
// parameter when not given): the build passes the same number as AVIC_NUM_CORES, and ModelCore
// checks it against the top's port widths. The port structs have room for kMaxCores.
#ifndef AVIC_NUM_CORES
#error "define AVIC_NUM_CORES: the NumCores the model was verilated with"
#endif
constexpr unsigned kCores = AVIC_NUM_CORES;
using avic_tb::kMaxCores;
static_assert(kCores >= 1 && kCores <= kMaxCores, "AVIC_NUM_CORES must be 1..8");
// One bit per core: the event masks of run_autonomous.
constexpr uint32_t kCoreMask = (1u << kCores) - 1;

using avic_tb::kPorts;

using avic_tb::get_bits;
using avic_tb::set_bits;

// Port contract v2 (docs/port-contract.md): `avic_en_i` is optional. A top without it (a v1
// design) is driven as if the input were tied to 1: CoreIn::avic_off is then ignored.
template <typename T, typename = void>
struct HasAvicEn : std::false_type {};
template <typename T>
struct HasAvicEn<T, std::void_t<decltype(std::declval<T&>().avic_en_i)>> : std::true_type {};

template <typename V>
inline void set_avic_en(V& t, unsigned c, bool off) {
  if constexpr (HasAvicEn<V>::value) {
    set_bits(t.avic_en_i, c, 1, off ? 0 : 1);
  } else {
    (void)t;
    (void)c;
    (void)off;
  }
}

struct NoTrace {};

template <class V, class Tfp>
class ModelCore {
public:
  // Verilator resolves some calls (scope registration in constructors and destructors, error
  // hooks) through the thread's current context, so every entry point makes ours current:
  // several models may live on one thread (tests, exploration workers).
  explicit ModelCore(const char* name) : ctx_(new VerilatedContext), top_() {
    Verilated::threadContextp(ctx_.get());
    // Single-threaded model: without this, Verilator 5.006 starts and joins a worker thread
    // for every model, which costs about a quarter of a short exploration run.
    ctx_->threads(1);
    ctx_->fatalOnError(false);
    if constexpr (!std::is_same_v<Tfp, NoTrace>) ctx_->traceEverOn(true);
    top_.reset(new V(ctx_.get(), name));
  }
  // backing_i is NumCores * 64 bits: its size is the RTL's core count, whatever the storage
  // type Verilator chose (QData for one core, VlWide<2N> above).
  static_assert(sizeof(std::declval<V&>().backing_i) == kCores * 8,
                "the top's NumCores differs from AVIC_NUM_CORES (the build's core count)");
  static_assert(std::tuple_size<decltype(TopIn::core)>::value == kMaxCores,
                "bindings/ffi.rs's port arrays must hold kMaxCores cores");
  ~ModelCore() {
    Verilated::threadContextp(ctx_.get());
    close_trace();
    top_->final();
  }
  ModelCore(const ModelCore&) = delete;
  ModelCore& operator=(const ModelCore&) = delete;

  VerilatedContext* context() { return ctx_.get(); }
  V& top() { return *top_; }

  void step(const TopIn& in, TopOut& out) {
    Verilated::threadContextp(ctx_.get());
    apply(in);
    cycle();
    read(out);
  }

  void step_n(const TopIn& in, uint64_t n, TopOut& out) {
    Verilated::threadContextp(ctx_.get());
    apply(in);
    for (uint64_t i = 0; i < n; ++i) cycle();
    read(out);
  }

  void open_trace(const std::string& path) {
    if constexpr (std::is_same_v<Tfp, NoTrace>) {
      (void)path;
      throw std::runtime_error("this model was built without tracing; create it as Vcd or Fst");
    } else {
      Verilated::threadContextp(ctx_.get());
      close_trace();
      tfp_.reset(new Tfp);
      top_->trace(tfp_.get(), 99);
      tfp_->open(path.c_str());
      if (!tfp_->isOpen()) {
        tfp_.reset();
        throw std::runtime_error("cannot open waveform file " + path);
      }
    }
  }

  void close_trace() {
    if constexpr (!std::is_same_v<Tfp, NoTrace>) {
      if (tfp_) {
        tfp_->close();
        tfp_.reset();
      }
    }
  }

  uint64_t cycles() const { return cycles_; }

  // Snapshots, for models verilated with --savable (the templates are instantiated only for
  // those): the cycle count, then Verilator's serialization of the model (bindings/snapshot.h
  // says what it holds). Tracing and the batched responder's memory are not saved.
  template <class Save>
  void save_to(Save& os) {
    Verilated::threadContextp(ctx_.get());
    os << cycles_;
    os << *top_;
  }

  // Restores what save_to wrote. On error (bytes of another model), the model's state is
  // undefined until the next successful restore.
  template <class Restore>
  void restore_from(Restore& is) {
    Verilated::threadContextp(ctx_.get());
    is >> cycles_;
    is >> *top_;
    held_valid_ = false;
  }

  // Batched mode: the memory responder of the pure C++ testbench, inside the model.
  void auto_load(const uint64_t* words, std::size_t n) {
    auto& w = mem_.words();
    w.assign(words, words + n);
    resp_.clear();
  }

  uint64_t auto_word(uint64_t addr) const { return mem_.at(addr); }

  uint32_t auto_in_flight() const { return resp_.in_flight(); }

  uint64_t run_autonomous(const TopIn& in, uint64_t n, const AutoStop& stop, TopOut& out) {
    Verilated::threadContextp(ctx_.get());
    V& t = *top_;
    // Rust calls back at every event with mostly the same inputs: when only pulses differ from
    // the inputs the ports hold (the responder owns the memory ports), write just the pulses.
    TopIn held = in;
    clear_pulses(held);
    // Bytewise: equal bytes mean equal fields; padding that differs only costs a full apply.
    if (held_valid_ && std::memcmp(&held, &held_, sizeof held) == 0) {
      for (unsigned c = 0; c < kCores; ++c) {
        const CoreIn& ci = in.core[c];
        if (ci.icr_wr) {
          set_bits(t.icr_lo_i, c * 32, 32, ci.icr_lo);
          set_bits(t.icr_hi_i, c * 32, 32, ci.icr_hi);
        }
        set_bits(t.icr_wr_i, c, 1, ci.icr_wr);
        set_bits(t.vmrun_i, c, 1, ci.vmrun);
        set_bits(t.eoi_i, c, 1, ci.eoi);
        set_bits(t.sw_doorbell_i, c, 1, ci.sw_doorbell);
      }
    } else {
      apply(in);
      held_ = held;
      held_valid_ = true;
    }
    const uint32_t exit_m = stop.exit ? kCoreMask : 0, db_m = stop.doorbell ? kCoreMask : 0,
                   intr_m = stop.intr ? kCoreMask : 0, drop_m = stop.db_drop ? kCoreMask : 0,
                   idle_m = stop.idle ? kCoreMask : 0;
    uint64_t i = 0;
    while (i < n) {
      const uint32_t busy_before = t.busy_o;
      resp_.service(t, mem_, cycles_);
      cycle();
      ++i;
      t.icr_wr_i = 0;
      t.vmrun_i = 0;
      t.eoi_i = 0;
      t.sw_doorbell_i = 0;
      if ((t.exit_valid_o & exit_m) | (t.doorbell_valid_o & db_m) | (t.intr_valid_o & intr_m) |
          (t.db_drop_o & drop_m) | (busy_before & ~t.busy_o & idle_m))
        break;
    }
    read(out);
    return i;
  }

private:
  static void clear_pulses(TopIn& in) {
    for (unsigned c = 0; c < kCores; ++c) {
      CoreIn& ci = in.core[c];
      ci.icr_wr = ci.vmrun = ci.eoi = ci.sw_doorbell = false;
      ci.icr_lo = ci.icr_hi = 0;
    }
  }

  // Low phase with the new inputs, then the rising edge. Waveform time 2c is the low phase of
  // cycle c, 2c+1 the state after its rising edge.
  inline void cycle() {
    top_->clk_i = 0;
    top_->eval();
    dump(2 * cycles_);
    top_->clk_i = 1;
    top_->eval();
    dump(2 * cycles_ + 1);
    ++cycles_;
  }

  inline void dump(uint64_t t) {
    if constexpr (!std::is_same_v<Tfp, NoTrace>) {
      if (tfp_) tfp_->dump(t);
    } else {
      (void)t;
    }
  }

  inline void apply(const TopIn& in) {
    V& t = *top_;
    held_valid_ = false;
    t.rst_ni = in.rst_n;
    t.cfg_atomic_irr_i = in.cfg.atomic_irr;
    t.cfg_isrun_order_i = in.cfg.isrun_order & 3;
    t.cfg_stale_isrun_i = in.cfg.stale_isrun;
    t.cfg_validate_first_i = in.cfg.validate_first;
    t.cfg_latch_doorbell_i = in.cfg.latch_doorbell;
    t.phys_base_i = in.phys_base;
    t.phys_max_idx_i = in.phys_max_idx;
    t.log_base_i = in.log_base;
    for (unsigned c = 0; c < kCores; ++c) {
      const CoreIn& ci = in.core[c];
      set_bits(t.guest_mode_i, c, 1, ci.guest_mode);
      set_bits(t.vmrun_i, c, 1, ci.vmrun);
      set_avic_en(t, c, ci.avic_off);
      set_bits(t.self_idx_i, c * 8, 8, ci.self_idx);
      set_bits(t.backing_i, c * 64, 64, ci.backing);
      set_bits(t.ldr_cluster_i, c, 1, ci.ldr_cluster);
      set_bits(t.icr_wr_i, c, 1, ci.icr_wr);
      set_bits(t.icr_lo_i, c * 32, 32, ci.icr_lo);
      set_bits(t.icr_hi_i, c * 32, 32, ci.icr_hi);
      set_bits(t.intr_ready_i, c, 1, ci.intr_ready);
      set_bits(t.eoi_i, c, 1, ci.eoi);
      set_bits(t.sw_doorbell_i, c, 1, ci.sw_doorbell);
      for (unsigned p = 0; p < kPorts; ++p) {
        const unsigned i = c * kPorts + p;
        const PortRsp& r = ci.port[p];
        set_bits(t.mem_req_ready_i, i, 1, r.req_ready);
        set_bits(t.mem_rsp_valid_i, i, 1, r.rsp_valid);
        set_bits(t.mem_rsp_rdata_i, i * 64, 64, r.rdata);
      }
    }
  }

  inline void read(TopOut& out) const {
    const V& t = *top_;
    for (unsigned c = 0; c < kCores; ++c) {
      CoreOut& co = out.core[c];
      for (unsigned p = 0; p < kPorts; ++p) {
        const unsigned i = c * kPorts + p;
        PortReq& q = co.port[p];
        q.valid = get_bits(t.mem_req_valid_o, i, 1);
        q.op = static_cast<uint8_t>(get_bits(t.mem_req_op_o, i * 2, 2));
        q.addr = get_bits(t.mem_req_addr_o, i * 64, 64);
        q.wdata = get_bits(t.mem_req_wdata_o, i * 64, 64);
        q.mask = static_cast<uint8_t>(get_bits(t.mem_req_mask_o, i * 8, 8));
      }
      co.busy = get_bits(t.busy_o, c, 1);
      co.exit_valid = get_bits(t.exit_valid_o, c, 1);
      co.exit_code = static_cast<uint16_t>(get_bits(t.exit_code_o, c * 12, 12));
      co.exit_info1 = get_bits(t.exit_info1_o, c * 64, 64);
      co.exit_info2 = get_bits(t.exit_info2_o, c * 64, 64);
      co.doorbell_valid = get_bits(t.doorbell_valid_o, c, 1);
      co.doorbell_host_id = static_cast<uint16_t>(get_bits(t.doorbell_host_id_o, c * 12, 12));
      co.doorbell_recv = get_bits(t.doorbell_recv_o, c, 1);
      co.intr_valid = get_bits(t.intr_valid_o, c, 1);
      co.intr_vec = static_cast<uint8_t>(get_bits(t.intr_vec_o, c * 8, 8));
      co.in_service = get_bits(t.in_service_o, c, 1);
      co.eval_busy = get_bits(t.eval_busy_o, c, 1);
      co.db_drop = get_bits(t.db_drop_o, c, 1);
      co.db_latched = get_bits(t.db_latched_o, c, 1);
    }
  }

  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<V> top_;
  std::unique_ptr<Tfp> tfp_;
  uint64_t cycles_ = 0;
  avic_tb::Memory mem_;
  avic_tb::Responder<V> resp_;
  TopIn held_{};  // inputs the ports hold after run_autonomous (pulses cleared, ICR ignored)
  bool held_valid_ = false;
};

}  // namespace impl
}  // namespace avic
