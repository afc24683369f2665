// SPDX-License-Identifier: MIT OR Apache-2.0
//
// The C ABI (bindings/user_api.h) over ModelCore<VavicUser, Tfp>: compiled by harness/rtl.rs
// into a shared object together with a user's RTL verilated as `--prefix VavicUser`, so the same
// code drives any top that implements docs/port-contract.md. AVIC_USER_TRACE selects the
// flavor (0 none, 1 VCD, 2 FST); VM_COVERAGE=1 builds with Verilator's coverage counters.

#include <exception>
#include <string>

#include "VavicUser.h"
#include "verilated.h"
#if AVIC_USER_TRACE == 1
#include "verilated_vcd_c.h"
#elif AVIC_USER_TRACE == 2
#include "verilated_fst_c.h"
#endif
#if VM_COVERAGE
#include "verilated_cov.h"
#endif
#include "avic-cosim/bindings/ffi.rs.h"
#include "model_impl.h"
#include "user_api.h"
#include "vl_hooks.h"

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

void* create(const char** err) {
  static thread_local std::string e;
  try {
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

const char* write_coverage(void* p, const char* path) {
  return guard(p, [&](Inst& i) {
#if VM_COVERAGE
    i.m.context()->coveragep()->write(path);
#else
    (void)i;
    (void)path;
    throw std::runtime_error("this model was not built with coverage");
#endif
  });
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
    write_coverage,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const AvicUserApiV1* avic_user_model_api_v1(
    void) {
  return &kApi;
}
