#pragma once
// Bank-level state of one HBM pseudo-channel: for every command, the earliest CK cycle it may issue
// under every timing gate of HbmTiming. issue() records a command and throws std::logic_error for
// a command issued before its earliest cycle or in an illegal bank state (a simulator bug).
#include <array>
#include <cstdint>
#include <vector>

#include "arch/chip_config.h"

namespace seedchip::sim {

enum class HbmCommand : uint8_t { kAct, kPre, kRd, kWr, kRefAb, kRefPb };

class HbmChannelTiming {
 public:
  static constexpr int64_t kNoRow = -1;

  explicit HbmChannelTiming(const HbmConfig& config);

  uint64_t earliest(HbmCommand command, int bank_group, int bank) const;
  void issue(HbmCommand command, int bank_group, int bank, int64_t row, uint64_t cycle);

  int64_t open_row(int bank_group, int bank) const { return bank_at(bank_group, bank).open_row; }
  // The cycle after the last data beat of a RD or WR issued at `cycle`.
  uint64_t data_end(HbmCommand column_command, uint64_t cycle) const;
  int bank_groups() const { return bank_groups_; }
  int banks_per_group() const { return banks_per_group_; }

 private:
  // Each field is the earliest cycle the named command may issue as far as this level is concerned.
  struct Bank {
    int64_t open_row = kNoRow;
    uint64_t act = 0, pre = 0, column = 0;
  };
  struct Group {
    uint64_t act = 0, rd = 0, wr = 0;
  };
  Bank& bank_at(int bank_group, int bank) { return banks_[bank_group * banks_per_group_ + bank]; }
  const Bank& bank_at(int bank_group, int bank) const {
    return banks_[bank_group * banks_per_group_ + bank];
  }

  HbmTiming t_;
  int bank_groups_;
  int banks_per_group_;
  std::vector<Bank> banks_;
  std::vector<Group> groups_;
  uint64_t act_ = 0, rd_ = 0, wr_ = 0;  // pseudo-channel level
  // ACTs are issued in cycle order, so the ring holds the last four in order; tFAW gates the fifth.
  std::array<uint64_t, 4> recent_acts_{};
  uint64_t act_count_ = 0;
};

}  // namespace seedchip::sim
