#include "sim/core/sram_banks.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace seedchip::sim {

SramBanks::SramBanks(const SramConfig& config, const ClockDomain& clock)
    : banks_(static_cast<uint64_t>(config.banks)),
      width_(static_cast<uint64_t>(config.bank_width_bytes)),
      clock_(&clock),
      reservations_(banks_) {}

void SramBanks::add_range(std::vector<uint64_t>& per_bank, uint64_t addr, uint64_t bytes) const {
  const uint64_t stripe = banks_ * width_;
  const uint64_t full_stripes = bytes / stripe;
  if (full_stripes != 0)
    for (uint64_t& b : per_bank) b += full_stripes * width_;
  // The rest covers less than one stripe: at most banks + 1 partial chunks.
  uint64_t pos = addr + full_stripes * stripe;
  uint64_t left = bytes % stripe;
  while (left != 0) {
    const uint64_t chunk = std::min(left, width_ - pos % width_);
    per_bank[(pos / width_) % banks_] += chunk;
    pos += chunk;
    left -= chunk;
  }
}

void SramBanks::add_rows(std::vector<uint64_t>& per_bank, const SramRange& range) const {
  if (range.rows == 0 || range.row_bytes == 0) return;
  if (range.rows == 1 || range.stride == range.row_bytes) {
    add_range(per_bank, range.addr, range.rows * range.row_bytes);
    return;
  }
  // Row start addresses repeat their bank offset every `period` rows, so one period is counted
  // exactly and multiplied: the cost is bounded by the period, not by the row count.
  const uint64_t stripe = banks_ * width_;
  const uint64_t period = stripe / std::gcd(range.stride % stripe, stripe);
  const uint64_t counted = std::min(range.rows, period);
  std::vector<uint64_t> one_period(banks_, 0);
  for (uint64_t r = 0; r < counted; ++r)
    add_range(one_period, range.addr + r * range.stride, range.row_bytes);
  const uint64_t repeats = range.rows / counted;
  for (uint64_t b = 0; b < banks_; ++b) per_bank[b] += one_period[b] * repeats;
  for (uint64_t r = 0; r < range.rows % counted; ++r)
    add_range(per_bank, range.addr + r * range.stride, range.row_bytes);
}

std::vector<uint64_t> SramBanks::bytes_per_bank(const std::vector<SramRange>& ranges) const {
  std::vector<uint64_t> per_bank(banks_, 0);
  for (const SramRange& range : ranges) add_rows(per_bank, range);
  return per_bank;
}

double SramBanks::finish_cycles(std::vector<Reservation>& bank, Tick start, uint64_t work) const {
  std::erase_if(bank, [start](const Reservation& r) { return r.end <= start; });
  std::sort(bank.begin(), bank.end(),
            [](const Reservation& a, const Reservation& b) { return a.end < b.end; });
  double used = 0;
  for (const Reservation& r : bank) used += r.rate;
  double need = static_cast<double>(work);
  double t = 0;  // cycles after start
  for (const Reservation& r : bank) {
    const double segment_end = static_cast<double>(r.end - start) / clock_->period();
    const double free = std::max(0.0, 1.0 - used);
    if (free * (segment_end - t) >= need) return t + need / free;
    need -= free * (segment_end - t);
    used -= r.rate;
    t = segment_end;
  }
  return t + need;
}

uint64_t SramBanks::access(Tick start, uint64_t window_cycles,
                           const std::vector<SramRange>& ranges) {
  const std::vector<uint64_t> per_bank = bytes_per_bank(ranges);
  uint64_t cycles = window_cycles;
  for (uint64_t b = 0; b < banks_; ++b) {
    if (per_bank[b] == 0) continue;
    const uint64_t work = (per_bank[b] + width_ - 1) / width_;
    // A tolerance keeps float noise from adding a cycle to an exact finish.
    const double finish = finish_cycles(reservations_[b], start, work);
    cycles = std::max(cycles, static_cast<uint64_t>(std::ceil(finish - 1e-9)));
  }
  if (cycles == 0) return 0;
  const Tick end = start + clock_->ticks(cycles);
  for (uint64_t b = 0; b < banks_; ++b) {
    if (per_bank[b] == 0) continue;
    const double work = static_cast<double>((per_bank[b] + width_ - 1) / width_);
    reservations_[b].push_back({end, work / static_cast<double>(cycles)});
  }
  return cycles;
}

}  // namespace seedchip::sim
