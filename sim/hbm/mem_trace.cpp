#include "sim/hbm/mem_trace.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "arch/error.h"
#include "sim/clock.h"
#include "sim/event_queue.h"
#include "sim/hbm/address_mapping.h"
#include "sim/hbm/hbm_system.h"

namespace seedchip::sim {

namespace {

constexpr uint32_t kTraceRequestBytes = 64;  // fixed by the LoadStoreTrace format

// Parses "LD 0x1f40" / "ST 8000"; false when the line is not of that form.
bool parse_line(const std::string& line, MemRequest& out) {
  size_t pos = 0;
  auto skip_space = [&] {
    while (pos < line.size() && std::isspace(static_cast<unsigned char>(line[pos]))) ++pos;
  };
  skip_space();
  const std::string op = line.substr(pos, 2);
  if (op != "LD" && op != "ST") return false;
  pos += 2;
  if (pos >= line.size() || !std::isspace(static_cast<unsigned char>(line[pos]))) return false;
  skip_space();
  int base = 10;
  if (line.compare(pos, 2, "0x") == 0 || line.compare(pos, 2, "0X") == 0) {
    base = 16;
    pos += 2;
  }
  const char* begin = line.data() + pos;
  const char* end = line.data() + line.size();
  uint64_t addr = 0;
  auto [rest, error] = std::from_chars(begin, end, addr, base);
  if (error != std::errc() || rest == begin) return false;
  for (; rest != end; ++rest)
    if (!std::isspace(static_cast<unsigned char>(*rest))) return false;
  out.addr = addr;
  out.bytes = kTraceRequestBytes;
  out.is_write = op == "ST";
  return true;
}

}  // namespace

MemTraceResult replay_requests(const std::function<bool(MemRequest&)>& next,
                               const HbmConfig& config, uint64_t max_outstanding) {
  MemTraceResult result;
  EventQueue events;
  const ClockPlan clocks = ClockPlan::from_mhz({{"hbm", config.clock_mhz}});
  const ClockDomain& clock = clocks.domain("hbm");
  HbmSystem hbm(config, events, clock, result.stats, "hbm", nullptr, 0);

  MemRequest pending;
  bool have_pending = false;
  bool exhausted = false;
  uint64_t outstanding = 0;
  Tick last_tick = 0;
  std::function<void()> pump = [&] {
    while (outstanding < max_outstanding) {
      if (!have_pending) {
        if (exhausted || !next(pending)) {
          exhausted = true;
          return;
        }
        have_pending = true;
      }
      // A request that crosses a row run goes as one HBM request per run.
      const auto piece = static_cast<uint32_t>(
          std::min<uint64_t>(pending.bytes, hbm.contiguous_bytes(pending.addr)));
      HbmRequest request{pending.addr, piece, pending.is_write, [&](Tick tick) {
                           --outstanding;
                           last_tick = tick;
                           pump();
                         }};
      if (!hbm.try_submit(std::move(request))) return;  // the space listener resumes
      ++outstanding;
      result.bytes += piece;
      pending.addr += piece;
      pending.bytes -= piece;
      if (pending.bytes == 0) {
        have_pending = false;
        ++result.requests;
        ++(pending.is_write ? result.writes : result.reads);
      }
    }
  };
  hbm.add_space_listener([&] { pump(); });
  pump();
  events.run();
  hbm.settle();

  result.cycles = clock.cycle_at(last_tick);
  result.seconds = static_cast<double>(result.cycles) / (config.clock_mhz * 1e6);
  result.gbytes_per_s =
      result.seconds > 0 ? static_cast<double>(result.bytes) / result.seconds / 1e9 : 0;
  result.peak_gbytes_per_s = hbm.peak_bytes_per_second() / 1e9;
  return result;
}

MemTraceResult replay_mem_trace(std::istream& in, const std::string& filename,
                                const HbmConfig& config, uint64_t max_outstanding) {
  HbmConfig one_stack = config;
  one_stack.stacks = 1;
  std::string line;
  uint64_t line_number = 0;
  const uint64_t capacity = make_hbm_address_mapping(one_stack)->capacity_bytes();
  auto next = [&](MemRequest& request) {
    while (std::getline(in, line)) {
      ++line_number;
      const size_t first = line.find_first_not_of(" \t\r");
      if (first == std::string::npos || line[first] == '#') continue;
      const std::string where = filename + ":" + std::to_string(line_number) + ": ";
      if (!parse_line(line, request))
        throw InputError(where + "expected 'LD 0x<address>' or 'ST 0x<address>', got '" + line +
                         "'");
      request.addr -= request.addr % kTraceRequestBytes;
      if (request.addr >= capacity)
        throw InputError(where + "address " + line.substr(first + 3) +
                         " lies beyond the capacity of one stack (" + std::to_string(capacity) +
                         " bytes)");
      return true;
    }
    return false;
  };
  return replay_requests(next, one_stack, max_outstanding);
}

}  // namespace seedchip::sim
