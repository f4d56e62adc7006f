#include "llm/convert.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "llm/model_file.h"
#include "tests/input_error.h"
#include "tests/llm/llm_test_util.h"

namespace seedchip::llm {
namespace {

using seedchip::testing::error_of;
using ::testing::AllOf;
using ::testing::HasSubstr;
using namespace seedchip::llm::testing;

std::string temp(const std::string& name) { return ::testing::TempDir() + "seedchip_llm_" + name; }

TEST(LoadModel, PicksTheReaderByDirectoryExtensionOrMagic) {
  const LlamaModel bin = load_model(kStories);
  EXPECT_EQ(bin.tokenizer, nullptr);
  const Tokenizer tok = Tokenizer::load(kTok512);
  // A GGUF file without the .gguf extension is still GGUF: the magic decides.
  const std::string gguf = temp("dispatch.model");
  write_gguf(bin, &tok, gguf, GgmlType::F32);
  const LlamaModel from_gguf = load_model(gguf);
  EXPECT_NE(from_gguf.tokenizer, nullptr);
  const std::string dir = temp("dispatch_hf");
  write_safetensors(bin, dir, DataType::FP32);
  const LlamaModel from_dir = load_model(dir);
  const LlamaModel from_file = load_model(dir + "/model.safetensors");
  for (const LlamaModel* m : {&from_gguf, &from_dir, &from_file})
    for_each_weight(bin, *m, [](const std::string& name, auto a, auto b) {
      EXPECT_TRUE(bit_identical(a, b)) << name;
    });
  EXPECT_THAT(error_of([] { load_model(temp("no_such_model")); }), HasSubstr("cannot open"));
}

TEST(LoadModel, TokenizerForPrefersTheFileAndElseTheModelsOwn) {
  const LlamaModel bin = load_model(kStories);
  EXPECT_THAT(
      error_of([&] { tokenizer_for(bin, ""); }),
      AllOf(HasSubstr(kStories), HasSubstr("carries no vocabulary"), HasSubstr("--tokenizer")));
  EXPECT_EQ(tokenizer_for(bin, kTok512).size(), 512);
  const Tokenizer tok = Tokenizer::load(kTok512);
  const std::string gguf = temp("tokenizer_for.gguf");
  write_gguf(bin, &tok, gguf, GgmlType::F32);
  EXPECT_EQ(tokenizer_for(load_model(gguf), "").piece(300), tok.piece(300));

  LlamaModel smaller = bin;
  smaller.config.vocab_size = 500;
  EXPECT_THAT(
      error_of([&] { tokenizer_for(smaller, kTok512); }),
      AllOf(HasSubstr(kTok512), HasSubstr("512 tokens, but the model's vocabulary has 500")));
  EXPECT_THAT(error_of([&] { write_gguf(smaller, &tok, temp("smaller.gguf"), GgmlType::F32); }),
              HasSubstr("the tokenizer has 512 tokens, but the model's vocabulary has 500"));
}

TEST(Convert, FormatsChainWithoutLoss) {
  // .bin -> safetensors -> GGUF -> safetensors: the F32 weights stay bit-identical through both
  // Q/K permutations, and a GGUF written without a tokenizer carries none.
  const LlamaModel bin = load_model(kStories);
  const std::string hf1 = temp("chain_hf1"), gguf = temp("chain.gguf"), hf2 = temp("chain_hf2");
  write_safetensors(bin, hf1, DataType::FP32);
  write_gguf(load_model(hf1), nullptr, gguf, GgmlType::F32);
  const LlamaModel from_gguf = load_model(gguf);
  EXPECT_EQ(from_gguf.tokenizer, nullptr);
  write_safetensors(from_gguf, hf2, DataType::FP32);
  const LlamaModel end = load_model(hf2);
  expect_same_config(bin.config, end.config);
  for_each_weight(bin, end, [](const std::string& name, auto a, auto b) {
    EXPECT_TRUE(bit_identical(a, b)) << name;
  });
  EXPECT_EQ(read_bytes(hf1 + "/model.safetensors"), read_bytes(hf2 + "/model.safetensors"));
}

TEST(Convert, AModelWithItsOwnClassifierKeepsIt) {
  // The legacy format marks its own classifier with a negative vocab_size.
  const LlamaModel shared = load_llama2c(kStories);
  std::vector<char> bytes = read_bytes(kStories);
  put_i32(bytes, 20, -512);
  std::vector<float> classifier(shared.weights.token_embedding.begin(),
                                shared.weights.token_embedding.end());
  for (float& v : classifier) v *= 0.5f;
  append(bytes, classifier.data(), classifier.size());
  const LlamaModel own = load_llama2c(write_temp("convert_own.bin", bytes));
  const std::string gguf = temp("own.gguf"), hf = temp("own_hf");
  write_gguf(own, nullptr, gguf, GgmlType::F32);
  write_safetensors(own, hf, DataType::FP32);
  for (const LlamaModel& m : {load_model(gguf), load_model(hf)}) {
    EXPECT_FALSE(m.config.shared_classifier);
    EXPECT_TRUE(bit_identical(m.weights.classifier, classifier));
    EXPECT_TRUE(bit_identical(m.weights.token_embedding, shared.weights.token_embedding));
  }
}

TEST(Convert, RejectsWhatTheFormatCannotHold) {
  const LlamaModel bin = load_model(kStories);
  EXPECT_THAT(error_of([&] { write_safetensors(bin, temp("fp8_hf"), DataType::FP8_E4M3); }),
              HasSubstr("safetensors are written as fp32, fp16 or bf16, not fp8e4m3"));
  const std::string unwritable = temp("no_such_dir") + "/sub/x.gguf";
  EXPECT_THAT(error_of([&] { write_gguf(bin, nullptr, unwritable, GgmlType::F32); }),
              AllOf(HasSubstr(unwritable), HasSubstr("cannot write")));
}

TEST(TokenizerFromVocabulary, ChecksTheLlama2cLayout) {
  const Tokenizer tok = Tokenizer::load(kTok512);
  std::vector<std::string> pieces;
  std::vector<float> scores;
  for (int i = 0; i < tok.size(); ++i) {
    pieces.push_back(tok.piece(i));
    scores.push_back(tok.score(i));
  }
  const Tokenizer same = Tokenizer::from_vocabulary("vocab", pieces, scores);
  EXPECT_EQ(same.max_token_length(), tok.max_token_length());
  EXPECT_EQ(same.encode("Lily and Ben", true, true), tok.encode("Lily and Ben", true, true));

  EXPECT_THAT(error_of([&] { Tokenizer::from_vocabulary("vocab", pieces, {1.0f}); }),
              HasSubstr("vocab: 512 tokens but 1 scores"));
  EXPECT_THAT(error_of([&] {
                Tokenizer::from_vocabulary("vocab", {pieces.begin(), pieces.begin() + 100},
                                           {scores.begin(), scores.begin() + 100});
              }),
              HasSubstr("vocab: has 100 tokens, expected at least 259"));
  std::vector<std::string> swapped = pieces;
  std::swap(swapped[3], swapped[4]);
  EXPECT_THAT(error_of([&] { Tokenizer::from_vocabulary("vocab", swapped, scores); }),
              HasSubstr("vocab: token 3 is \"<0x01>\", expected the byte token \"<0x00>\""));
}

}  // namespace
}  // namespace seedchip::llm
