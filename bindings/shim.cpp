// SPDX-License-Identifier: MIT OR Apache-2.0
//
// C++ side of the cxx bridge in bindings/ffi.rs: four builds of the same RTL (plain, VCD, FST,
// --savable) behind one interface. The port copying and clocking are ModelCore (bindings/model_impl.h,
// shared with user RTL built at run time); Verilator's $stop/$fatal/assertion paths are turned
// into C++ exceptions (bindings/vl_hooks.h), which cxx returns to Rust as `Err` instead of
// letting Verilator abort the process.

#include "avic-cosim/bindings/shim.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "VavicPlain.h"
#include "VavicVcd.h"
#include "VavicFst.h"
#include "VavicSavable.h"
#include "verilated.h"
#include "verilated_fst_c.h"
#include "verilated_vcd_c.h"
#include "avic-cosim/bindings/ffi.rs.h"
#include "model_impl.h"
#include "snapshot.h"
#include "vl_hooks.h"

namespace avic {

namespace {

template <class V, class Tfp, bool Savable = false>
class ModelImpl final : public Model {
public:
  ModelImpl() : m_("avic_top") {}

  void step(const TopIn& in, TopOut& out) override { m_.step(in, out); }
  void step_n(const TopIn& in, uint64_t n, TopOut& out) override { m_.step_n(in, n, out); }
  void open_trace(rust::Str path) override { m_.open_trace(std::string(path)); }
  void close_trace() override { m_.close_trace(); }
  uint64_t cycles() const override { return m_.cycles(); }
  void auto_load(rust::Slice<const uint64_t> words) override {
    m_.auto_load(words.data(), words.size());
  }
  uint64_t auto_word(uint64_t addr) const override { return m_.auto_word(addr); }
  uint32_t auto_in_flight() const override { return m_.auto_in_flight(); }
  uint64_t run_autonomous(const TopIn& in, uint64_t n, const AutoStop& stop,
                          TopOut& out) override {
    return m_.run_autonomous(in, n, stop, out);
  }

  // Serializes into the model's staging vector, then copies as much as fits into `out`;
  // returns the whole size (the caller grows `out` and calls again when it did not fit).
  size_t save(rust::Slice<uint8_t> out) const override {
    if constexpr (Savable) {
      auto& self = const_cast<ModelImpl&>(*this);
      impl::MemSave& s = self.staging().save;
      s.begin();
      self.m_.save_to(s);
      s.end();
      const auto& b = s.buf;
      std::memcpy(out.data(), b.data(), std::min(out.size(), b.size()));
      return b.size();
    } else {
      (void)out;
      throw std::runtime_error("this model was built without --savable; create it as Savable");
    }
  }

  void restore(rust::Slice<const uint8_t> state) override {
    if constexpr (Savable) {
      // Verilator checks the header, the model's check value and the trailer; the size is
      // checked here first, so a short or long buffer never reaches it.
      if (state_size_ == 0) {
        size_t n = save(rust::Slice<uint8_t>());
        state_size_ = n;
      }
      if (state.size() != state_size_)
        throw std::runtime_error("snapshot of " + std::to_string(state.size()) +
                                 " bytes, this model saves " + std::to_string(state_size_));
      impl::MemRestore& r = staging().restore;
      r.begin(state.data(), state.size());
      m_.restore_from(r);
      r.end();
    } else {
      (void)state;
      throw std::runtime_error("this model was built without --savable; create it as Savable");
    }
  }

private:
  impl::ModelCore<V, Tfp> m_;
  // Staging buffers of snapshots (Savable builds only; 256 KiB each, so created on first use).
  struct Staging {
    impl::MemSave save;
    impl::MemRestore restore;
  };
  Staging& staging() {
    if (!staging_) staging_ = std::make_unique<Staging>();
    return *staging_;
  }
  std::unique_ptr<Staging> staging_;
  size_t state_size_ = 0;
};

}  // namespace

std::unique_ptr<Model> new_model(ModelKind kind) {
  switch (kind) {
    case ModelKind::Plain: return std::make_unique<ModelImpl<VavicPlain, impl::NoTrace>>();
    case ModelKind::Vcd: return std::make_unique<ModelImpl<VavicVcd, VerilatedVcdC>>();
    case ModelKind::Fst: return std::make_unique<ModelImpl<VavicFst, VerilatedFstC>>();
    case ModelKind::Savable:
      return std::make_unique<ModelImpl<VavicSavable, impl::NoTrace, true>>();
  }
  throw std::runtime_error("unknown model kind");
}

size_t num_cores() { return impl::kCores; }

}  // namespace avic
