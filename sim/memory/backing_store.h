#pragma once
// The bytes behind a simulated memory in functional mode. HBM capacities (tens of GB) are far more
// than the host should allocate, so storage is sparse: fixed-size pages appear on first write, and
// never-written bytes read as zero. In timing-only mode no BackingStore exists at all.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "sim/memory/zeroed_buffer.h"

namespace seedchip::sim {

class BackingStore {
 public:
  // `capacity` bytes addressable; accesses beyond it throw std::out_of_range naming `name`.
  BackingStore(std::string name, uint64_t capacity);

  void read(uint64_t addr, void* dst, uint64_t bytes) const;
  void write(uint64_t addr, const void* src, uint64_t bytes);
  // Rows of `row_bytes`, `rows` of them `stride` apart from `addr`, read or written as one span:
  // the same bytes as a read() or write() per row, with one page lookup when the span lies in one
  // page. Throws std::out_of_range as read() and write() do.
  void read_rows(uint64_t addr, uint64_t rows, uint64_t row_bytes, uint64_t stride,
                 uint8_t* dst) const;
  void write_rows(uint64_t addr, uint64_t rows, uint64_t row_bytes, uint64_t stride,
                  const uint8_t* src);
  uint64_t capacity() const { return capacity_; }
  uint64_t resident_bytes() const { return pages_.size() * kPageBytes; }

  // One transparent huge page (see ZeroedBuffer).
  static constexpr uint64_t kPageBytes = uint64_t{2} << 20;

 private:
  void check(uint64_t addr, uint64_t bytes) const;
  std::string name_;
  uint64_t capacity_;
  std::unordered_map<uint64_t, ZeroedBuffer> pages_;
};

}  // namespace seedchip::sim
