#include "sim/hbm/hbm_timing.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace seedchip::sim {

namespace {

uint64_t cycles(int64_t value) { return static_cast<uint64_t>(value); }

void raise(uint64_t& gate, uint64_t cycle) { gate = std::max(gate, cycle); }

const char* command_name(HbmCommand command) {
  switch (command) {
    case HbmCommand::kAct:
      return "ACT";
    case HbmCommand::kPre:
      return "PRE";
    case HbmCommand::kRd:
      return "RD";
    case HbmCommand::kWr:
      return "WR";
    case HbmCommand::kRefAb:
      return "REFab";
    case HbmCommand::kRefPb:
      return "REFpb";
  }
  return "?";
}

}  // namespace

HbmChannelTiming::HbmChannelTiming(const HbmConfig& config)
    : t_(config.timing),
      bank_groups_(static_cast<int>(config.bank_groups)),
      banks_per_group_(static_cast<int>(config.banks_per_group)),
      banks_(static_cast<size_t>(config.bank_groups * config.banks_per_group)),
      groups_(static_cast<size_t>(config.bank_groups)) {}

uint64_t HbmChannelTiming::earliest(HbmCommand command, int bank_group, int bank) const {
  const Bank& b = bank_at(bank_group, bank);
  const Group& g = groups_[bank_group];
  switch (command) {
    case HbmCommand::kAct: {
      uint64_t cycle = std::max({b.act, g.act, act_});
      if (act_count_ >= recent_acts_.size())
        cycle = std::max(cycle, recent_acts_[act_count_ % recent_acts_.size()] + cycles(t_.tFAW));
      return cycle;
    }
    case HbmCommand::kPre:
      return b.pre;
    case HbmCommand::kRd:
      return std::max({b.column, g.rd, rd_});
    case HbmCommand::kWr:
      return std::max({b.column, g.wr, wr_});
    case HbmCommand::kRefAb: {
      uint64_t cycle = 0;
      for (const Bank& each : banks_) cycle = std::max(cycle, each.act);
      return cycle;
    }
    case HbmCommand::kRefPb:
      return std::max(b.act, act_);
  }
  return 0;
}

uint64_t HbmChannelTiming::data_end(HbmCommand column_command, uint64_t cycle) const {
  const int64_t latency = column_command == HbmCommand::kWr ? t_.tCWL : t_.tCL;
  return cycle + cycles(latency + t_.tBL);
}

void HbmChannelTiming::issue(HbmCommand command, int bank_group, int bank, int64_t row,
                             uint64_t cycle) {
  const uint64_t allowed = earliest(command, bank_group, bank);
  Bank& b = bank_at(bank_group, bank);
  const bool open = b.open_row != kNoRow;
  const bool needs_open =
      command == HbmCommand::kRd || command == HbmCommand::kWr || command == HbmCommand::kPre;
  bool all_closed = true;
  if (command == HbmCommand::kRefAb)
    for (const Bank& each : banks_) all_closed = all_closed && each.open_row == kNoRow;
  if (cycle < allowed || open != needs_open || !all_closed)
    throw std::logic_error(std::string("HBM ") + command_name(command) + " to bank group " +
                           std::to_string(bank_group) + " bank " + std::to_string(bank) +
                           " at cycle " + std::to_string(cycle) + " violates timing (earliest " +
                           std::to_string(allowed) + ") or bank state");
  Group& g = groups_[bank_group];
  const uint64_t column_gap = cycles(std::max(t_.tCCD_S, t_.tBL));
  switch (command) {
    case HbmCommand::kAct:
      b.open_row = row;
      raise(b.act, cycle + cycles(t_.tRC));
      raise(b.pre, cycle + cycles(t_.tRAS));
      raise(b.column, cycle + cycles(t_.tRCD));
      raise(g.act, cycle + cycles(t_.tRRD_L));
      raise(act_, cycle + cycles(t_.tRRD_S));
      recent_acts_[act_count_++ % recent_acts_.size()] = cycle;
      break;
    case HbmCommand::kPre:
      b.open_row = kNoRow;
      raise(b.act, cycle + cycles(t_.tRP));
      break;
    case HbmCommand::kRd:
      raise(b.pre, cycle + cycles(t_.tRTP));
      raise(g.rd, cycle + cycles(t_.tCCD_L));
      raise(rd_, cycle + column_gap);
      raise(wr_, cycle + cycles(t_.tRTW));
      break;
    case HbmCommand::kWr: {
      const uint64_t data_done = data_end(HbmCommand::kWr, cycle);
      raise(b.pre, data_done + cycles(t_.tWR));
      raise(g.wr, cycle + cycles(t_.tCCD_L));
      raise(g.rd, data_done + cycles(t_.tWTR_L));
      raise(wr_, cycle + column_gap);
      raise(rd_, data_done + cycles(t_.tWTR_S));
      break;
    }
    case HbmCommand::kRefAb:
      for (Bank& each : banks_) raise(each.act, cycle + cycles(t_.tRFC));
      break;
    case HbmCommand::kRefPb:
      raise(b.act, cycle + cycles(t_.tRFCpb));
      raise(act_, cycle + cycles(t_.tRREFD));
      break;
  }
}

}  // namespace seedchip::sim
