// SPDX-License-Identifier: MIT OR Apache-2.0
//
// A flat word memory and the 1-cycle-latency responder of avic_top's memory ports, written
// against the Verilated model's raw signals (any of the plain, VCD and FST builds: their ports
// are the same). Shared by the pure C++ testbench (tb/cpp/avic_tb.cpp) and the shim's batched
// mode (Model::run_autonomous), so both answer the RTL exactly as `Dut::step` does with
// `latency = 1`: before each edge, a port whose request was accepted at an earlier edge
// completes (rsp_valid, rdata = the word before the transaction), otherwise an offered request
// is accepted (req_ready). A port never completes and accepts in the same cycle.

#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "verilated.h"

namespace avic_tb {

// Most cores a model may have (bindings/ffi.rs's port arrays, harness/dut.rs's MAX_CORES).
constexpr unsigned kMaxCores = 8;
constexpr unsigned kPorts = 3;
constexpr unsigned kAllPorts = kMaxCores * kPorts;

// Packed-array field access. Verilator stores ports of up to 64 bits as integers and wider
// ones as VlWide<N> (32-bit words, least significant first).
template <typename T>
inline uint64_t get_bits(const T& v, unsigned lsb, unsigned width) {
  const uint64_t m = width >= 64 ? ~0ULL : ((1ULL << width) - 1);
  return (static_cast<uint64_t>(v) >> lsb) & m;
}
template <std::size_t W>
inline uint64_t get_bits(const VlWide<W>& v, unsigned lsb, unsigned width) {
  const uint64_t m = width >= 64 ? ~0ULL : ((1ULL << width) - 1);
  const unsigned w0 = lsb / 32, off = lsb % 32;
  uint64_t lo = v[w0];
  if (w0 + 1 < W) lo |= static_cast<uint64_t>(v[w0 + 1]) << 32;
  uint64_t r = lo >> off;
  if (off != 0 && off + width > 64 && w0 + 2 < W) r |= static_cast<uint64_t>(v[w0 + 2]) << (64 - off);
  return r & m;
}
template <typename T>
inline void set_bits(T& v, unsigned lsb, unsigned width, uint64_t x) {
  const uint64_t m = (width >= 64 ? ~0ULL : ((1ULL << width) - 1)) << lsb;
  v = static_cast<T>((static_cast<uint64_t>(v) & ~m) | ((x << lsb) & m));
}
template <std::size_t W>
inline void set_bits(VlWide<W>& v, unsigned lsb, unsigned width, uint64_t x) {
  for (unsigned done = 0; done < width;) {
    const unsigned b = lsb + done, w = b / 32, off = b % 32;
    const unsigned n = std::min(32 - off, width - done);
    const uint32_t m = (n == 32 ? 0xFFFFFFFFu : ((1u << n) - 1)) << off;
    v[w] = (v[w] & ~m) | (static_cast<uint32_t>((x >> done) << off) & m);
    done += n;
  }
}

// avic_pkg::mem_op_e.
enum : uint8_t { kRead = 0, kWrite = 1, kLockSet = 2, kLockClr = 3 };

inline uint64_t byte_mask(uint8_t m) {
  uint64_t r = 0;
  for (unsigned b = 0; b < 8; ++b)
    if ((m >> b) & 1) r |= 0xFFULL << (8 * b);
  return r;
}

// Word-addressed memory; addresses are byte addresses of 8-byte words.
class Memory {
 public:
  explicit Memory(uint64_t bytes = 0) : w_((bytes + 7) / 8, 0) {}

  uint64_t& at(uint64_t addr) { return w_[index(addr)]; }
  uint64_t at(uint64_t addr) const { return w_[index(addr)]; }
  uint64_t size_bytes() const { return w_.size() * 8; }
  std::vector<uint64_t>& words() { return w_; }

  // Performs one port operation; returns the word before it.
  uint64_t perform(uint8_t op, uint64_t addr, uint64_t wdata, uint8_t mask) {
    uint64_t& w = at(addr);
    const uint64_t old = w;
    switch (op & 3) {
      case kRead: break;
      case kWrite: {
        const uint64_t m = byte_mask(mask);
        w = (old & ~m) | (wdata & m);
        break;
      }
      case kLockSet: w = old | wdata; break;
      default: w = old & ~wdata; break;
    }
    return old;
  }

 private:
  size_t index(uint64_t addr) const {
    if ((addr & 7) != 0 || (addr >> 3) >= w_.size()) {
      char msg[96];
      std::snprintf(msg, sizeof msg, "port access to %#llx: misaligned or beyond %#llx bytes",
                    static_cast<unsigned long long>(addr),
                    static_cast<unsigned long long>(w_.size() * 8));
      throw std::runtime_error(msg);
    }
    return static_cast<size_t>(addr >> 3);
  }

  std::vector<uint64_t> w_;
};

// The responder. `service` runs before each clock edge, on the outputs after the previous one.
template <class V>
class Responder {
 public:
  void service(V& t, Memory& mem, uint64_t cycle) {
    const uint32_t valid = t.mem_req_valid_o;
    uint32_t todo = busy_ | valid;
    uint32_t ready = 0, rsp = 0;
    while (todo != 0) {
      const unsigned i = static_cast<unsigned>(__builtin_ctz(todo));
      todo &= todo - 1;
      Flight& f = f_[i];
      if ((busy_ >> i) & 1) {
        if (cycle >= f.accepted + 1) {
          const uint64_t old = mem.perform(f.op, f.addr, f.wdata, f.mask);
          t.mem_rsp_rdata_i[2 * i] = static_cast<uint32_t>(old);
          t.mem_rsp_rdata_i[2 * i + 1] = static_cast<uint32_t>(old >> 32);
          rsp |= 1u << i;
          busy_ &= ~(1u << i);
        }
      } else {
        f.op = static_cast<uint8_t>(get_bits(t.mem_req_op_o, 2 * i, 2));
        f.addr = static_cast<uint64_t>(t.mem_req_addr_o[2 * i]) |
                 static_cast<uint64_t>(t.mem_req_addr_o[2 * i + 1]) << 32;
        f.wdata = static_cast<uint64_t>(t.mem_req_wdata_o[2 * i]) |
                  static_cast<uint64_t>(t.mem_req_wdata_o[2 * i + 1]) << 32;
        f.mask = static_cast<uint8_t>(get_bits(t.mem_req_mask_o, 8 * i, 8));
        f.accepted = cycle;
        busy_ |= 1u << i;
        ready |= 1u << i;
      }
    }
    t.mem_req_ready_i = static_cast<std::decay_t<decltype(t.mem_req_ready_i)>>(ready);
    t.mem_rsp_valid_i = static_cast<std::decay_t<decltype(t.mem_rsp_valid_i)>>(rsp);
  }

  // Ports with an accepted transaction not yet completed (bit core * 3 + port).
  uint32_t in_flight() const { return busy_; }
  void clear() { busy_ = 0; }

 private:
  struct Flight {
    uint64_t addr = 0, wdata = 0, accepted = 0;
    uint8_t op = 0, mask = 0;
  };
  Flight f_[kAllPorts];
  uint32_t busy_ = 0;
};

}  // namespace avic_tb
