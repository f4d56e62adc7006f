#include "sim/memory/backing_store.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace seedchip::sim {

BackingStore::BackingStore(std::string name, uint64_t capacity)
    : name_(std::move(name)), capacity_(capacity) {}

void BackingStore::check(uint64_t addr, uint64_t bytes) const {
  if (addr > capacity_ || bytes > capacity_ - addr)
    throw std::out_of_range(name_ + ": access [" + std::to_string(addr) + ", +" +
                            std::to_string(bytes) + ") beyond capacity " +
                            std::to_string(capacity_));
}

void BackingStore::read(uint64_t addr, void* dst, uint64_t bytes) const {
  check(addr, bytes);
  auto* out = static_cast<uint8_t*>(dst);
  while (bytes > 0) {
    const uint64_t page = addr / kPageBytes, offset = addr % kPageBytes;
    const uint64_t chunk = std::min(bytes, kPageBytes - offset);
    auto it = pages_.find(page);
    if (it == pages_.end())
      std::memset(out, 0, chunk);
    else
      std::memcpy(out, it->second.data() + offset, chunk);
    out += chunk;
    addr += chunk;
    bytes -= chunk;
  }
}

void BackingStore::write(uint64_t addr, const void* src, uint64_t bytes) {
  check(addr, bytes);
  const auto* in = static_cast<const uint8_t*>(src);
  while (bytes > 0) {
    const uint64_t page = addr / kPageBytes, offset = addr % kPageBytes;
    const uint64_t chunk = std::min(bytes, kPageBytes - offset);
    auto& slot = pages_[page];
    if (slot.empty()) slot = ZeroedBuffer(kPageBytes);
    std::memcpy(slot.data() + offset, in, chunk);
    in += chunk;
    addr += chunk;
    bytes -= chunk;
  }
}

namespace {
// The bytes from the first row's start to the last row's end; 0 for no rows, and the largest
// value when that does not fit 64 bits (so the rows take the per-row path, which throws).
uint64_t span_of(uint64_t rows, uint64_t row_bytes, uint64_t stride) {
  if (rows == 0) return 0;
  uint64_t span;
  if (__builtin_mul_overflow(rows - 1, stride, &span) ||
      __builtin_add_overflow(span, row_bytes, &span))
    return std::numeric_limits<uint64_t>::max();
  return span;
}
}  // namespace

void BackingStore::read_rows(uint64_t addr, uint64_t rows, uint64_t row_bytes, uint64_t stride,
                             uint8_t* dst) const {
  const uint64_t span = span_of(rows, row_bytes, stride);
  const uint64_t page = addr / kPageBytes, offset = addr % kPageBytes;
  if (rows == 0 || span > kPageBytes - offset) {
    for (uint64_t r = 0; r < rows; ++r) read(addr + r * stride, dst + r * row_bytes, row_bytes);
    return;
  }
  check(addr, span);
  auto it = pages_.find(page);
  if (it == pages_.end()) {
    std::memset(dst, 0, rows * row_bytes);
    return;
  }
  const uint8_t* from = it->second.data() + offset;
  if (stride == row_bytes) {
    std::memcpy(dst, from, rows * row_bytes);
    return;
  }
  for (uint64_t r = 0; r < rows; ++r)
    std::memcpy(dst + r * row_bytes, from + r * stride, row_bytes);
}

void BackingStore::write_rows(uint64_t addr, uint64_t rows, uint64_t row_bytes, uint64_t stride,
                              const uint8_t* src) {
  const uint64_t span = span_of(rows, row_bytes, stride);
  const uint64_t page = addr / kPageBytes, offset = addr % kPageBytes;
  if (rows == 0 || span > kPageBytes - offset) {
    for (uint64_t r = 0; r < rows; ++r) write(addr + r * stride, src + r * row_bytes, row_bytes);
    return;
  }
  check(addr, span);
  auto& slot = pages_[page];
  if (slot.empty()) slot = ZeroedBuffer(kPageBytes);
  uint8_t* to = slot.data() + offset;
  if (stride == row_bytes) {
    std::memcpy(to, src, rows * row_bytes);
    return;
  }
  // Rows may overlap (a stride smaller than a row): written in order, the last row wins, as with
  // one write() per row.
  for (uint64_t r = 0; r < rows; ++r) std::memcpy(to + r * stride, src + r * row_bytes, row_bytes);
}

}  // namespace seedchip::sim
