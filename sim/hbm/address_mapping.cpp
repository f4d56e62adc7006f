#include "sim/hbm/address_mapping.h"

#include <array>
#include <bit>

#include "arch/error.h"

namespace seedchip::sim {

namespace {

enum class Field : uint8_t { kStack, kChannel, kPseudoChannel, kBankGroup, kBank, kRow, kColumn };

// How a mapping permutes its digits after the mixed-radix split. Every permutation offsets a field
// modulo its count by a function of more significant digits only, so the mapping stays one-to-one.
enum class Hash : uint8_t {
  kNone,
  // Bank group and bank offset by the low digits of the row: rows that share a bank index
  // spread over banks.
  kBanks,
  // Every field but row and column offset by a hash of the digits above it in `order`: a
  // power-of-two stride (rows of a matrix) no longer lands on one stack, channel or bank.
  kSpread,
};

// Mixed-radix mapping: the fields of `order` (most to least significant) divide the address in
// units of hbm.access_bytes, then `hash` permutes the digits.
class FieldOrderMapping : public HbmAddressMapping {
 public:
  FieldOrderMapping(const HbmConfig& config, const std::vector<Field>& most_to_least, Hash hash)
      : access_bytes_(static_cast<uint64_t>(config.access_bytes)),
        row_bytes_(static_cast<uint64_t>(config.row_bytes)),
        hash_(hash),
        order_(most_to_least.rbegin(), most_to_least.rend()) {
    if (config.row_bytes % config.access_bytes != 0)
      throw InputError("hbm.row_bytes: " + std::to_string(config.row_bytes) +
                       " is not a multiple of hbm.access_bytes (" +
                       std::to_string(config.access_bytes) + ")");
    const uint64_t stack_bytes = static_cast<uint64_t>(config.stack_gbytes) << 30;
    const uint64_t row_set_bytes =
        static_cast<uint64_t>(config.channels * config.pseudo_channels * config.bank_groups *
                              config.banks_per_group) *
        row_bytes_;
    const uint64_t rows = stack_bytes / row_set_bytes;
    if (rows == 0)
      throw InputError("hbm.stack_gbytes: " + std::to_string(config.stack_gbytes) +
                       " GiB holds less than one row per bank");
    counts_ = {static_cast<uint64_t>(config.stacks),
               static_cast<uint64_t>(config.channels),
               static_cast<uint64_t>(config.pseudo_channels),
               static_cast<uint64_t>(config.bank_groups),
               static_cast<uint64_t>(config.banks_per_group),
               rows,
               row_bytes_ / access_bytes_};
    capacity_ = static_cast<uint64_t>(config.stacks) * rows * row_set_bytes;
    for (size_t i = 0; i < counts_.size(); ++i)
      if (std::has_single_bit(counts_[i])) mask_[i] = counts_[i] - 1;
    if (std::has_single_bit(access_bytes_)) access_shift_ = std::countr_zero(access_bytes_);
  }

  HbmAddress decode(uint64_t addr) const override {
    std::array<uint64_t, 7> value{};
    uint64_t rest = access_shift_ >= 0 ? addr >> access_shift_ : addr / access_bytes_;
    for (Field field : order_) {
      const auto i = static_cast<size_t>(field);
      value[i] = mod(rest, i);
      rest = mask_[i] ? rest >> std::countr_one(mask_[i]) : rest / counts_[i];
    }
    if (hash_ == Hash::kSpread) {
      // `above` is the number formed by the digits more significant than the field; a
      // multiplicative hash of it gives each field an offset uncorrelated with the others'.
      uint64_t above = 0;
      for (auto f = order_.rbegin(); f != order_.rend(); ++f) {
        const auto i = static_cast<size_t>(*f);
        const uint64_t digit = value[i];
        if (*f != Field::kRow && *f != Field::kColumn)
          value[i] = mod(digit + ((above * 0x9E3779B97F4A7C15ull) >> 40), i);
        above = above * counts_[i] + digit;
      }
    }
    HbmAddress a;
    a.stack = static_cast<int>(value[0]);
    a.channel = static_cast<int>(value[1]);
    a.pseudo_channel = static_cast<int>(value[2]);
    a.row = static_cast<int64_t>(value[5]);
    a.column = static_cast<int64_t>(value[6]);
    uint64_t bank_group = value[3];
    uint64_t bank = value[4];
    if (hash_ == Hash::kBanks) {
      const uint64_t groups = counts_[3];
      bank_group = mod(bank_group + value[5], 3);
      bank = mod(bank + value[5] / groups, 4);
    }
    a.bank_group = static_cast<int>(bank_group);
    a.bank = static_cast<int>(bank);
    return a;
  }

