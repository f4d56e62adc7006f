#pragma once
// Memory-trace replay through the HBM model: requests are issued in order as fast as the
// controllers accept them, with a bounded number in flight. The trace format is Ramulator's
// LoadStoreTrace text: one 64-byte request per line, `LD 0x<hex>` or `ST 0x<hex>` (decimal too).
#include <cstdint>
#include <functional>
#include <istream>
#include <string>

#include "arch/chip_config.h"
#include "sim/stats.h"

namespace seedchip::sim {

struct MemRequest {
  uint64_t addr = 0;
  uint32_t bytes = 0;
  bool is_write = false;
};

struct MemTraceResult {
  uint64_t requests = 0;  // as pulled from the source, before any split at a row run
  uint64_t reads = 0;
  uint64_t writes = 0;
  uint64_t bytes = 0;
  uint64_t cycles = 0;  // HBM CK cycles until the last request completed
  double seconds = 0;
  double gbytes_per_s = 0;
  double peak_gbytes_per_s = 0;
  StatTree stats;  // under "hbm."
};

// Default in-flight bound: enough to cover the loaded latency of every queue of one stack.
inline constexpr uint64_t kDefaultMaxOutstanding = 4096;

// Pulls requests from `next` (false when exhausted); one that crosses a row run is split. An
// address beyond capacity is an InputError.
MemTraceResult replay_requests(const std::function<bool(MemRequest&)>& next,
                               const HbmConfig& config,
                               uint64_t max_outstanding = kDefaultMaxOutstanding);

// Streams `in` line by line through one stack (config.stacks is forced to 1). Blank lines and
// lines starting with '#' are skipped; a malformed line or an address beyond the stack's capacity
// is an InputError "<filename>:<line>: ...".
MemTraceResult replay_mem_trace(std::istream& in, const std::string& filename,
                                const HbmConfig& config,
                                uint64_t max_outstanding = kDefaultMaxOutstanding);

}  // namespace seedchip::sim
