#include "llm/gguf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <random>

#include "llm/convert.h"
#include "llm/generate_reference.h"
#include "tests/input_error.h"
#include "tests/llm/llm_test_util.h"

namespace seedchip::llm {
namespace {

using seedchip::testing::error_of;
using ::testing::AllOf;
using ::testing::HasSubstr;
using namespace seedchip::llm::testing;

// stories260K with tok512 embedded, as GGUF of `type`, in a file of its own per test.
std::string stories_gguf(const std::string& name, GgmlType type) {
  const std::string path = ::testing::TempDir() + "seedchip_llm_" + name + ".gguf";
  const Tokenizer tok = Tokenizer::load(kTok512);
  write_gguf(load_llama2c(kStories), &tok, path, type);
  return path;
}

TEST(Gguf, DequantizesAHandMadeQ4_0Block) {
  // d = 0.5 (FP16 0x3800); byte j holds element j in its low nibble (q = j) and element 16 + j in
  // its high nibble (q = 15 - j).
  uint8_t block[kQ4_0BlockBytes] = {0x00, 0x38};
  for (int j = 0; j < 16; ++j) block[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float out[32];
  dequantize_q4_0(block, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], (j - 8) * 0.5f) << j;
    EXPECT_EQ(out[16 + j], (7 - j) * 0.5f) << j;
  }
}

TEST(Gguf, DequantizesAHandMadeQ8_0Block) {
  uint8_t block[kQ8_0BlockBytes] = {0x00, 0x34};  // d = 0.25
  for (int j = 0; j < 32; ++j)
    block[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j * 8 - 128));
  float out[32];
  dequantize_q8_0(block, out, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], (j * 8 - 128) * 0.25f) << j;
}

TEST(Gguf, QuantizersMatchGgmlsReferenceRounding) {
  // Values on the Q4_0 grid of d = 0.5 (the largest magnitude, -4, sets d = -4 / -8) come back
  // exactly; Q8_0 is within half a step d = max|x| / 127 (plus the FP16 rounding of d).
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j % 16 - 8) * 0.5f;
  uint8_t q4[kQ4_0BlockBytes], q8[kQ8_0BlockBytes];
  float y[32];
  quantize_q4_0(x, q4, 32);
  dequantize_q4_0(q4, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], x[j]) << j;

  for (int j = 0; j < 32; ++j) x[j] = std::sin(static_cast<float>(j)) * 3.0f;
  quantize_q8_0(x, q8, 32);
  dequantize_q8_0(q8, y, 32);
  float amax = 0;
  for (const float v : x) amax = std::max(amax, std::fabs(v));
  for (int j = 0; j < 32; ++j) EXPECT_LE(std::fabs(y[j] - x[j]), amax / 127 * 0.501f) << j;
}

TEST(Gguf, F32RoundTripIsBitIdenticalWithTheVocabularyEmbedded) {
  const LlamaModel bin = load_llama2c(kStories);
  const LlamaModel gguf = load_gguf(stories_gguf("f32", GgmlType::F32));
  expect_same_config(bin.config, gguf.config);
  for_each_weight(bin, gguf, [](const std::string& name, auto a, auto b) {
    EXPECT_TRUE(bit_identical(a, b)) << name;
  });
  EXPECT_EQ(gguf.weights.classifier.data(), gguf.weights.token_embedding.data());

  const Tokenizer tok = Tokenizer::load(kTok512);
  ASSERT_NE(gguf.tokenizer, nullptr);
  ASSERT_EQ(gguf.tokenizer->size(), tok.size());
  for (int i = 0; i < tok.size(); ++i) {
    EXPECT_EQ(gguf.tokenizer->piece(i), tok.piece(i)) << i;
    EXPECT_EQ(std::signbit(gguf.tokenizer->score(i)), std::signbit(tok.score(i))) << i;
    EXPECT_EQ(gguf.tokenizer->score(i), tok.score(i)) << i;
  }
  EXPECT_EQ(gguf.tokenizer->encode("Once upon a time", true, false),
            tok.encode("Once upon a time", true, false));
}

