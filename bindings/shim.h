// SPDX-License-Identifier: MIT OR Apache-2.0
// C++ side of the cxx bridge in bindings/ffi.rs: one class over the four Verilated builds.
#pragma once
#include <cstdint>
#include <memory>
#include "rust/cxx.h"

namespace avic {

struct TopIn;
struct TopOut;
struct AutoStop;
enum class ModelKind : uint8_t;

class Model {
public:
  virtual ~Model() = default;
  virtual void step(const TopIn& in, TopOut& out) = 0;
  virtual void step_n(const TopIn& in, uint64_t n, TopOut& out) = 0;
  virtual void open_trace(rust::Str path) = 0;
  virtual void close_trace() = 0;
  virtual uint64_t cycles() const = 0;
  virtual void auto_load(rust::Slice<const uint64_t> words) = 0;
  virtual uint64_t auto_word(uint64_t addr) const = 0;
  virtual uint32_t auto_in_flight() const = 0;
  virtual uint64_t run_autonomous(const TopIn& in, uint64_t n, const AutoStop& stop,
                                  TopOut& out) = 0;
  virtual size_t save(rust::Slice<uint8_t> out) const = 0;
  virtual void restore(rust::Slice<const uint8_t> state) = 0;
};

std::unique_ptr<Model> new_model(ModelKind kind);
size_t num_cores();

}  // namespace avic
