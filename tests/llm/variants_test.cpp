// Qwen2 (attention biases), Mixtral (mixture of experts), Qwen3 (per-head q/k norms, heads wider
// than the model) and Qwen3-MoE (Qwen3 with experts gated by the softmax over all of them): tiny
// synthetic models written as safetensors and GGUF by the converter, read back, and run on the
// host reference.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "llm/convert.h"
#include "llm/model_file.h"
#include "llm/reference.h"
#include "llm/safetensors.h"
#include "llm/sampler.h"
#include "tests/input_error.h"
#include "tests/llm/llm_test_util.h"
#include "tests/llm/tiny_models.h"

namespace seedchip::llm {
namespace {

using seedchip::testing::error_of;
using ::testing::AllOf;
using ::testing::HasSubstr;
using namespace seedchip::llm::testing;
using nlohmann::json;

std::string temp(const std::string& name) { return ::testing::TempDir() + "seedchip_llm_" + name; }

// The logits of `positions` greedy steps from token 1.
std::vector<std::vector<float>> greedy_logits(const LlamaModel& m, int positions) {
  ReferenceModel r(m);
  std::vector<std::vector<float>> out;
  int token = 1;
  for (int pos = 0; pos < positions; ++pos) {
    const std::span<const float> logits = r.forward(token, pos);
    out.emplace_back(logits.begin(), logits.end());
    token = argmax(logits);
  }
  return out;
}

// The safetensors header of a checkpoint directory and where its data starts.
std::pair<json, std::vector<char>> safetensors_header(const std::string& dir, uint64_t& data) {
  std::vector<char> bytes = read_bytes(dir + "/model.safetensors");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  data = 8 + n;
  return {json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n)),
          std::move(bytes)};
}

class Variants : public ::testing::TestWithParam<Variant> {};

TEST_P(Variants, F32SafetensorsAndGgufRoundTripsAreBitIdenticalAndSoIsTheReference) {
  const LlamaModel tiny = tiny_model(GetParam());
  const std::string name = variant_name(GetParam());
  const std::string hf = temp("variant_hf_" + name), gguf = temp("variant_" + name + ".gguf");
  write_safetensors(tiny, hf, DataType::FP32);
  write_gguf(tiny, nullptr, gguf, GgmlType::F32);
  const std::vector<std::vector<float>> want = greedy_logits(tiny, 6);
  for (const LlamaModel& m : {load_model(hf), load_model(gguf)}) {
    SCOPED_TRACE(m.path);
    expect_same_config(tiny.config, m.config);
    for_each_weight(tiny, m, [](const std::string& w, auto a, auto b) {
      EXPECT_TRUE(bit_identical(a, b)) << w;
    });
    const std::vector<std::vector<float>> got = greedy_logits(m, 6);
    for (size_t p = 0; p < want.size(); ++p)
      EXPECT_TRUE(bit_identical(got[p], want[p])) << "position " << p;
  }
  // GGUF -> safetensors: the same files as written from the model.
  const std::string hf2 = temp("variant_hf2_" + name);
  write_safetensors(load_model(gguf), hf2, DataType::FP32);
  EXPECT_EQ(read_bytes(hf + "/model.safetensors"), read_bytes(hf2 + "/model.safetensors"));
  EXPECT_EQ(read_bytes(hf + "/config.json"), read_bytes(hf2 + "/config.json"));
}

TEST_P(Variants, QuantizedGgufAndHalfSafetensorsStayWithinTheirError) {
  const LlamaModel tiny = tiny_model(GetParam());
  const std::string name = variant_name(GetParam());
  for (const auto& [type, max_nmse] :
       {std::pair{GgmlType::F16, 1e-7}, std::pair{GgmlType::Q8_0, 1e-4}}) {
    const std::string path = temp("variant_" + name + "_" + std::string(ggml_type_name(type)));
    write_gguf(tiny, nullptr, path, type);
    double worst = 0;
    for_each_weight(tiny, load_model(path), [&](const std::string& w, auto a, auto b) {
      ASSERT_EQ(a.size(), b.size()) << w;
      worst = std::max(worst, nmse(a, b));
    });
    EXPECT_LE(worst, max_nmse) << ggml_type_name(type);
  }
  const std::string hf = temp("variant_hf_bf16_" + name);
  write_safetensors(tiny, hf, DataType::BF16);
  double worst = 0;
  for_each_weight(tiny, load_model(hf),
                  [&](const std::string&, auto a, auto b) { worst = std::max(worst, nmse(a, b)); });
  EXPECT_LE(worst, 2e-5);
}

