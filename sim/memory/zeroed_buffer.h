#pragma once
// A fixed-size zero-filled byte buffer. Large ones are anonymous mappings, untouched zero pages
// straight from the kernel, so a simulated memory that is mostly never written (16 cores x 8 MiB
// of SRAM, 2 MiB HBM pages) costs no memset and no page faults for the parts a run leaves alone;
// they ask for transparent huge pages, so the parts a run does touch fault in once per 2 MiB rather
// than once per 4 KiB (a functional 4096^3 GEMM touches ~250 MiB). Small ones come from calloc.
#include <cstddef>
#include <cstdint>

namespace seedchip::sim {

class ZeroedBuffer {
 public:
  ZeroedBuffer() = default;
  // Throws std::bad_alloc when the host cannot provide `bytes`.
  explicit ZeroedBuffer(size_t bytes);
  ZeroedBuffer(ZeroedBuffer&& other) noexcept;
  ZeroedBuffer& operator=(ZeroedBuffer&& other) noexcept;
  ZeroedBuffer(const ZeroedBuffer&) = delete;
  ZeroedBuffer& operator=(const ZeroedBuffer&) = delete;
  ~ZeroedBuffer();

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
};

}  // namespace seedchip::sim
