// SPDX-License-Identifier: MIT OR Apache-2.0
//
// The memory image and reset of the C++ testbenches (avic_tb.cpp, snapshot.cpp): the layout of
// apic::VmLayout::default() and apic::PhysEntry::encode(), vCPUs 0..3 with vCPU 2 not running,
// APM configuration, core c runs vCPU c, cores 0 and 1 in guest mode.
#pragma once
#include <cstdint>

#include "responder.h"

namespace avic_tb {

// The stimulus is written for avic_top's default four cores (the build tb/cpp/Makefile makes).
constexpr unsigned kCores = 4;

constexpr uint64_t kPhysTable = 0x1000;
constexpr uint64_t kLogTable = 0x2000;
constexpr uint64_t kBackingBase = 0x10000;
constexpr uint64_t backing(unsigned id) { return kBackingBase + 0x1000ULL * id; }
constexpr uint64_t phys_entry(bool valid, bool running, uint64_t back, uint64_t host) {
  return (uint64_t(valid) << 63) | (uint64_t(running) << 62) | (back & 0x000FFFFFFFFFF000ULL) |
         (host & 0xFFF);
}

// Writes the tables into `mem` (sized backing(8)), sets the configuration inputs of `t` and
// holds reset for two calls of `clock`.
template <typename V, typename Clock>
void setup(V& t, Memory& mem, Clock clock) {
  static_assert(sizeof(t.backing_i) == kCores * 8, "tb/cpp expects a 4-core build");
  mem.at(kPhysTable + 0) = phys_entry(true, true, backing(0), 0);
  mem.at(kPhysTable + 8) = phys_entry(true, true, backing(1), 1);
  mem.at(kPhysTable + 16) = phys_entry(true, false, backing(2), 2);
  mem.at(kPhysTable + 24) = phys_entry(true, true, backing(3), 3);
  t.cfg_atomic_irr_i = 1;
  t.phys_base_i = kPhysTable;
  t.phys_max_idx_i = 3;
  t.log_base_i = kLogTable;
  t.guest_mode_i = 0b0011;
  t.intr_ready_i = 0b1111;
  t.self_idx_i = 0x03020100;
  for (unsigned c = 0; c < kCores; ++c) {
    t.backing_i[2 * c] = static_cast<uint32_t>(backing(c));
    t.backing_i[2 * c + 1] = static_cast<uint32_t>(backing(c) >> 32);
  }
  t.rst_ni = 0;
  clock();
  clock();
  t.rst_ni = 1;
}

}  // namespace avic_tb