TEST(Gguf, TheFileHasSentencePiecePiecesAndLlamaKeys) {
  const std::vector<char> bytes = read_bytes(stories_gguf("keys", GgmlType::F32));
  // What llama.cpp expects: U+2581 for spaces, plain "<s>", the llama.* keys.
  for (const char* text : {"\xE2\x96\x81t", "<s>", "</s>", "llama.attention.head_count_kv",
                           "llama.attention.layer_norm_rms_epsilon", "tokenizer.ggml.token_type",
                           "blk.4.ffn_down.weight"})
    EXPECT_NE(std::string_view(bytes.data(), bytes.size()).find(text), std::string_view::npos)
        << text;
  EXPECT_EQ(std::string_view(bytes.data(), bytes.size()).find("\n<s>\n"), std::string_view::npos);
  // No output.weight (the name after the high byte of its length): it is token_embd.
  EXPECT_EQ(
      std::string_view(bytes.data(), bytes.size()).find(std::string_view("\0output.weight", 14)),
      std::string_view::npos);
}

TEST(Gguf, QuantizedTypesAreWithinTheirError) {
  const LlamaModel bin = load_llama2c(kStories);
  const Tokenizer tok = Tokenizer::load(kTok512);
  Sampler greedy(512, 0.0f, 0.9f, 0, 0);
  const std::string reference_text = generate_reference(bin, tok, "", 256, greedy);
  // Worst per-tensor NMSE: FP16 keeps 11 significant bits, BF16 8; Q8_0 and Q4_0 are blocks of
  // 32 with 8 and 4 bits. w2's rows of 172 are not whole blocks: those tensors are F16.
  const struct {
    GgmlType type;
    double max_nmse;
  } cases[] = {{GgmlType::F16, 1e-7},
               {GgmlType::BF16, 2e-5},
               {GgmlType::Q8_0, 1e-4},
               {GgmlType::Q4_0, 2e-2}};
  for (const auto& k : cases) {
    const std::string name(ggml_type_name(k.type));
    const LlamaModel q = load_gguf(stories_gguf("type_" + name, k.type));
    double worst = 0;
    for_each_weight(bin, q, [&](const std::string& w, auto a, auto b) {
      ASSERT_EQ(a.size(), b.size()) << w;
      const double e = nmse(a, b);
      worst = std::max(worst, e);
      if (w.find("rms") != std::string::npos) {
        EXPECT_TRUE(bit_identical(a, b)) << w;  // the norms stay F32
      }
    });
    Sampler g(512, 0.0f, 0.9f, 0, 0);
    const std::string text = generate_reference(q, *q.tokenizer, "", 256, g);
    size_t same = 0;
    while (same < text.size() && same < reference_text.size() && text[same] == reference_text[same])
      ++same;
    std::cout << "[ " << name << " ] worst weight NMSE " << worst << "; greedy text agrees for "
              << same << " of " << reference_text.size() << " characters\n";
    EXPECT_LE(worst, k.max_nmse) << name;
    EXPECT_GT(worst, 0) << name;
  }
}

TEST(Gguf, GreedyTextIsTheSameAsFromTheBin) {
  const LlamaModel bin = load_llama2c(kStories);
  const LlamaModel gguf = load_gguf(stories_gguf("generate", GgmlType::F32));
  const Tokenizer tok = Tokenizer::load(kTok512);
  Sampler a(512, 0.0f, 0.9f, 0, 0), b(512, 0.0f, 0.9f, 0, 0);
  const std::string expected = generate_reference(bin, tok, "", 256, a);
  EXPECT_THAT(expected, ::testing::StartsWith("Once upon a time"));
  EXPECT_EQ(generate_reference(gguf, *gguf.tokenizer, "", 256, b), expected);
}

// Position of the fields after a 1-D tensor's name in the tensor infos: n_dims, ne[0], type,
// offset.
struct InfoAt {
  size_t n_dims, ne0, type, offset;
};
InfoAt info_of(const std::vector<char>& bytes, const std::string& name) {
  const size_t at = find_bytes(bytes, name) + name.size();
  return {at, at + 4, at + 12, at + 16};
}

