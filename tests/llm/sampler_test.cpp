#include "llm/sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "tests/input_error.h"

namespace seedchip::llm {
namespace {

using seedchip::testing::error_of;
using ::testing::HasSubstr;

std::vector<float> log_of(const std::vector<float>& probs) {
  std::vector<float> out;
  for (const float p : probs) out.push_back(std::log(p));
  return out;
}

TEST(Sampler, ArgmaxTakesTheFirstMaximum) {
  EXPECT_EQ(argmax(std::vector<float>{1, 3, 2, 3}), 1);
  EXPECT_EQ(argmax(std::vector<float>{-5}), 0);
  EXPECT_EQ(argmax(std::vector<float>{}), -1);
}

TEST(Sampler, TemperatureZeroIsArgmax) {
  Sampler s(5, 0.0f, 0.9f, 0, 42);
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 2.0f, 1.9f};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.sample(logits), 1);
}

// The first outputs of run.c's xorshift* from state 1 (computed with Python integers).
TEST(Sampler, RandomNumbersAreRunCs) {
  Sampler s(1, 1.0f, 0.0f, 0, 1);
  EXPECT_EQ(s.random_u32(), 1206177355u);
  EXPECT_EQ(s.random_u32(), 2882512552u);
  const float f = s.random_f32();
  EXPECT_GE(f, 0.0f);
  EXPECT_LT(f, 1.0f);
}

TEST(Sampler, AFixedSeedRepeatsItsSequence) {
  const std::vector<float> logits = {0.5f, 0.1f, 0.3f, -0.2f, 0.0f, 0.4f, 0.2f, 0.6f};
  for (const float top_p : {0.0f, 0.9f}) {
    Sampler a(8, 1.0f, top_p, 0, 1234), b(8, 1.0f, top_p, 0, 1234), c(8, 1.0f, top_p, 0, 99);
    std::vector<int> sa, sb, sc;
    for (int i = 0; i < 200; ++i) {
      sa.push_back(a.sample(logits));
      sb.push_back(b.sample(logits));
      sc.push_back(c.sample(logits));
    }
    EXPECT_EQ(sa, sb);
    EXPECT_NE(sa, sc);
    EXPECT_GT(std::set<int>(sa.begin(), sa.end()).size(), 3u);
  }
}

TEST(Sampler, TopPNeverLeavesTheNucleus) {
  // Sorted: 0.5 (index 2), 0.3 (4), 0.15 (0): cumulative 0.95 > 0.9 ends the nucleus there.
  const std::vector<float> probs = {0.15f, 0.02f, 0.5f, 0.01f, 0.3f, 0.02f};
  Sampler s(6, 1.0f, 0.9f, 0, 7);
  std::map<int, int> counts;
  for (int i = 0; i < 20000; ++i) ++counts[s.sample(log_of(probs))];
  EXPECT_EQ(counts.size(), 3u);
  for (const int t : {0, 2, 4}) EXPECT_GT(counts[t], 0) << t;
  // Within the nucleus the draw follows the renormalized probabilities.
  EXPECT_NEAR(counts[2] / 20000.0, 0.5 / 0.95, 0.02);
  EXPECT_NEAR(counts[0] / 20000.0, 0.15 / 0.95, 0.02);

  // Without top-p every token appears.
  Sampler all(6, 1.0f, 1.0f, 0, 7);
  std::set<int> seen;
  for (int i = 0; i < 20000; ++i) seen.insert(all.sample(log_of(probs)));
  EXPECT_EQ(seen.size(), 6u);
}

TEST(Sampler, TopKKeepsTheKMostProbable) {
  const std::vector<float> probs = {0.15f, 0.02f, 0.5f, 0.01f, 0.3f, 0.02f};
  Sampler s(6, 1.0f, 1.0f, 2, 7);
  std::set<int> seen;
  for (int i = 0; i < 5000; ++i) seen.insert(s.sample(log_of(probs)));
  EXPECT_EQ(seen, (std::set<int>{2, 4}));
  // top-k 2 then top-p 0.5: 0.5 / 0.8 of the kept mass already exceeds 0.5.
  Sampler both(6, 1.0f, 0.5f, 2, 7);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(both.sample(log_of(probs)), 2);
}

TEST(Sampler, BadArgumentsRaiseInputError) {
  EXPECT_THAT(error_of([] { Sampler(0, 1.0f, 0.9f, 0, 1); }), HasSubstr("vocab_size is 0"));
  EXPECT_THAT(error_of([] { Sampler(4, -1.0f, 0.9f, 0, 1); }), HasSubstr("temperature"));
  EXPECT_THAT(error_of([] { Sampler(4, std::numeric_limits<float>::infinity(), 0.9f, 0, 1); }),
              HasSubstr("temperature"));
  EXPECT_THAT(error_of([] { Sampler(4, 1.0f, 1.5f, 0, 1); }), HasSubstr("top_p is 1.5"));
  EXPECT_THAT(error_of([] { Sampler(4, 1.0f, 0.9f, -2, 1); }), HasSubstr("top_k is -2"));
  Sampler s(4, 1.0f, 0.9f, 0, 1);
  EXPECT_THAT(error_of([&] { s.sample(std::vector<float>(3)); }),
              HasSubstr("3 logits, expected vocab_size 4"));
}

}  // namespace
}  // namespace seedchip::llm