  uint64_t contiguous_bytes(uint64_t addr) const override {
    const uint64_t run = order_.front() == Field::kColumn ? row_bytes_ : access_bytes_;
    return run - addr % run;
  }

  uint64_t capacity_bytes() const override { return capacity_; }

 private:
  // x mod the count of field i: a mask for the usual power-of-two counts (decode runs for every
  // HBM request, and 64-bit division dominated it).
  uint64_t mod(uint64_t x, size_t i) const { return mask_[i] ? x & mask_[i] : x % counts_[i]; }

  uint64_t access_bytes_;
  uint64_t row_bytes_;
  Hash hash_;
  std::vector<Field> order_;  // least significant first
  std::array<uint64_t, 7> counts_{};
  std::array<uint64_t, 7> mask_{};  // count - 1 where the count is a power of two (> 1), else 0
  int access_shift_ = -1;           // log2(access_bytes) when a power of two
  uint64_t capacity_ = 0;
};

struct Registered {
  HbmMappingInfo info;
  std::vector<Field> order;
  Hash hash;
};

const std::vector<Registered>& registry() {
  using F = Field;
  static const std::vector<Registered> mappings = {
      {{"RoBaBgPcChStCo",
        "one row (hbm.row_bytes) per (stack, channel, PC) in turn, then the next bank "
        "group, bank and row; streams use every PC and alternate bank groups"},
       {F::kRow, F::kBank, F::kBankGroup, F::kPseudoChannel, F::kChannel, F::kStack, F::kColumn},
       Hash::kNone},
      {{"RoBaBgPcChStCo-spread",
        "RoBaBgPcChStCo with stack, channel, PC, bank group and bank each offset by a hash of "
        "the digits above them, so power-of-two strides (matrix rows) spread over every stack, "
        "channel and bank while a plain stream keeps its order of use"},
       {F::kRow, F::kBank, F::kBankGroup, F::kPseudoChannel, F::kChannel, F::kStack, F::kColumn},
       Hash::kSpread},
      {{"RoBaBgPcChStCo-hash",
        "RoBaBgPcChStCo with bank group and bank offset by the low row digits, so strides that "
        "revisit one bank with different rows spread over banks"},
       {F::kRow, F::kBank, F::kBankGroup, F::kPseudoChannel, F::kChannel, F::kStack, F::kColumn},
       Hash::kBanks},
      {{"RoPcChStBaBgCo",
        "bank-first: consecutive rows fill the bank groups and banks of one PC before moving to "
        "the next PC; a stream uses one PC at a time"},
       {F::kRow, F::kPseudoChannel, F::kChannel, F::kStack, F::kBank, F::kBankGroup, F::kColumn},
       Hash::kNone},
  };
  return mappings;
}

}  // namespace

std::vector<HbmMappingInfo> hbm_address_mappings() {
  std::vector<HbmMappingInfo> out;
  for (const Registered& r : registry()) out.push_back(r.info);
  return out;
}

std::unique_ptr<HbmAddressMapping> make_hbm_address_mapping(const HbmConfig& config) {
  std::string names;
  for (const Registered& r : registry()) {
    if (r.info.name == config.mapping)
      return std::make_unique<FieldOrderMapping>(config, r.order, r.hash);
    names += (names.empty() ? "" : ", ") + r.info.name;
  }
  throw InputError("hbm.mapping: unknown address mapping '" + config.mapping +
                   "'; expected one of: " + names);
}

}  // namespace seedchip::sim
