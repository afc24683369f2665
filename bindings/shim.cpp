// SPDX-License-Identifier: MIT OR Apache-2.0
//
// C++ side of the cxx bridge in bindings/ffi.rs: three builds of the same RTL (plain, VCD, FST)
// behind one interface. The port copying and clocking are ModelCore (bindings/model_impl.h,
// shared with user RTL built at run time); Verilator's $stop/$fatal/assertion paths are turned
// into C++ exceptions (bindings/vl_hooks.h), which cxx returns to Rust as `Err` instead of
// letting Verilator abort the process.

#include "avic-cosim/bindings/shim.h"

#include <string>

#include "VavicPlain.h"
#include "VavicVcd.h"
#include "VavicFst.h"
#include "verilated.h"
#include "verilated_fst_c.h"
#include "verilated_vcd_c.h"
#include "avic-cosim/bindings/ffi.rs.h"
#include "model_impl.h"
#include "vl_hooks.h"

namespace avic {

namespace {

template <class V, class Tfp>
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

private:
  impl::ModelCore<V, Tfp> m_;
};

}  // namespace

std::unique_ptr<Model> new_model(ModelKind kind) {
  switch (kind) {
    case ModelKind::Plain: return std::make_unique<ModelImpl<VavicPlain, impl::NoTrace>>();
    case ModelKind::Vcd: return std::make_unique<ModelImpl<VavicVcd, VerilatedVcdC>>();
    case ModelKind::Fst: return std::make_unique<ModelImpl<VavicFst, VerilatedFstC>>();
  }
  throw std::runtime_error("unknown model kind");
}

size_t num_cores() { return impl::kCores; }

}  // namespace avic