INSTANTIATE_TEST_SUITE_P(Llm, Variants,
                         ::testing::Values(Variant::kQwen2, Variant::kMixtral, Variant::kQwen3,
                                           Variant::kQwen3Moe),
                         [](const auto& info) { return std::string(variant_name(info.param)); });

TEST(Qwen2, FilesHoldHuggingFaceAndLlamaCppLayouts) {
  const LlamaModel tiny = tiny_model(Variant::kQwen2);
  const LlamaLayer& l = tiny.weights.layers[0];
  const std::string hf = temp("qwen2_layout_hf"), gguf = temp("qwen2_layout.gguf");
  write_safetensors(tiny, hf, DataType::FP32);
  write_gguf(tiny, nullptr, gguf, GgmlType::F32);
  // Hugging Face rotates halves: the q/k biases are permuted as the rows of q_proj/k_proj.
  uint64_t data;
  const auto [header, bytes] = safetensors_header(hf, data);
  std::vector<float> want(l.bk.size()), got(l.bk.size());
  interleaved_to_rotate_half(l.bk, want, tiny.config.n_kv_heads, 1);
  const uint64_t at = header["model.layers.0.self_attn.k_proj.bias"]["data_offsets"][0];
  std::memcpy(got.data(), bytes.data() + data + at, got.size() * 4);
  EXPECT_EQ(got, want);
  EXPECT_NE(got, std::vector<float>(l.bk.begin(), l.bk.end()));
  const json config = json::parse(read_bytes(hf + "/config.json"));
  EXPECT_EQ(config["model_type"], "qwen2");
  EXPECT_EQ(config["architectures"][0], "Qwen2ForCausalLM");
  EXPECT_EQ(config["use_sliding_window"], false);
  // llama.cpp's qwen2 (NEOX rope, no permutation on conversion): the same rotate-half bias.
  const std::vector<char> g = read_bytes(gguf);
  find_bytes(g, "qwen2.attention.head_count_kv");
  find_bytes(g, "blk.1.attn_v.bias");
  const LlamaModel from_gguf = load_model(gguf);
  EXPECT_EQ(from_gguf.config.name, "qwen2");
  EXPECT_TRUE(bit_identical(from_gguf.weights.layers[0].bk, l.bk));
}

TEST(Mixtral, FilesHoldHuggingFaceAndLlamaCppLayouts) {
  const LlamaModel tiny = tiny_model(Variant::kMixtral);
  const std::string hf = temp("mixtral_layout_hf"), gguf = temp("mixtral_layout.gguf");
  write_safetensors(tiny, hf, DataType::FP32);
  write_gguf(tiny, nullptr, gguf, GgmlType::Q8_0);
  uint64_t data;
  const auto [header, bytes] = safetensors_header(hf, data);
  EXPECT_EQ(header["model.layers.1.block_sparse_moe.gate.weight"]["shape"], json({4, 32}));
  EXPECT_EQ(header["model.layers.1.block_sparse_moe.experts.3.w2.weight"]["shape"], json({32, 48}));
  EXPECT_FALSE(header.contains("model.layers.0.mlp.gate_proj.weight"));
  const json config = json::parse(read_bytes(hf + "/config.json"));
  EXPECT_EQ(config["model_type"], "mixtral");
  EXPECT_EQ(config["num_local_experts"], 4);
  EXPECT_EQ(config["num_experts_per_tok"], 2);
  // GGUF: llama with experts; the router stays F32 when the rest is quantized, so routing is exact.
  const std::vector<char> g = read_bytes(gguf);
  find_bytes(g, "llama.expert_used_count");
  find_bytes(g, "blk.0.ffn_down_exps.weight");
  const LlamaModel m = load_model(gguf);
  EXPECT_EQ(m.config.n_experts, 4);
  EXPECT_TRUE(bit_identical(m.weights.layers[1].router, tiny.weights.layers[1].router));
}