// load_gguf_bytes (what load_gguf runs on the mapped file, and fuzz/fuzz_gguf.cpp's entry point)
// reads an image anywhere in memory as the file: F32 tensors are views into an aligned image and
// copies from one that is not 4-byte aligned, never misaligned floats.
TEST(Gguf, InMemoryImagesLoadAsTheFileDoesAlignedOrNot) {
  const std::string path = stories_gguf("in_memory", GgmlType::F32);
  const LlamaModel file = load_gguf(path);
  const std::vector<char> bytes = read_bytes(path);
  std::vector<uint8_t> buffer(bytes.size() + 1);
  for (const size_t shift : {0, 1}) {
    std::memcpy(buffer.data() + shift, bytes.data(), bytes.size());
    const LlamaModel m = load_gguf_bytes({buffer.data() + shift, bytes.size()}, "memory.gguf");
    EXPECT_EQ(m.path, "memory.gguf");
    expect_same_config(file.config, m.config);
    for_each_weight(file, m, [&](const std::string& name, auto a, auto b) {
      EXPECT_TRUE(bit_identical(a, b)) << name << ", shift " << shift;
    });
    const auto at = reinterpret_cast<uintptr_t>(m.weights.rms_final.data());
    const auto begin = reinterpret_cast<uintptr_t>(buffer.data());
    EXPECT_EQ(at >= begin && at < begin + buffer.size(), shift == 0) << "a view only when aligned";
    ASSERT_NE(m.tokenizer, nullptr);
    EXPECT_EQ(m.tokenizer->size(), file.tokenizer->size());
  }
  EXPECT_THAT(error_of([&] {
                load_gguf_bytes({buffer.data(), 10}, "memory.gguf");
              }),
              HasSubstr("memory.gguf: file is 10 bytes, too short for the 24-byte GGUF header"));
  EXPECT_THAT(error_of([&] { load_gguf_bytes({}, "memory.gguf"); }),
              HasSubstr("memory.gguf: file is 0 bytes"));
}

template <class T>
void put(std::vector<char>& bytes, size_t at, T v) {
  std::memcpy(bytes.data() + at, &v, sizeof v);
}

