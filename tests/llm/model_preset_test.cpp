// Model shape presets: every preset loads, its size matches the published parameter count, and a
// malformed preset names the file and the key.
#include "llm/model_preset.h"

#include <gtest/gtest.h>

#include <fstream>

#include "arch/error.h"

namespace seedchip::llm {
namespace {

std::string write_preset(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name + ".yaml";
  std::ofstream(path) << text;
  return path;
}

TEST(ModelPreset, EveryPresetLoadsWithItsPublishedSize) {
  // Published sizes (billions of parameters, total / active), to 2%.
  const std::map<std::string, std::pair<double, double>> published = {
      {"llama-2-70b", {69.0, 69.0}},      {"llama-3.1-8b", {8.03, 8.03}},
      {"llama-3.1-70b", {70.6, 70.6}},    {"llama-3.1-405b", {405.9, 405.9}},
      {"qwen2.5-72b", {72.7, 72.7}},      {"mixtral-8x7b", {46.7, 12.9}},
      {"qwen3-235b-a22b", {235.1, 22.2}}, {"bloom-176b", {176.2, 176.2}}};
  EXPECT_EQ(list_model_presets().size(), published.size());
  for (const auto& [name, sizes] : published) {
    const ModelPreset p = load_model_preset(name);
    EXPECT_EQ(p.config.name, name);
    EXPECT_FALSE(p.source.empty());
    EXPECT_NEAR(static_cast<double>(parameter_count(p.config)) / 1e9, sizes.first,
                sizes.first * 0.02)
        << name;
    EXPECT_NEAR(static_cast<double>(active_parameter_count(p.config)) / 1e9, sizes.second,
                sizes.second * 0.02)
        << name;
  }
  EXPECT_EQ(load_model_preset("qwen3-235b-a22b").config.q_dim(), 8192);  // twice the width
  EXPECT_TRUE(load_model_preset("qwen2.5-72b").config.attention_bias);
}

TEST(ModelPreset, MalformedPresetsNameTheFileAndTheKey) {
  const std::string base =
      "name: t\narchitecture: llama\nsource: test\nhidden_size: 64\nintermediate_size: 128\n"
      "num_layers: 2\nnum_heads: 4\nnum_kv_heads: 2\nvocab_size: 100\nmax_context: 64\n";
  EXPECT_NO_THROW(load_model_preset(write_preset("good", base)));
  auto message = [&](const std::string& name, const std::string& text) {
    try {
      load_model_preset(write_preset(name, text));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("unknown", base + "hidden_sise: 3\n").find("unknown key 'hidden_sise'"),
            std::string::npos);
  EXPECT_NE(message("missing", "name: t\narchitecture: llama\n").find("required key 'source'"),
            std::string::npos);
  const std::string negative = message("negative", base + "num_experts: -1\n");
  EXPECT_NE(negative.find("negative.yaml"), std::string::npos) << negative;
  EXPECT_NE(negative.find("num_experts"), std::string::npos) << negative;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = base;
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  EXPECT_NE(message("arch", with("architecture: llama", "architecture: gpt")).find("architecture"),
            std::string::npos);
  EXPECT_NE(message("heads", with("num_kv_heads: 2", "num_kv_heads: 3")).find("num_kv_heads"),
            std::string::npos);
  EXPECT_NE(message("nope", "").find("expected a mapping of keys"), std::string::npos);
  EXPECT_THROW(load_model_preset("no-such-model"), InputError);
}

}  // namespace
}  // namespace seedchip::llm