// Mixtral's routing on the host: all-equal router logits choose experts 0 and 1 (ties go to the
// lower index) with gates 1/2 each, so the unchosen experts 2 and 3 do not matter and expert 0
// does.
TEST(Mixtral, TiesGoToTheLowerExpertAndGatesAreTheSoftmaxOfTheChosen) {
  LlamaModel m = tiny_model(Variant::kMixtral);
  m.config.n_layers = 1;
  m.weights.layers.resize(1);
  const std::vector<float> zeros(m.weights.layers[0].router.size(), 0.0f);
  m.weights.layers[0].router = zeros;
  const std::vector<float> base = greedy_logits(m, 3)[2];
  LlamaModel other = m;
  const std::vector<float> changed(m.weights.layers[0].experts[0].w2.size(), 0.25f);
  for (int e : {2, 3}) other.weights.layers[0].experts[static_cast<size_t>(e)].w2 = changed;
  EXPECT_TRUE(bit_identical(greedy_logits(other, 3)[2], base));
  other.weights.layers[0].experts[0].w2 = changed;
  EXPECT_GT(nmse(base, greedy_logits(other, 3)[2]), 1e-6);

  // One expert per token and equal logits: expert 0 alone (gate 1); the others do not matter.
  LlamaModel top1 = tiny_model(Variant::kMixtral);
  top1.config.experts_per_token = 1;
  for (auto& layer : top1.weights.layers) layer.router = zeros;
  const std::vector<float> want = greedy_logits(top1, 2)[1];
  for (auto& layer : top1.weights.layers)
    for (int e : {1, 2, 3}) layer.experts[static_cast<size_t>(e)].w1 = changed;
  EXPECT_TRUE(bit_identical(greedy_logits(top1, 2)[1], want));
}

