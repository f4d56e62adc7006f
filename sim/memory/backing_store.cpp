#include "sim/memory/backing_store.h"

#include <algorithm>
#include <cstring>
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

}  // namespace seedchip::sim
