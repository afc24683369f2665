// SPDX-License-Identifier: MIT OR Apache-2.0
//
// Verilator `--savable` serialization to and from a memory buffer (no file), for branching
// from saved RTL state (harness/world.rs `Snapshot`). Verilator's own VerilatedSave and
// VerilatedRestore write files; these subclasses keep the bytes in memory. Both own a 256 KiB
// staging buffer (allocated by Verilator's base class), so a model keeps one of each and
// reuses them: a save or restore then allocates nothing once the output vector has grown.
//
// What is saved: the root module's signals and, because the generated `__Vserialize` writes
// it, the plain-data block of the model's VerilatedContext (assertion and error flags, time)
// plus two strings. Restoring that block into another context of the same configuration is
// harmless; ModelCore (bindings/model_impl.h) prepends its cycle count.

#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "verilated.h"
#include "verilated_save.h"

namespace avic {
namespace impl {

// Serializes into a growing memory buffer.
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
    m_isOpen = false;
  }
  void flush() override {
    buf.insert(buf.end(), m_bufp, m_cp);
    m_cp = m_bufp;
  }
};

// Deserializes from a memory buffer. Reading past the end yields zeros (as VerilatedRestore
// pads), which the trailer check then rejects.
class MemRestore final : public VerilatedDeserialize {
  const uint8_t* src_ = nullptr;
  size_t len_ = 0;
  size_t pos_ = 0;

protected:
  void fill() override {
    const size_t keep = static_cast<size_t>(m_endp - m_cp);
    std::memmove(m_bufp, m_cp, keep);
    m_endp = m_bufp + keep;
    m_cp = m_bufp;
    const size_t room = static_cast<size_t>(m_bufp + bufferSize() - m_endp);
    const size_t n = std::min(room, len_ - pos_);
    if (n) std::memcpy(m_endp, src_ + pos_, n);
    pos_ += n;
    m_endp += n;
    if (pos_ == len_) {
      const size_t pad = std::min(static_cast<size_t>(m_bufp + bufferSize() - m_endp),
                                  bufferInsertSize());
      std::memset(m_endp, 0, pad);
      m_endp += pad;
    }
  }

public:
  void begin(const uint8_t* src, size_t len) {
    src_ = src;
    len_ = len;
    pos_ = 0;
    m_cp = m_bufp;
    m_endp = m_bufp;
    m_isOpen = true;
    header();
  }
  void end() {
    trailer();
    m_isOpen = false;
  }
};

}  // namespace impl
}  // namespace avic