TEST(VariantFiles, UnsupportedCombinationsAndMissingPiecesRaiseInputErrors) {
  LlamaModel both = tiny_model(Variant::kMixtral);
  both.config.attention_bias = true;
  EXPECT_THAT(error_of([&] { write_gguf(both, nullptr, temp("both.gguf"), GgmlType::F32); }),
              AllOf(HasSubstr(temp("both.gguf")), HasSubstr("Qwen2-MoE")));
  EXPECT_THAT(error_of([&] { write_safetensors(both, temp("both_hf"), DataType::FP32); }),
              HasSubstr("Qwen2-MoE"));
  // In-memory models whose weights disagree with their configuration.
  EXPECT_THAT(error_of([&] { ReferenceModel r(both); }),
              AllOf(HasSubstr("tiny-mixtral"), HasSubstr("weight layer 0 bq has 0 elements")));
  LlamaModel few = tiny_model(Variant::kMixtral);
  few.config.experts_per_token = 5;
  EXPECT_THAT(error_of([&] { ReferenceModel r(few); }), HasSubstr("expected 1..n_experts"));

  // config.json and tensors.
  const std::string dir = temp("variant_errors_hf");
  write_safetensors(tiny_model(Variant::kMixtral), dir, DataType::FP32);
  const json config = json::parse(read_bytes(dir + "/config.json"));
  const auto config_error = [&](const std::function<void(json&)>& edit) {
    json c = config;
    edit(c);
    std::ofstream(dir + "/config.json", std::ios::trunc) << c.dump();
    const std::string e = error_of([&] { load_model(dir); });
    EXPECT_THAT(e, HasSubstr(dir));
    return e;
  };
  EXPECT_THAT(config_error([](json& c) { c["model_type"] = "qwen2_moe"; }),
              HasSubstr("key model_type is \"qwen2_moe\", expected \"llama\", \"qwen2\", "
                        "\"mixtral\", \"qwen3\" or \"qwen3_moe\""));
  EXPECT_THAT(config_error([](json& c) { c.erase("num_local_experts"); }),
              HasSubstr("key num_local_experts is missing, expected an integer"));
  EXPECT_THAT(config_error([](json& c) { c["num_experts_per_tok"] = 5; }),
              HasSubstr("key num_experts_per_tok is 5, expected 1..4"));
  EXPECT_THAT(config_error([](json& c) { c["sliding_window"] = 16; }),
              HasSubstr("key sliding_window is 16, expected null or at least "
                        "max_position_embeddings 32"));
  EXPECT_THAT(config_error([](json& c) { c["model_type"] = "llama"; }),
              HasSubstr("tensor model.layers.0.mlp.gate_proj.weight is missing"));
  EXPECT_THAT(config_error([](json& c) {
                c["model_type"] = "qwen2";
                c["use_sliding_window"] = true;
              }),
              HasSubstr("key use_sliding_window is true, expected false"));
  EXPECT_THAT(config_error([](json& c) { c["model_type"] = "qwen2"; }),
              HasSubstr("tensor model.layers.0.self_attn.q_proj.bias is missing"));
  EXPECT_THAT(config_error([](json& c) {
                c["model_type"] = "llama";
                c["attention_bias"] = true;
              }),
              HasSubstr("key attention_bias is true, expected false"));

  // GGUF: Qwen2's biases, and a llama file with biases.
  const std::string qwen2 = temp("variant_errors_qwen2.gguf");
  write_gguf(tiny_model(Variant::kQwen2), nullptr, qwen2, GgmlType::F32);
  std::vector<char> b = read_bytes(qwen2);
  b[find_bytes(b, "blk.1.attn_k.bias") + 6] = 'X';
  EXPECT_THAT(error_of([&] { load_model(write_temp("variant_nobias.gguf", b)); }),
              HasSubstr("tensor blk.1.attn_k.bias is missing"));
  b = read_bytes(qwen2);
  for (size_t at = 0;
       (at = std::string_view(b.data(), b.size()).find("qwen2", at)) != std::string_view::npos;
       at += 5)
    std::memcpy(b.data() + at, "llama", 5);
  EXPECT_THAT(error_of([&] { load_model(write_temp("variant_llama_bias.gguf", b)); }),
              HasSubstr("tensor blk.0.attn_q.bias: attention biases are read for "
                        "general.architecture \"qwen2\" only"));
  const std::string mixtral = temp("variant_errors_mixtral.gguf");
  write_gguf(tiny_model(Variant::kMixtral), nullptr, mixtral, GgmlType::F32);
  b = read_bytes(mixtral);
  b[find_bytes(b, "llama.expert_used_count") + 6] = 'X';
  EXPECT_THAT(error_of([&] { load_model(write_temp("variant_noused.gguf", b)); }),
              HasSubstr("key llama.expert_used_count is missing, expected an integer"));
  b = read_bytes(mixtral);
  b[find_bytes(b, "blk.0.ffn_up_exps.weight") + 8] = 'X';
  EXPECT_THAT(error_of([&] { load_model(write_temp("variant_noexps.gguf", b)); }),
              HasSubstr("tensor blk.0.ffn_up_exps.weight is missing"));
}

