// SPDX-License-Identifier: MIT OR Apache-2.0
//
// The C ABI of a user's RTL built at run time (harness/rtl.rs): the shared object exports one
// function, `avic_user_model_api_v1`, returning this table. Everything crossing it is plain data
// (the shared structs of bindings/ffi.rs, whose layout the table reports so a mismatch is caught
// before the first call); errors come back as C strings owned by the instance (valid until its
// next call) instead of exceptions. Mirrored by `rtl::ApiV1` on the Rust side.

#pragma once

#include <cstddef>
#include <cstdint>

#define AVIC_USER_ABI_VERSION 1u

namespace avic {
struct TopIn;
struct TopOut;
struct AutoStop;
}  // namespace avic

extern "C" {

struct AvicUserApiV1 {
  uint32_t abi_version;     // AVIC_USER_ABI_VERSION
  uint32_t size_top_in;     // sizeof(avic::TopIn)
  uint32_t size_top_out;    // sizeof(avic::TopOut)
  uint32_t size_auto_stop;  // sizeof(avic::AutoStop)
  // A new instance; null with *err set on failure.
  void* (*create)(const char** err);
  void (*destroy)(void* m);
  // Each returns null on success, else an error message owned by the instance.
  const char* (*step)(void* m, const avic::TopIn* in, avic::TopOut* out);
  const char* (*step_n)(void* m, const avic::TopIn* in, uint64_t n, avic::TopOut* out);
  const char* (*open_trace)(void* m, const char* path);
  void (*close_trace)(void* m);
  uint64_t (*cycles)(const void* m);
  void (*auto_load)(void* m, const uint64_t* words, size_t n);
  const char* (*auto_word)(void* m, uint64_t addr, uint64_t* word);
  uint32_t (*auto_in_flight)(const void* m);
  const char* (*run_autonomous)(void* m, const avic::TopIn* in, uint64_t n,
                                const avic::AutoStop* stop, avic::TopOut* out, uint64_t* ran);
  // Coverage builds (0 points otherwise): the number of counters; adds an instance's counters
  // to acc[0..n); writes acc (saturated to 32 bits) in Verilator's coverage.dat format through
  // a fresh instance (error string owned by the calling thread).
  size_t (*coverage_points)(void);
  void (*coverage_add)(void* m, uint64_t* acc, size_t n);
  const char* (*coverage_write)(const uint64_t* acc, size_t n, const char* path);
  // The NumCores the design was verilated with (AVIC_NUM_CORES, checked against its ports).
  uint32_t num_cores;
};

const AvicUserApiV1* avic_user_model_api_v1(void);
}
