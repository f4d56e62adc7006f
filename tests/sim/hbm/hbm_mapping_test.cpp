// Address mapping: one-to-one, interleaving as documented, contiguous runs, registry errors.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "arch/error.h"
#include "sim/hbm/address_mapping.h"

namespace seedchip::sim {
namespace {

auto key(const HbmAddress& a) {
  return std::make_tuple(a.stack, a.channel, a.pseudo_channel, a.bank_group, a.bank, a.row,
                         a.column);
}

TEST(HbmMappingTest, EveryRegisteredMappingIsOneToOneOverAWindow) {
  for (const HbmMappingInfo& info : hbm_address_mappings()) {
    HbmConfig config;
    config.mapping = info.name;
    auto mapping = make_hbm_address_mapping(config);
    std::set<decltype(key(HbmAddress{}))> seen;
    // 4 MiB holds more than one row per bank of every PC, so row digits are exercised too.
    for (uint64_t addr = 0; addr < (uint64_t{4} << 20); addr += 32)
      EXPECT_TRUE(seen.insert(key(mapping->decode(addr))).second) << info.name << " " << addr;
  }
}

TEST(HbmMappingTest, PlainOrderGivesEachPcARowThenMovesOn) {
  HbmConfig config;
  config.mapping = "RoBaBgPcChStCo";
  auto mapping = make_hbm_address_mapping(config);
  const HbmAddress first = mapping->decode(0);
  const HbmAddress same_row = mapping->decode(1023);
  const HbmAddress next = mapping->decode(1024);
  EXPECT_EQ(key(first), std::make_tuple(0, 0, 0, 0, 0, int64_t{0}, int64_t{0}));
  EXPECT_EQ(same_row.column, 31);
  EXPECT_EQ(next.stack, 1);  // stacks, then channels, then PCs interleave at row granularity
  const uint64_t all_pcs = 1024ull * 4 * 16 * 2;
  EXPECT_EQ(mapping->decode(all_pcs).bank_group, 1);
  EXPECT_EQ(mapping->decode(all_pcs * 4).bank, 1);
  EXPECT_EQ(mapping->decode(all_pcs * 16).row, 1);
  EXPECT_EQ(mapping->contiguous_bytes(0), 1024u);
  EXPECT_EQ(mapping->contiguous_bytes(1000), 24u);
  EXPECT_EQ(mapping->capacity_bytes(), 4 * (uint64_t{36} << 30));
}

TEST(HbmMappingTest, SpreadSendsMatrixRowStridesToEveryStackAndChannel) {
  // Rows of an 8 KiB-wide matrix: under the plain order every one lands on stack 0 and an even
  // channel; the spread permutation uses all 4 stacks and 16 channels and keeps a stream's order.
  HbmConfig config;
  config.mapping = "RoBaBgPcChStCo";
  auto plain = make_hbm_address_mapping(config);
  config.mapping = "RoBaBgPcChStCo-spread";
  auto spread = make_hbm_address_mapping(config);
  std::set<int> plain_stacks, spread_stacks;
  std::set<std::pair<int, int>> plain_channels, spread_channels;
  for (uint64_t r = 0; r < 1024; ++r) {
    const HbmAddress p = plain->decode(r * 8192), s = spread->decode(r * 8192);
    plain_stacks.insert(p.stack);
    spread_stacks.insert(s.stack);
    plain_channels.insert({p.stack, p.channel});
    spread_channels.insert({s.stack, s.channel});
  }
  EXPECT_EQ(plain_stacks.size(), 1u);
  EXPECT_EQ(plain_channels.size(), 8u);
  EXPECT_EQ(spread_stacks.size(), 4u);
  EXPECT_EQ(spread_channels.size(), 64u);
  // A sequential stream still visits every (stack, channel, PC) once per 128 rows of 1 KiB.
  std::set<std::tuple<int, int, int>> pcs;
  for (uint64_t i = 0; i < 128; ++i) {
    const HbmAddress a = spread->decode(i * 1024);
    pcs.insert({a.stack, a.channel, a.pseudo_channel});
  }
  EXPECT_EQ(pcs.size(), 128u);
}

TEST(HbmMappingTest, HashSpreadsOneBankStrideOverBanks) {
  HbmConfig config;
  config.mapping = "RoBaBgPcChStCo-hash";
  auto mapping = make_hbm_address_mapping(config);
  const uint64_t row_stride = 1024ull * 4 * 16 * 2 * 16;  // same bank, next row, unhashed
  std::set<std::pair<int, int>> banks;
  for (uint64_t i = 0; i < 16; ++i) {
    const HbmAddress a = mapping->decode(i * row_stride);
    banks.insert({a.bank_group, a.bank});
  }
  EXPECT_EQ(banks.size(), 16u);
}

TEST(HbmMappingTest, UnknownNameListsTheRegisteredOnes) {
  HbmConfig config;
  config.mapping = "RoCoBa";
  try {
    make_hbm_address_mapping(config);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("hbm.mapping"), std::string::npos);
    for (const HbmMappingInfo& info : hbm_address_mappings())
      EXPECT_NE(message.find(info.name), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace seedchip::sim