TEST(Qwen3, FilesHoldHuggingFaceAndLlamaCppLayouts) {
  const LlamaModel tiny = tiny_model(Variant::kQwen3Moe);
  const LlamaLayer& l = tiny.weights.layers[0];
  const std::string hf = temp("qwen3_layout_hf"), gguf = temp("qwen3_layout.gguf");
  write_safetensors(tiny, hf, DataType::FP32);
  write_gguf(tiny, nullptr, gguf, GgmlType::F32);
  uint64_t data;
  const auto [header, bytes] = safetensors_header(hf, data);
  // Attention 4 heads x 16 wide on a model 32 wide; the norm gains rotated by halves as a head.
  EXPECT_EQ(header["model.layers.0.self_attn.q_proj.weight"]["shape"], json({64, 32}));
  EXPECT_EQ(header["model.layers.0.self_attn.o_proj.weight"]["shape"], json({32, 64}));
  std::vector<float> want(l.k_norm.size()), got(l.k_norm.size());
  interleaved_to_rotate_half(l.k_norm, want, 1, 1);
  const uint64_t at = header["model.layers.0.self_attn.k_norm.weight"]["data_offsets"][0];
  std::memcpy(got.data(), bytes.data() + data + at, got.size() * 4);
  EXPECT_EQ(got, want);
  EXPECT_NE(got, std::vector<float>(l.k_norm.begin(), l.k_norm.end()));
  EXPECT_EQ(header["model.layers.1.mlp.gate.weight"]["shape"], json({6, 32}));
  EXPECT_EQ(header["model.layers.1.mlp.experts.5.down_proj.weight"]["shape"], json({32, 24}));
  const json config = json::parse(read_bytes(hf + "/config.json"));
  EXPECT_EQ(config["model_type"], "qwen3_moe");
  EXPECT_EQ(config["architectures"][0], "Qwen3MoeForCausalLM");
  EXPECT_EQ(config["head_dim"], 16);
  EXPECT_EQ(config["num_experts"], 6);
  EXPECT_EQ(config["moe_intermediate_size"], 24);
  EXPECT_EQ(config["norm_topk_prob"], true);
  // llama.cpp's qwen3moe: NEOX rope, the head width as attention.key_length.
  const std::vector<char> g = read_bytes(gguf);
  find_bytes(g, "qwen3moe.attention.key_length");
  find_bytes(g, "qwen3moe.expert_feed_forward_length");
  find_bytes(g, "blk.1.attn_q_norm.weight");
  find_bytes(g, "blk.1.ffn_gate_exps.weight");
  const LlamaModel from_gguf = load_model(gguf);
  EXPECT_EQ(from_gguf.config.name, "qwen3_moe");
  EXPECT_TRUE(bit_identical(from_gguf.weights.layers[0].k_norm, l.k_norm));
  EXPECT_TRUE(bit_identical(from_gguf.weights.layers[0].wq, l.wq));
}

// Mixtral takes the softmax of the chosen logits; Qwen3-MoE the softmax of all, then the chosen
// probabilities, divided by their sum only with norm_topk_prob. Renormalised, the two agree up to
// float rounding; without, the gates sum to less than 1 and the model's output differs.
TEST(Qwen3Moe, GatesAreTheChosenOfTheSoftmaxRenormalisedOnlyWhenAsked) {
  LlamaModel renormalised = tiny_model(Variant::kQwen3Moe);
  LlamaModel mixtral_gates = renormalised, raw = renormalised;
  mixtral_gates.config.expert_gating = ExpertGating::kSoftmaxOfChosen;
  raw.config.expert_gating = ExpertGating::kChosenOfSoftmax;
  const std::vector<float> want = greedy_logits(renormalised, 4)[3];
  EXPECT_LE(nmse(want, greedy_logits(mixtral_gates, 4)[3]), 1e-10);
  EXPECT_GT(nmse(want, greedy_logits(raw, 4)[3]), 1e-4);

  // Equal router logits: each of the 6 experts has probability 1/6 and experts 0 and 1 are chosen
  // (ties go to the lower index), so the raw gates are 1/6 each and the renormalised ones 1/2: a
  // layer's feed-forward output is 3 times larger renormalised.
  for (LlamaModel* m : {&renormalised, &raw}) {
    m->config.n_layers = 1;
    m->weights.layers.resize(1);
  }
  const std::vector<float> zeros(renormalised.weights.layers[0].router.size(), 0.0f);
  renormalised.weights.layers[0].router = raw.weights.layers[0].router = zeros;
  // The experts' output with down matrices of zeros is none: what remains is the attention half.
  LlamaModel attention_only = raw;
  const std::vector<float> zero_down(raw.weights.layers[0].experts[0].w2.size(), 0.0f);
  for (LlamaExpert& e : attention_only.weights.layers[0].experts) e.w2 = zero_down;
  const auto layer_out = [](const LlamaModel& m) {
    ReferenceModel r(m);
    r.forward(1, 0);
    return r.layer_output(0);
  };
  const std::vector<float> base = layer_out(attention_only), a = layer_out(renormalised),
                           b = layer_out(raw);
  std::vector<float> ffn_renormalised, three_ffn_raw;
  for (size_t i = 0; i < base.size(); ++i) {
    ffn_renormalised.push_back(a[i] - base[i]);
    three_ffn_raw.push_back(3.0f * (b[i] - base[i]));
  }
  EXPECT_LE(nmse(ffn_renormalised, three_ffn_raw), 1e-10);
  EXPECT_GT(nmse(ffn_renormalised, std::vector<float>(base.size(), 0.0f)), 0.99);
}

