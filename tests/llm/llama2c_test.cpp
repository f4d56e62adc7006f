#include "llm/llama2c.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "llm/reference.h"
#include "tests/input_error.h"
#include "tests/llm/llm_test_util.h"

namespace seedchip::llm {
namespace {

using seedchip::testing::error_of;
using ::testing::AllOf;
using ::testing::HasSubstr;
using namespace seedchip::llm::testing;

bool same_values(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

TEST(Llama2c, LoadsStories260KConfigAndWeightViews) {
  const LlamaModel m = load_llama2c(kStories);
  const LlamaConfig& c = m.config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.seq_len, 512);
  EXPECT_TRUE(c.shared_classifier);
  EXPECT_EQ(c.head_dim(), 8);
  EXPECT_EQ(c.kv_dim(), 32);
  EXPECT_EQ(m.path, kStories);

  const LlamaWeights& w = m.weights;
  EXPECT_EQ(w.token_embedding.size(), 512u * 64);
  ASSERT_EQ(w.layers.size(), 5u);
  for (const LlamaLayer& l : w.layers) {
    EXPECT_EQ(l.rms_att.size(), 64u);
    EXPECT_EQ(l.wq.size(), 64u * 64);
    EXPECT_EQ(l.wk.size(), 32u * 64);
    EXPECT_EQ(l.wv.size(), 32u * 64);
    EXPECT_EQ(l.wo.size(), 64u * 64);
    EXPECT_EQ(l.rms_ffn.size(), 64u);
    EXPECT_EQ(l.w1.size(), 172u * 64);
    EXPECT_EQ(l.w2.size(), 64u * 172);
    EXPECT_EQ(l.w3.size(), 172u * 64);
  }
  EXPECT_EQ(w.rms_final.size(), 64u);
  EXPECT_EQ(w.classifier.data(), w.token_embedding.data());  // shared, not copied
  EXPECT_EQ(w.classifier.size(), w.token_embedding.size());

  // The views are consecutive in the file, right after the 28-byte header.
  const std::vector<char> bytes = read_bytes(kStories);
  float first;
  std::memcpy(&first, bytes.data() + 28, 4);
  EXPECT_EQ(w.token_embedding[0], first);
  EXPECT_EQ(w.layers[0].rms_att.data(), w.token_embedding.data() + 512 * 64);
  EXPECT_EQ(w.layers[1].rms_att.data(), w.layers[0].rms_att.data() + 64);
  EXPECT_EQ(w.layers[0].wq.data(), w.layers[4].rms_att.data() + 64);
  // RMSNorm gains of a trained model are positive and O(1): a misplaced view would not be.
  for (const LlamaLayer& l : w.layers)
    for (const float g : l.rms_att) EXPECT_GT(g, 0.0f);
}

TEST(Llama2c, TheMappingOutlivesCopiesOfTheModel) {
  LlamaModel copy;
  float first = 0.0f;
  {
    const LlamaModel m = load_llama2c(kStories);
    first = m.weights.rms_final[0];
    copy = m;
  }
  EXPECT_EQ(copy.weights.rms_final[0], first);
}

// Converts the legacy stories260K file into llama2.c's version-1 export (export.py
// version1_export), optionally with a separate classifier.
std::vector<char> to_v1(const LlamaModel& m, bool own_classifier) {
  std::vector<char> out(256, 0);
  const uint32_t magic = 0x616b3432;
  std::memcpy(out.data(), &magic, 4);
  put_i32(out, 4, 1);
  const LlamaConfig& c = m.config;
  const int64_t fields[7] = {c.dim,        c.hidden_dim, c.n_layers, c.n_heads,
                             c.n_kv_heads, c.vocab_size, c.seq_len};
  for (int i = 0; i < 7; ++i)
    put_i32(out, 8 + 4 * static_cast<size_t>(i), static_cast<int32_t>(fields[i]));
  out[36] = own_classifier ? 0 : 1;
  const auto put = [&](std::span<const float> s) { append(out, s.data(), s.size()); };
  const auto& L = m.weights.layers;
  for (const auto& l : L) put(l.rms_att);
  for (const auto& l : L) put(l.rms_ffn);
  put(m.weights.rms_final);
  put(m.weights.token_embedding);
  for (const auto& l : L) put(l.wq);
  for (const auto& l : L) put(l.wk);
  for (const auto& l : L) put(l.wv);
  for (const auto& l : L) put(l.wo);
  for (const auto& l : L) put(l.w1);
  for (const auto& l : L) put(l.w2);
  for (const auto& l : L) put(l.w3);
  if (own_classifier) put(m.weights.classifier);
  return out;
}

void expect_same_weights(const LlamaModel& a, const LlamaModel& b) {
  EXPECT_TRUE(same_values(a.weights.token_embedding, b.weights.token_embedding));
  EXPECT_TRUE(same_values(a.weights.rms_final, b.weights.rms_final));
  EXPECT_TRUE(same_values(a.weights.classifier, b.weights.classifier));
  ASSERT_EQ(a.weights.layers.size(), b.weights.layers.size());
  for (size_t i = 0; i < a.weights.layers.size(); ++i) {
    const LlamaLayer &x = a.weights.layers[i], &y = b.weights.layers[i];
    EXPECT_TRUE(same_values(x.rms_att, y.rms_att)) << i;
    EXPECT_TRUE(same_values(x.wq, y.wq)) << i;
    EXPECT_TRUE(same_values(x.wk, y.wk)) << i;
    EXPECT_TRUE(same_values(x.wv, y.wv)) << i;
    EXPECT_TRUE(same_values(x.wo, y.wo)) << i;
    EXPECT_TRUE(same_values(x.rms_ffn, y.rms_ffn)) << i;
    EXPECT_TRUE(same_values(x.w1, y.w1)) << i;
    EXPECT_TRUE(same_values(x.w2, y.w2)) << i;
    EXPECT_TRUE(same_values(x.w3, y.w3)) << i;
  }
}

TEST(Llama2c, ReadsTheVersion1Export) {
  const LlamaModel legacy = load_llama2c(kStories);
  for (const bool own : {false, true}) {
    const std::string path = write_temp(own ? "v1_own.bin" : "v1.bin", to_v1(legacy, own));
    const LlamaModel v1 = load_llama2c(path);
    EXPECT_EQ(v1.config.dim, 64);
    EXPECT_EQ(v1.config.n_kv_heads, 4);
    EXPECT_EQ(v1.config.vocab_size, 512);
    EXPECT_EQ(v1.config.shared_classifier, !own);
    EXPECT_EQ(v1.weights.classifier.data() == v1.weights.token_embedding.data(), !own);
    expect_same_weights(legacy, v1);

    ReferenceModel a(legacy), b(v1);
    const std::span<const float> la = a.forward(1, 0), lb = b.forward(1, 0);
    EXPECT_TRUE(same_values(la, lb));
  }
}

TEST(Llama2c, ReadsALegacyFileWithItsOwnClassifier) {
  const LlamaModel shared = load_llama2c(kStories);
  std::vector<char> bytes = read_bytes(kStories);
  put_i32(bytes, 20, -512);  // negative vocab_size: a classifier follows the weights
  append(bytes, shared.weights.token_embedding.data(), shared.weights.token_embedding.size());
  const LlamaModel own = load_llama2c(write_temp("own_classifier.bin", bytes));
  EXPECT_FALSE(own.config.shared_classifier);
  EXPECT_EQ(own.config.vocab_size, 512);
  EXPECT_NE(own.weights.classifier.data(), own.weights.token_embedding.data());
  expect_same_weights(shared, own);
}

TEST(Llama2c, BadFilesRaiseInputErrorNamingTheFile) {
  const std::vector<char> good = read_bytes(kStories);

  const std::string missing = ::testing::TempDir() + "seedchip_llm_no_such_file.bin";
  EXPECT_THAT(error_of([&] { load_llama2c(missing); }),
              AllOf(HasSubstr(missing), HasSubstr("cannot open")));

  const std::string tiny =
      write_temp("tiny.bin", std::vector<char>(good.begin(), good.begin() + 10));
  EXPECT_THAT(error_of([&] { load_llama2c(tiny); }),
              AllOf(HasSubstr(tiny), HasSubstr("too short")));

  const std::string empty = write_temp("empty.bin", {});
  EXPECT_THAT(error_of([&] { load_llama2c(empty); }), HasSubstr(empty));

  const std::string truncated =
      write_temp("truncated.bin", std::vector<char>(good.begin(), good.begin() + 1000));
  EXPECT_THAT(error_of([&] { load_llama2c(truncated); }),
              AllOf(HasSubstr(truncated), HasSubstr("1000 bytes, expected 1056540")));

  std::vector<char> longer = good;
  longer.resize(good.size() + 4);
  const std::string too_long = write_temp("too_long.bin", longer);
  EXPECT_THAT(error_of([&] { load_llama2c(too_long); }),
              AllOf(HasSubstr(too_long), HasSubstr("1056544 bytes, expected 1056540")));

  // One bad header field at a time: {offset, value, what the message must say}.
  struct Case {
    size_t offset;
    int32_t value;
    const char* expect;
  };
  const Case cases[] = {
      {0, 0, "dim is 0"},
      {4, -3, "hidden_dim is -3"},
      {8, 0, "n_layers is 0"},
      {12, 0, "n_heads is 0, expected 1..64"},
      {12, 128, "n_heads is 128"},
      {12, 7, "dim 64 is not a multiple of n_heads 7"},
      {16, 0, "n_kv_heads is 0"},
      {16, 3, "n_heads 8 is not a multiple of n_kv_heads 3"},
      {16, 16, "n_kv_heads is 16, expected 1..8"},
      {20, 0, "vocab_size is 0"},
      {24, -1, "seq_len is -1"},
      {24, 513, "expected 1056572"},  // a longer freq_cis table than the file has
  };
  for (const Case& k : cases) {
    std::vector<char> bytes = good;
    put_i32(bytes, k.offset, k.value);
    const std::string path = write_temp("bad_header.bin", bytes);
    EXPECT_THAT(error_of([&] { load_llama2c(path); }), AllOf(HasSubstr(path), HasSubstr(k.expect)))
        << k.offset << " " << k.value;
  }

  // An odd head dimension cannot be rotated in pairs.
  {
    std::vector<char> bytes = good;
    put_i32(bytes, 0, 63);
    put_i32(bytes, 12, 9);
    put_i32(bytes, 16, 9);
    const std::string path = write_temp("odd_head.bin", bytes);
    EXPECT_THAT(error_of([&] { load_llama2c(path); }),
                AllOf(HasSubstr(path), HasSubstr("head dimension dim / n_heads = 7 is odd")));
  }

  // Version-1 files: a wrong version, a short header, a bad flag.
  const LlamaModel legacy = load_llama2c(kStories);
  std::vector<char> v1 = to_v1(legacy, false);
  {
    std::vector<char> bytes = v1;
    put_i32(bytes, 4, 2);
    const std::string path = write_temp("v2.bin", bytes);
    EXPECT_THAT(error_of([&] { load_llama2c(path); }),
                AllOf(HasSubstr(path), HasSubstr("version is 2, expected 1")));
  }
  {
    const std::string path =
        write_temp("v1_short.bin", std::vector<char>(v1.begin(), v1.begin() + 100));
    EXPECT_THAT(error_of([&] { load_llama2c(path); }),
                AllOf(HasSubstr(path), HasSubstr("256-byte")));
  }
  {
    std::vector<char> bytes = v1;
    bytes[36] = 7;
    const std::string path = write_temp("v1_flag.bin", bytes);
    EXPECT_THAT(error_of([&] { load_llama2c(path); }),
                AllOf(HasSubstr(path), HasSubstr("shared_classifier is 7")));
  }
  {
    std::vector<char> bytes = v1;
    bytes[36] = 0;  // claims its own classifier, which the file lacks
    const std::string path = write_temp("v1_noclass.bin", bytes);
    EXPECT_THAT(error_of([&] { load_llama2c(path); }),
                AllOf(HasSubstr(path), HasSubstr("own classifier")));
  }
}

}  // namespace
}  // namespace seedchip::llm
