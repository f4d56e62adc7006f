#pragma once
// A fixed-size zero-filled byte buffer from calloc: large ones come straight from the kernel as
// untouched zero pages, so a simulated memory that is mostly never written (16 cores x 8 MiB of
// SRAM, 1 MiB HBM pages) costs no memset and no page faults for the parts a run leaves alone.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

namespace seedchip::sim {

class ZeroedBuffer {
 public:
  ZeroedBuffer() = default;
  explicit ZeroedBuffer(size_t bytes)
      : data_(static_cast<uint8_t*>(std::calloc(bytes == 0 ? 1 : bytes, 1))), size_(bytes) {
    if (!data_) throw std::bad_alloc();
  }
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t size_ = 0;
};

}  // namespace seedchip::sim