TEST(Qwen3, UnsupportedPiecesRaiseInputErrors) {
  const std::string dir = temp("qwen3_errors_hf");
  write_safetensors(tiny_model(Variant::kQwen3Moe), dir, DataType::FP32);
  const json config = json::parse(read_bytes(dir + "/config.json"));
  const auto config_error = [&](const std::function<void(json&)>& edit) {
    json c = config;
    edit(c);
    std::ofstream(dir + "/config.json", std::ios::trunc) << c.dump();
    const std::string e = error_of([&] { load_model(dir); });
    EXPECT_THAT(e, HasSubstr(dir));
    return e;
  };
  EXPECT_THAT(config_error([](json& c) { c["decoder_sparse_step"] = 2; }),
              HasSubstr("key decoder_sparse_step is 2, expected 1"));
  EXPECT_THAT(config_error([](json& c) { c["mlp_only_layers"] = {1}; }),
              HasSubstr("key mlp_only_layers is [1], expected [] or absent"));
  EXPECT_THAT(config_error([](json& c) { c["attention_bias"] = true; }),
              HasSubstr("key attention_bias is true, expected false"));
  EXPECT_THAT(config_error([](json& c) { c.erase("moe_intermediate_size"); }),
              HasSubstr("key moe_intermediate_size is missing"));
  EXPECT_THAT(config_error([](json& c) { c["model_type"] = "qwen3"; }),
              HasSubstr("tensor model.layers.0.mlp.gate_proj.weight is missing"));
  EXPECT_THAT(config_error([](json& c) { c["head_dim"] = 15; }),
              HasSubstr("head dimension 15 is odd"));

  const std::string gguf = temp("qwen3_errors.gguf");
  write_gguf(tiny_model(Variant::kQwen3Moe), nullptr, gguf, GgmlType::F32);
  std::vector<char> b = read_bytes(gguf);
  b[find_bytes(b, "blk.1.attn_k_norm.weight") + 6] = 'X';
  EXPECT_THAT(error_of([&] { load_model(write_temp("qwen3_nonorm.gguf", b)); }),
              HasSubstr("tensor blk.1.attn_k_norm.weight is missing"));
  b = read_bytes(gguf);
  b[find_bytes(b, "qwen3moe.expert_feed_forward_length") + 9] = 'X';
  EXPECT_THAT(error_of([&] { load_model(write_temp("qwen3_noffn.gguf", b)); }),
              HasSubstr("key qwen3moe.expert_feed_forward_length is missing, expected an integer"));

  LlamaModel raw = tiny_model(Variant::kQwen3Moe);
  raw.config.expert_gating = ExpertGating::kChosenOfSoftmax;
  EXPECT_THAT(error_of([&] { write_gguf(raw, nullptr, temp("raw.gguf"), GgmlType::F32); }),
              HasSubstr("llama.cpp always renormalises"));
  LlamaModel mixtral_gates = tiny_model(Variant::kQwen3Moe);
  mixtral_gates.config.expert_gating = ExpertGating::kSoftmaxOfChosen;
  EXPECT_THAT(error_of([&] { write_safetensors(mixtral_gates, temp("mg_hf"), DataType::FP32); }),
              HasSubstr("Qwen3-MoE (per-head q/k norms) gating by the softmax of the chosen"));
  LlamaModel no_norm = tiny_model(Variant::kQwen3);
  no_norm.weights.layers[1].q_norm = {};
  EXPECT_THAT(error_of([&] { ReferenceModel r(no_norm); }),
              HasSubstr("weight layer 1 q_norm has 0 elements, expected 16"));
}

}  // namespace
}  // namespace seedchip::llm
