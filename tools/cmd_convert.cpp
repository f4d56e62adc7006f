// seedchip convert: a Llama, Qwen2 or Mixtral model from any file load_model reads (llama2.c, GGUF,
// safetensors) to GGUF or to a Hugging Face safetensors checkpoint.
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "arch/error.h"
#include "llm/convert.h"
#include "llm/model_file.h"
#include "tools/common.h"

namespace seedchip::tools {
namespace {

struct ConvertCommand {
  std::string model, tokenizer, out, to, type = "f32";
};

void run_convert(const ConvertCommand& c) {
  const llm::LlamaModel model = llm::load_model(c.model);
  if (c.to == "gguf") {
    const std::map<std::string, llm::GgmlType> types = {{"f32", llm::GgmlType::F32},
                                                        {"f16", llm::GgmlType::F16},
                                                        {"bf16", llm::GgmlType::BF16},
                                                        {"q8_0", llm::GgmlType::Q8_0},
                                                        {"q4_0", llm::GgmlType::Q4_0}};
    // A GGUF file carries its vocabulary, when there is one to carry.
    std::unique_ptr<llm::Tokenizer> tokenizer;
    if (!c.tokenizer.empty() || model.tokenizer)
      tokenizer = std::make_unique<llm::Tokenizer>(llm::tokenizer_for(model, c.tokenizer));
    else
      std::fprintf(stderr,
                   "note: %s has no vocabulary and no --tokenizer was given: the GGUF "
                   "file will have none\n",
                   c.model.c_str());
    llm::write_gguf(model, tokenizer.get(), c.out, types.at(c.type));
  } else {
    const std::map<std::string, DataType> types = {
        {"f32", DataType::FP32}, {"f16", DataType::FP16}, {"bf16", DataType::BF16}};
    const auto t = types.find(c.type);
    if (t == types.end())
      throw InputError("--type " + c.type + ": safetensors are written as f32, f16 or bf16");
    llm::write_safetensors(model, c.out, t->second);
  }
  std::printf(
      "wrote %s (%s, %s)\n",
      c.to == "gguf" ? c.out.c_str() : (std::filesystem::path(c.out) / "model.safetensors").c_str(),
      c.to.c_str(), c.type.c_str());
}

}  // namespace

void register_convert(CLI::App& app) {
  auto c = std::make_shared<ConvertCommand>();
  CLI::App* cmd = app.add_subcommand(
      "convert",
      "write a Llama, Qwen2 or Mixtral model (llama2.c, GGUF or safetensors) as GGUF or "
      "safetensors");
  cmd->add_option("--model", c->model,
                  "model file: llama2.c .bin, .gguf, .safetensors, or a Hugging Face directory")
      ->required();
  cmd->add_option("--tokenizer", c->tokenizer,
                  "llama2.c tokenizer (.bin) to embed in a GGUF file (default: the model's own)");
  cmd->add_option("-o,--out", c->out, "output: a .gguf file, or a directory for safetensors")
      ->required();
  cmd->add_option("--to", c->to, "output format")
      ->required()
      ->check(CLI::IsMember({"gguf", "safetensors"}));
  cmd->add_option("--type", c->type,
                  "weight type: f32, f16, bf16, q8_0 or q4_0 (GGUF only for the last two)")
      ->default_val("f32")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0"}));
  cmd->callback([c] { run_convert(*c); });
}

}  // namespace seedchip::tools
