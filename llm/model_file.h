#pragma once
// One entry point for every Llama model file: load_model picks the reader by what the path is.
#include <string>

#include "llm/llama2c.h"
#include "llm/tokenizer.h"

namespace seedchip::llm {

// A directory: its model.safetensors and config.json (Hugging Face). A path ending in
// ".safetensors": that file and the config.json beside it. Otherwise by the first four bytes:
// "GGUF" is read by load_gguf, anything else by load_llama2c (whose header has no magic).
// Throws InputError from the reader chosen.
LlamaModel load_model(const std::string& path);

// The tokenizer file when `tokenizer_path` is given, else the vocabulary the model carries.
// Throws InputError when there is neither, or when its size differs from the model's vocabulary.
Tokenizer tokenizer_for(const LlamaModel& model, const std::string& tokenizer_path);

}  // namespace seedchip::llm
