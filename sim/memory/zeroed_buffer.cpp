#include "sim/memory/zeroed_buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>
#include <utility>

namespace seedchip::sim {

namespace {
// Buffers of at least one huge page are mapped; smaller ones would only waste the rest of it.
constexpr size_t kHugePageBytes = size_t{2} << 20;
}  // namespace

ZeroedBuffer::ZeroedBuffer(size_t bytes) : size_(bytes) {
  if (bytes >= kHugePageBytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    // Advice only: where the host has transparent huge pages off, 4 KiB pages work the same.
    madvise(p, bytes, MADV_HUGEPAGE);
    data_ = static_cast<uint8_t*>(p);
    mapped_ = true;
    return;
  }
  data_ = static_cast<uint8_t*>(std::calloc(bytes == 0 ? 1 : bytes, 1));
  if (!data_) throw std::bad_alloc();
}

ZeroedBuffer::ZeroedBuffer(ZeroedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, false)) {}

ZeroedBuffer& ZeroedBuffer::operator=(ZeroedBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, false);
  }
  return *this;
}

ZeroedBuffer::~ZeroedBuffer() { release(); }

void ZeroedBuffer::release() {
  if (!data_) return;
  if (mapped_)
    munmap(data_, size_);
  else
    std::free(data_);
  data_ = nullptr;
}

}  // namespace seedchip::sim
