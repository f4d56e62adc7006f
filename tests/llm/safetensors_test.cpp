#include "llm/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <span>
#include <string_view>

#include "llm/convert.h"
#include "llm/generate_reference.h"
#include "llm/model_file.h"
#include "tests/input_error.h"
#include "tests/llm/llm_test_util.h"

namespace seedchip::llm {
namespace {

using seedchip::testing::error_of;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace seedchip::llm::testing;
using nlohmann::json;

// stories260K as a Hugging Face directory of `type`, one per test.
std::string stories_hf(const std::string& name, DataType type) {
  const std::string dir = ::testing::TempDir() + "seedchip_llm_hf_" + name;
  write_safetensors(load_llama2c(kStories), dir, type);
  return dir;
}

TEST(Safetensors, RotateHalfPermutationMatchesAHandComputedCase) {
  // Two heads of head_dim 4, one column: rotate-half rows (0 1 | 2 3) pair 0 with 2 and 1 with 3;
  // interleaved rows pair 0 with 1 and 2 with 3.
  const std::vector<float> hf = {0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<float> inter(8), back(8);
  rotate_half_to_interleaved(hf, inter, 2, 1);
  EXPECT_THAT(inter, ElementsAre(0, 2, 1, 3, 4, 6, 5, 7));
  interleaved_to_rotate_half(inter, back, 2, 1);
  EXPECT_EQ(back, hf);
  // One head of 8, rows of two columns: HF row i goes to 2i, row 4 + i to 2i + 1.
  std::vector<float> rows(16), out(16);
  std::iota(rows.begin(), rows.end(), 0.0f);
  rotate_half_to_interleaved(rows, out, 1, 2);
  EXPECT_THAT(out, ElementsAre(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15));
}

// RoPE of one head at position `pos`: rotate-half pairs (i, i + hd/2), interleaved (2i, 2i + 1),
// both at the angle pos * theta^(-2i/hd).
std::vector<double> rope(const std::vector<float>& q, int pos, bool interleaved) {
  const size_t hd = q.size(), half = hd / 2;
  std::vector<double> out(hd);
  for (size_t i = 0; i < half; ++i) {
    const double a = pos * std::pow(10000.0, -2.0 * static_cast<double>(i) / hd);
    const size_t x = interleaved ? 2 * i : i, y = interleaved ? 2 * i + 1 : i + half;
    out[x] = q[x] * std::cos(a) - q[y] * std::sin(a);
    out[y] = q[y] * std::cos(a) + q[x] * std::sin(a);
  }
  return out;
}

TEST(Safetensors, PermutedRowsRotateAsTheHuggingFaceLayoutDoes) {
  // A query (the rows of W times x) permuted to interleaved pairs and rotated there is the
  // permutation of the query rotated the Hugging Face way; and the round trip is exact.
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  const int64_t heads = 3, hd = 8, cols = 5;
  std::vector<float> w(heads * hd * cols), inter(w.size()), back(w.size());
  for (float& v : w) v = normal(rng);
  rotate_half_to_interleaved(w, inter, heads, cols);
  interleaved_to_rotate_half(inter, back, heads, cols);
  EXPECT_TRUE(bit_identical(back, w));
  for (int64_t h = 0; h < heads; ++h) {
    std::vector<float> q_hf(hd), q_inter(hd);
    for (int64_t r = 0; r < hd; ++r) {  // column 0 of each row: W times the unit vector e0
      q_hf[r] = w[((h * hd) + r) * cols];
      q_inter[r] = inter[((h * hd) + r) * cols];
    }
    const std::vector<double> a = rope(q_hf, 5, false), b = rope(q_inter, 5, true);
    for (int64_t i = 0; i < hd / 2; ++i) {
      EXPECT_NEAR(b[2 * i], a[i], 1e-12) << h << " " << i;
      EXPECT_NEAR(b[2 * i + 1], a[i + hd / 2], 1e-12) << h << " " << i;
    }
  }
}

TEST(Safetensors, F32RoundTripIsBitIdentical) {
  const LlamaModel bin = load_llama2c(kStories);
  const std::string dir = stories_hf("f32", DataType::FP32);
  const LlamaModel hf = load_safetensors(dir + "/model.safetensors");
  expect_same_config(bin.config, hf.config);
  for_each_weight(bin, hf, [](const std::string& name, auto a, auto b) {
    EXPECT_TRUE(bit_identical(a, b)) << name;
  });
  EXPECT_EQ(hf.weights.classifier.data(), hf.weights.token_embedding.data());
  EXPECT_EQ(hf.tokenizer, nullptr);

  // On disk Q and K are rotate-half: HF row 1 of head 0 is interleaved row 2.
  const std::vector<char> bytes = read_bytes(dir + "/model.safetensors");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);  // the data starts 8-byte aligned
  const json header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  const uint64_t q0 = header["model.layers.0.self_attn.q_proj.weight"]["data_offsets"][0];
  float row1[64];
  std::memcpy(row1, bytes.data() + 8 + n + q0 + 64 * 4, sizeof row1);
  EXPECT_TRUE(bit_identical(row1, bin.weights.layers[0].wq.subspan(2 * 64, 64)));
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  EXPECT_FALSE(header.contains("lm_head.weight"));

  const json config = json::parse(read_bytes(dir + "/config.json"));
  EXPECT_EQ(config["tie_word_embeddings"], true);
  EXPECT_EQ(config["rms_norm_eps"], 1e-5);  // the float's shortest decimal
  EXPECT_EQ(config["num_key_value_heads"], 4);
}

TEST(Safetensors, HalfPrecisionTypesAreWithinTheirError) {
  const LlamaModel bin = load_llama2c(kStories);
  for (const auto& [type, max_nmse] :
       {std::pair{DataType::FP16, 1e-7}, std::pair{DataType::BF16, 2e-5}}) {
    const LlamaModel hf = load_model(stories_hf(std::string(dtype_name(type)), type));
    double worst = 0;
    for_each_weight(
        bin, hf, [&](const std::string&, auto a, auto b) { worst = std::max(worst, nmse(a, b)); });
    std::cout << "[ " << dtype_name(type) << " ] worst weight NMSE " << worst << "\n";
    EXPECT_LE(worst, max_nmse);
    EXPECT_GT(worst, 0);
  }
}

TEST(Safetensors, GreedyTextIsTheSameAsFromTheBin) {
  const LlamaModel bin = load_llama2c(kStories);
  const LlamaModel hf = load_model(stories_hf("generate", DataType::FP32));
  const Tokenizer tok = Tokenizer::load(kTok512);
  Sampler a(512, 0.0f, 0.9f, 0, 0), b(512, 0.0f, 0.9f, 0, 0);
  const std::string expected = generate_reference(bin, tok, "", 256, a);
  EXPECT_THAT(expected, ::testing::StartsWith("Once upon a time"));
  EXPECT_EQ(generate_reference(hf, tok, "", 256, b), expected);
}

// The safetensors file with its header rewritten by `edit` (the data unchanged).
std::vector<char> with_header(const std::vector<char>& file,
                              const std::function<void(json&)>& edit) {
  uint64_t n;
  std::memcpy(&n, file.data(), 8);
  json header = json::parse(file.begin() + 8, file.begin() + 8 + static_cast<long>(n));
  edit(header);
  const std::string text = header.dump();
  const uint64_t m = text.size();
  std::string out(reinterpret_cast<const char*>(&m), 8);
  out += text;
  out.append(file.begin() + 8 + static_cast<long>(n), file.end());
  return {out.begin(), out.end()};
}

TEST(Safetensors, MalformedFilesRaiseInputErrorNamingTheFileAndField) {
  const std::string dir = stories_hf("malformed", DataType::FP32);
  const std::vector<char> good = read_bytes(dir + "/model.safetensors");
  const std::string bad_dir = ::testing::TempDir() + "seedchip_llm_hf_bad";
  std::filesystem::create_directories(bad_dir);
  std::filesystem::copy_file(dir + "/config.json", bad_dir + "/config.json",
                             std::filesystem::copy_options::overwrite_existing);
  const std::string path = bad_dir + "/model.safetensors";
  const auto error = [&](const std::vector<char>& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const std::string e = error_of([&] { load_safetensors(path); });
    EXPECT_THAT(e, HasSubstr(path));
    return e;
  };

  EXPECT_THAT(error({good.begin(), good.begin() + 4}), HasSubstr("too short"));
  EXPECT_THAT(error({good.begin(), good.begin() + 100}),
              HasSubstr("exceeds the 92 bytes after the length field"));
  EXPECT_THAT(error({good.begin(), good.end() - 1000}),
              AllOf(HasSubstr("data_offsets"), HasSubstr("outside the")));
  EXPECT_THAT(error(with_header(good, [](json& h) { h = json::array(); })),
              HasSubstr("is not a JSON object"));
  {
    std::vector<char> garbled = good;
    garbled[8] = '[';
    garbled[9] = ']';
    EXPECT_THAT(error(garbled), HasSubstr("is not a JSON object"));
  }
  EXPECT_THAT(error(with_header(good, [](json& h) { h["model.norm.weight"]["dtype"] = "I64"; })),
              HasSubstr("tensor model.norm.weight has dtype I64, expected F32, F16 or BF16"));
  EXPECT_THAT(
      error(with_header(good,
                        [](json& h) {
                          h["model.norm.weight"]["data_offsets"] = {1ull << 40, (1ull << 40) + 256};
                        })),
      HasSubstr("tensor model.norm.weight has data_offsets [1099511627776, "
                "1099511628032], outside the"));
  EXPECT_THAT(error(with_header(good,
                                [](json& h) {
                                  auto& o = h["model.norm.weight"]["data_offsets"];
                                  o[1] = o[0].get<uint64_t>() + 100;
                                })),
              HasSubstr("(100 bytes), expected 256 bytes for shape [64] of F32"));
  EXPECT_THAT(error(with_header(good,
                                [](json& h) {
                                  h["model.norm.weight"]["shape"] = {32};
                                  auto& o = h["model.norm.weight"]["data_offsets"];
                                  o[1] = o[0].get<uint64_t>() + 128;
                                })),
              HasSubstr("tensor model.norm.weight has shape [32], expected [64]"));
  EXPECT_THAT(
      error(with_header(good, [](json& h) { h.erase("model.layers.4.mlp.up_proj.weight"); })),
      HasSubstr("tensor model.layers.4.mlp.up_proj.weight is missing"));
  EXPECT_THAT(error(with_header(good, [](json& h) { h["model.norm.weight"].erase("shape"); })),
              HasSubstr("tensor model.norm.weight has no array field shape"));

  // config.json: a missing key, a mistyped one, an unsupported feature, a bad head count.
  const std::string config_path = bad_dir + "/config.json";
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(good.data(), static_cast<std::streamsize>(good.size()));
  const json config = json::parse(read_bytes(dir + "/config.json"));
  const auto config_error = [&](const std::function<void(json&)>& edit) {
    json c = config;
    edit(c);
    std::ofstream(config_path, std::ios::trunc) << c.dump();
    const std::string e = error_of([&] { load_model(bad_dir); });
    EXPECT_THAT(e, HasSubstr(config_path));
    return e;
  };
  EXPECT_THAT(config_error([](json& c) { c.erase("rms_norm_eps"); }),
              HasSubstr("key rms_norm_eps is missing, expected a number"));
  EXPECT_THAT(config_error([](json& c) { c.erase("num_hidden_layers"); }),
              HasSubstr("key num_hidden_layers is missing, expected an integer"));
  EXPECT_THAT(config_error([](json& c) { c["hidden_size"] = "64"; }),
              HasSubstr("key hidden_size is \"64\", expected an integer"));
  EXPECT_THAT(config_error([](json& c) {
                c["rope_scaling"] = {{"type", "linear"}};
              }),
              HasSubstr("key rope_scaling is {\"type\":\"linear\"}, expected null or absent"));
  EXPECT_THAT(config_error([](json& c) { c["num_key_value_heads"] = 3; }),
              HasSubstr("key num_attention_heads 8 is not a multiple of num_key_value_heads 3"));
  std::filesystem::remove(config_path);
  EXPECT_THAT(error_of([&] { load_model(bad_dir); }),
              AllOf(HasSubstr(config_path), HasSubstr("cannot open")));
}

// load_safetensors_bytes (what load_safetensors runs on config.json and the mapped file, and
// fuzz/fuzz_safetensors.cpp's entry point) reads a checkpoint in memory as the files.
TEST(Safetensors, InMemoryCheckpointsLoadAsTheFilesDo) {
  const std::string dir = stories_hf("in_memory", DataType::FP32);
  const LlamaModel file = load_safetensors(dir + "/model.safetensors");
  const std::vector<char> bytes = read_bytes(dir + "/model.safetensors");
  const std::vector<char> config = read_bytes(dir + "/config.json");
  const std::span<const uint8_t> image(reinterpret_cast<const uint8_t*>(bytes.data()),
                                       bytes.size());
  const std::string_view config_text(config.data(), config.size());
  const LlamaModel m = load_safetensors_bytes(image, "memory.safetensors", config_text, "c.json");
  EXPECT_EQ(m.path, "memory.safetensors");
  expect_same_config(file.config, m.config);
  for_each_weight(file, m, [](const std::string& name, auto a, auto b) {
    EXPECT_TRUE(bit_identical(a, b)) << name;
  });
  EXPECT_THAT(error_of([&] { load_safetensors_bytes({}, "memory.safetensors", config_text, ""); }),
              HasSubstr("memory.safetensors: file is 0 bytes, too short for the 8-byte "
                        "safetensors header length"));
  EXPECT_THAT(error_of([&] { load_safetensors_bytes(image, "memory.safetensors", "{", "c.json"); }),
              HasSubstr("c.json: is not valid JSON"));
}

// Found while adding fuzz/fuzz_safetensors.cpp (reproduced through it under UBSan): a shape with
// an extent of 0 before another one, e.g. [0, 64] with empty data_offsets, divided by the element
// count 0 when bounding the next extent (SIGFPE). Such a shape now reads as 0 elements; an extent
// beyond 2^56 is refused even after a 0.
TEST(Safetensors, AZeroExtentInAShapeIsReadWithoutDividingByZero) {
  const std::string dir = stories_hf("zero_extent", DataType::FP32);
  const std::string path = dir + "/model.safetensors";
  const std::vector<char> good = read_bytes(path);
  const auto error = [&](const std::vector<int64_t>& shape) {
    const std::vector<char> bad = with_header(good, [&](json& h) {
      h["model.norm.weight"]["shape"] = shape;
      auto& o = h["model.norm.weight"]["data_offsets"];
      o[1] = o[0];
    });
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(bad.data(), static_cast<std::streamsize>(bad.size()));
    const std::string e = error_of([&] { load_safetensors(path); });
    EXPECT_THAT(e, HasSubstr(path));
    return e;
  };
  EXPECT_THAT(error({0, 64}),
              HasSubstr("tensor model.norm.weight has shape [0, 64], expected [64]"));
  EXPECT_THAT(error({64, 0}),
              HasSubstr("tensor model.norm.weight has shape [64, 0], expected [64]"));
  EXPECT_THAT(error({0, int64_t{1} << 60}),
              HasSubstr("tensor model.norm.weight has shape [0,1152921504606846976], more than "
                        "2^56 elements"));
}

// Found likewise (AddressSanitizer: stack-overflow, through fuzz/fuzz_safetensors.cpp): JSON nested
// a million levels deep parsed, but the message quoting the mistyped value overflowed the stack
// (nlohmann's dump() recurses once per level), in config.json and in the header alike. Nesting
// beyond 64 levels is refused; shallower nesting is read as before.
TEST(Safetensors, DeeplyNestedJsonIsRefusedBeforeItOverflowsTheStack) {
  const std::string dir = stories_hf("deep", DataType::FP32);
  const std::string path = dir + "/model.safetensors", config_path = dir + "/config.json";
  const std::vector<char> good_config = read_bytes(config_path);
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  std::ofstream(config_path, std::ios::trunc) << "{\"hidden_size\": " << deep << "}";
  EXPECT_THAT(error_of([&] { load_safetensors(path); }),
              HasSubstr(config_path + ": JSON nests deeper than 64 levels"));
  std::ofstream(config_path, std::ios::trunc) << "{\"hidden_size\": [[[1]]]}";
  EXPECT_THAT(error_of([&] { load_safetensors(path); }),
              HasSubstr(config_path + ": key hidden_size is [[[1]]], expected an integer"));

  std::ofstream(config_path, std::ios::binary | std::ios::trunc)
      .write(good_config.data(), static_cast<std::streamsize>(good_config.size()));
  const std::string header = "{\"model.norm.weight\": " + deep + "}";
  const uint64_t n = header.size();
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      << std::string(reinterpret_cast<const char*>(&n), 8) << header;
  EXPECT_THAT(error_of([&] { load_safetensors(path); }),
              HasSubstr(path + ": header JSON nests deeper than 64 levels"));
}

// Random damage to the length field and the JSON header: every file either loads or raises one
// InputError naming it.
TEST(Safetensors, DamagedFilesLoadOrRaiseInputError) {
  const std::string dir = stories_hf("damaged", DataType::FP32);
  const std::vector<char> good = read_bytes(dir + "/model.safetensors");
  uint64_t n;
  std::memcpy(&n, good.data(), 8);
  const std::string path = dir + "/model.safetensors";
  std::mt19937 rng(2);
  const char* const json_bytes = "{}[]\",:0123456789eE-. ";
  int loaded = 0, rejected = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<char> bytes = good;
    for (int f = 0; f < 1 + static_cast<int>(rng() % 3); ++f) {
      const size_t at = rng() % (8 + n);
      bytes[at] =
          rng() % 2 ? static_cast<char>(rng()) : json_bytes[rng() % std::strlen(json_bytes)];
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    try {
      load_safetensors(path);
      ++loaded;
    } catch (const InputError& e) {
      EXPECT_THAT(e.what(), HasSubstr(dir));
      ++rejected;
    }
  }
  std::cout << "[ damaged ] " << loaded << " loaded, " << rejected << " rejected\n";
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace seedchip::llm