TEST(Gguf, MalformedFilesRaiseInputErrorNamingTheFileAndField) {
  const std::vector<char> good = read_bytes(stories_gguf("malformed", GgmlType::F32));
  const auto error = [](const std::string& name, const std::vector<char>& bytes) {
    const std::string path = write_temp("bad_" + name + ".gguf", bytes);
    const std::string e = error_of([&] { load_gguf(path); });
    EXPECT_THAT(e, HasSubstr(path)) << name;
    return e;
  };
  const auto patched = [&](auto&& edit) {
    std::vector<char> b = good;
    edit(b);
    return b;
  };

  // Truncated: in the header, in the metadata, in the tensor infos, in the data; only the tail.
  const size_t infos = find_bytes(good, "token_embd.weight");
  EXPECT_THAT(error("cut10", {good.begin(), good.begin() + 10}), HasSubstr("too short"));
  EXPECT_THAT(error("cut30", {good.begin(), good.begin() + 30}),
              HasSubstr("truncated at byte 24 in metadata key 0"));
  EXPECT_THAT(error("cut_tokens", {good.begin(), good.begin() + 2000}),
              AllOf(HasSubstr("truncated"), HasSubstr("tokenizer.ggml.tokens")));
  EXPECT_THAT(error("cut_infos", {good.begin(), good.begin() + static_cast<long>(infos) + 19}),
              HasSubstr("in tensor token_embd.weight"));
  EXPECT_THAT(error("tail", {good.end() - 1000, good.end()}), HasSubstr("magic"));
  EXPECT_THAT(error("cut_end", {good.begin(), good.end() - 1000}),
              AllOf(HasSubstr("ends beyond the file"), HasSubstr("tensor blk.4.")));

  EXPECT_THAT(error("magic", patched([](auto& b) { b[0] = 'X'; })),
              HasSubstr("magic is \"XGUF\", expected \"GGUF\""));
  EXPECT_THAT(error("version", patched([](auto& b) { put<uint32_t>(b, 4, 2); })),
              HasSubstr("version is 2, expected 3"));

  const InfoAt norm = info_of(good, "output_norm.weight");
  EXPECT_THAT(error("type12", patched([&](auto& b) { put<uint32_t>(b, norm.type, 12); })),
              HasSubstr("tensor output_norm.weight has ggml type 12 (Q4_K), expected F32, F16, "
                        "BF16, Q8_0 or Q4_0"));
  EXPECT_THAT(error("type99", patched([&](auto& b) { put<uint32_t>(b, norm.type, 99); })),
              HasSubstr("tensor output_norm.weight has ggml type 99,"));
  EXPECT_THAT(error("ndims", patched([&](auto& b) { put<uint32_t>(b, norm.n_dims, 5); })),
              HasSubstr("tensor output_norm.weight has n_dims 5, expected 1..4"));
  EXPECT_THAT(error("beyond", patched([&](auto& b) { put<uint64_t>(b, norm.offset, 1ull << 40); })),
              AllOf(HasSubstr("tensor output_norm.weight"), HasSubstr("ends beyond the file")));
  EXPECT_THAT(error("huge", patched([&](auto& b) { put<uint64_t>(b, norm.offset, ~0ull << 5); })),
              HasSubstr("ends beyond the file"));
  EXPECT_THAT(error("misaligned", patched([&](auto& b) {
                      uint64_t off;
                      std::memcpy(&off, b.data() + norm.offset, 8);
                      put<uint64_t>(b, norm.offset, off + 4);
                    })),
              HasSubstr("tensor output_norm.weight has offset"));
  EXPECT_THAT(error("dims", patched([&](auto& b) { put<uint64_t>(b, norm.ne0, 63); })),
              HasSubstr("tensor output_norm.weight has dims [63], expected [64]"));

  EXPECT_THAT(error("missing_key",
                    patched([&](auto& b) { b[find_bytes(b, "llama.block_count") + 16] = 'X'; })),
              HasSubstr("key llama.block_count is missing, expected an integer"));
  // The key's value type follows its name: float32 in place of uint32.
  EXPECT_THAT(error("key_type", patched([&](auto& b) {
                      put<uint32_t>(b, find_bytes(b, "llama.block_count") + 17, 6);
                    })),
              HasSubstr("key llama.block_count has type float32, expected an integer"));
  EXPECT_THAT(error("value_type", patched([&](auto& b) {
                      put<uint32_t>(b, find_bytes(b, "llama.block_count") + 17, 13);
                    })),
              HasSubstr("key llama.block_count has unknown value type 13"));
  EXPECT_THAT(error("arch", patched([&](auto& b) {
                      std::memcpy(b.data() + find_bytes(b, "general.architecture") + 32, "gemma",
                                  5);
                    })),
              HasSubstr("key general.architecture is \"gemma\", expected \"llama\", \"qwen2\", "
                        "\"qwen3\" or \"qwen3moe\""));
  EXPECT_THAT(error("layers", patched([&](auto& b) {
                      put<uint32_t>(b, find_bytes(b, "llama.block_count") + 21, 6);
                    })),
              HasSubstr("tensor blk.5.attn_norm.weight is missing"));
  EXPECT_THAT(error("heads", patched([&](auto& b) {
                      put<uint32_t>(b, find_bytes(b, "llama.attention.head_count\x04") + 30, 7);
                    })),
              HasSubstr("key llama.embedding_length 64 is not a multiple of "
                        "llama.attention.head_count 7"));
  EXPECT_THAT(error("byte_token", patched([&](auto& b) { b[find_bytes(b, "<0x41>") + 4] = '2'; })),
              HasSubstr("tokenizer.ggml.tokens: token 68 is \"<0x42>\", expected the byte token "
                        "\"<0x41>\""));
}

// Random damage to the header, metadata and tensor infos: every file either loads or raises one
// InputError naming it (a crash, a hang or another exception fails the test).
TEST(Gguf, DamagedFilesLoadOrRaiseInputError) {
  const std::vector<char> good = read_bytes(stories_gguf("damaged", GgmlType::F32));
  const size_t data_start = find_bytes(good, "blk.4.ffn_up.weight") + 64;
  std::mt19937 rng(1);
  int loaded = 0, rejected = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<char> bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f)
      bytes[rng() % data_start] = static_cast<char>(rng() % 4 ? rng() : rng() % 2 ? 0 : 0xff);
    if (rng() % 8 == 0) bytes.resize(rng() % bytes.size());
    const std::string path = write_temp("damaged.gguf", bytes);
    try {
      load_gguf(path);
      ++loaded;
    } catch (const InputError& e) {
      EXPECT_THAT(e.what(), HasSubstr(path));
      ++rejected;
    }
  }
  std::cout << "[ damaged ] " << loaded << " loaded, " << rejected << " rejected\n";
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace seedchip::llm
