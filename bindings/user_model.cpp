// SPDX-License-Identifier: MIT OR Apache-2.0
//
// The C ABI (bindings/user_api.h) over ModelCore<VavicUser, Tfp>: compiled by harness/rtl.rs
// into a shared object together with a user's RTL verilated as `--prefix VavicUser`, so the same
// code drives any top that implements docs/port-contract.md. AVIC_USER_TRACE selects the
// flavor (0 none, 1 VCD, 2 FST); VM_COVERAGE=1 builds with Verilator's coverage counters.

#include <exception>
#include <utility>
#include <string>

#include "VavicUser.h"
#include "verilated.h"
#if AVIC_USER_TRACE == 1
#include "verilated_vcd_c.h"
#elif AVIC_USER_TRACE == 2
#include "verilated_fst_c.h"
#endif
#if VM_COVERAGE
#include "VavicUser__Syms.h"
#include "VavicUser___024root.h"
#include "verilated_cov.h"
#endif
#include "avic-cosim/bindings/ffi.rs.h"
#include "model_impl.h"
#include "user_api.h"
#include "vl_hooks.h"

// Coverage builds: whether a model being constructed registers its coverage points (the
// verilated __vlCoverInsert is patched to test this, see harness/rtl.rs patch_cover_insert).
// Only the instance that writes the merged counters needs them registered.
thread_local bool avic_cov_register = true;

namespace {

#if AVIC_USER_TRACE == 1
using Tfp = VerilatedVcdC;
#elif AVIC_USER_TRACE == 2
using Tfp = VerilatedFstC;
#else
using Tfp = avic::impl::NoTrace;
#endif

struct Inst {
  avic::impl::ModelCore<VavicUser, Tfp> m{"avic_top"};
  std::string err;
};

// Runs `f`, turning any exception into the instance's error string.
template <class F>
const char* guard(void* p, F&& f) {
  Inst& i = *static_cast<Inst*>(p);
  try {
    f(i);
    return nullptr;
  } catch (const std::exception& e) {
    i.err = e.what();
  } catch (...) {
    i.err = "unknown C++ exception in the user model";
  }
  return i.err.c_str();
}

// Clears avic_cov_register for a scope (counting instances), restoring it after.
struct NoRegister {
  bool saved = avic_cov_register;
  NoRegister() { avic_cov_register = false; }
  ~NoRegister() { avic_cov_register = saved; }
};

void* create(const char** err) {
  static thread_local std::string e;
  try {
    NoRegister no_register;
    return new Inst;
  } catch (const std::exception& x) {
    e = x.what();
  } catch (...) {
    e = "unknown C++ exception creating the user model";
  }
  *err = e.c_str();
  return nullptr;
}

void destroy(void* p) {
  try {
    delete static_cast<Inst*>(p);
  } catch (...) {
  }
}

const char* step(void* p, const avic::TopIn* in, avic::TopOut* out) {
  return guard(p, [&](Inst& i) { i.m.step(*in, *out); });
}

const char* step_n(void* p, const avic::TopIn* in, uint64_t n, avic::TopOut* out) {
  return guard(p, [&](Inst& i) { i.m.step_n(*in, n, *out); });
}

const char* open_trace(void* p, const char* path) {
  return guard(p, [&](Inst& i) { i.m.open_trace(path); });
}

void close_trace(void* p) {
  guard(p, [&](Inst& i) { i.m.close_trace(); });
}

uint64_t cycles(const void* p) { return static_cast<const Inst*>(p)->m.cycles(); }

void auto_load(void* p, const uint64_t* words, size_t n) {
  guard(p, [&](Inst& i) { i.m.auto_load(words, n); });
}

const char* auto_word(void* p, uint64_t addr, uint64_t* word) {
  return guard(p, [&](Inst& i) { *word = i.m.auto_word(addr); });
}

uint32_t auto_in_flight(const void* p) { return static_cast<const Inst*>(p)->m.auto_in_flight(); }

const char* run_autonomous(void* p, const avic::TopIn* in, uint64_t n,
                           const avic::AutoStop* stop, avic::TopOut* out, uint64_t* ran) {
  return guard(p, [&](Inst& i) { *ran = i.m.run_autonomous(*in, n, *stop, *out); });
}

#if VM_COVERAGE
// The model's coverage counters, __Vcoverage[N] in its symbol table: std::atomic<uint32_t> in
// Verilator 5.006, plain uint32_t in 5.032; cov_get/cov_set take either.
auto& counters(Inst& i) { return i.m.top().rootp->vlSymsp->__Vcoverage; }
template <class T>
uint32_t cov_get(const std::atomic<T>& c) { return c.load(std::memory_order_relaxed); }
template <class T>
uint32_t cov_get(const T& c) { return c; }
template <class T>
void cov_set(std::atomic<T>& c, uint32_t v) { c.store(v, std::memory_order_relaxed); }
template <class T>
void cov_set(T& c, uint32_t v) { c = v; }
constexpr size_t kPoints =
    sizeof(std::declval<VavicUser__Syms&>().__Vcoverage) /
    sizeof(std::declval<VavicUser__Syms&>().__Vcoverage[0]);
#else
constexpr size_t kPoints = 0;
#endif

size_t coverage_points() { return kPoints; }

void coverage_add(void* p, uint64_t* acc, size_t n) {
#if VM_COVERAGE
  auto& c = counters(*static_cast<Inst*>(p));
  for (size_t k = 0; k < n && k < kPoints; ++k) acc[k] += cov_get(c[k]);
#else
  (void)p;
  (void)acc;
  (void)n;
#endif
}

const char* coverage_write(const uint64_t* acc, size_t n, const char* path) {
  static thread_local std::string e;
  try {
#if VM_COVERAGE
    Inst i;
    auto& c = counters(i);
    for (size_t k = 0; k < kPoints; ++k) {
      const uint64_t v = k < n ? acc[k] : 0;
      cov_set(c[k], v > 0xFFFFFFFFull ? 0xFFFFFFFFu : static_cast<uint32_t>(v));
    }
    i.m.context()->coveragep()->write(path);
    return nullptr;
#else
    (void)acc;
    (void)n;
    (void)path;
    e = "this model was not built with coverage";
#endif
  } catch (const std::exception& x) {
    e = x.what();
  } catch (...) {
    e = "unknown C++ exception writing coverage";
  }
  return e.c_str();
}

const AvicUserApiV1 kApi = {
    AVIC_USER_ABI_VERSION,
    sizeof(avic::TopIn),
    sizeof(avic::TopOut),
    sizeof(avic::AutoStop),
    create,
    destroy,
    step,
    step_n,
    open_trace,
    close_trace,
    cycles,
    auto_load,
    auto_word,
    auto_in_flight,
    run_autonomous,
    coverage_points,
    coverage_add,
    coverage_write,
    avic::impl::kCores,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const AvicUserApiV1* avic_user_model_api_v1(
    void) {
  return &kApi;
}
