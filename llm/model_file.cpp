#include "llm/model_file.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "arch/error.h"
#include "llm/gguf.h"
#include "llm/safetensors.h"

namespace seedchip::llm {

LlamaModel load_model(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return load_safetensors((fs::path(path) / "model.safetensors").string(),
                            (fs::path(path) / "config.json").string());
  if (fs::path(path).extension() == ".safetensors") return load_safetensors(path);
  char magic[4] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(magic, sizeof magic);
  // A short or unreadable file goes to load_llama2c, whose message says what is wrong with it.
  if (in && std::memcmp(magic, "GGUF", 4) == 0) return load_gguf(path);
  return load_llama2c(path);
}

Tokenizer tokenizer_for(const LlamaModel& model, const std::string& tokenizer_path) {
  if (tokenizer_path.empty() && !model.tokenizer)
    throw InputError(model.path +
                     ": carries no vocabulary (only GGUF files with tokenizer.ggml.model "
                     "\"llama\" do), expected a tokenizer file (--tokenizer)");
  Tokenizer t = tokenizer_path.empty() ? *model.tokenizer : Tokenizer::load(tokenizer_path);
  if (t.size() != model.config.vocab_size)
    throw InputError((tokenizer_path.empty() ? model.path : tokenizer_path) + ": " +
                     std::to_string(t.size()) + " tokens, but the model's vocabulary has " +
                     std::to_string(model.config.vocab_size));
  return t;
}

}  // namespace seedchip::llm
