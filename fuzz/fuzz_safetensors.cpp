// libFuzzer target for the safetensors reader: any bytes must either load or raise an InputError
// naming config.json or the .safetensors file; every other exception, crash, hang, oversized
// allocation or sanitizer report is a bug. A model that loads has every weight read once, so that
// a view reaching past the input is reported by AddressSanitizer.
//
// Input layout: the text of config.json, a NUL byte, then the .safetensors file (length, JSON
// header, data), both given to load_safetensors_bytes (what load_safetensors runs on config.json
// and the mapped file). JSON text cannot hold a raw NUL, so the first NUL always ends the config;
// an input without one is all config and an empty .safetensors file. One input thus mutates both
// files: a mutation of the config with the tensors fixed, of the header or data with the config
// fixed, or of both. The config is read first, as load_safetensors does, so the tensors are only
// reached with a config that passes. Seeds: fuzz/corpus/fuzz_safetensors (fuzz/corpus/README.md).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "arch/error.h"
#include "llm/safetensors.h"

namespace {

float sum(std::span<const float> w) {
  float s = 0;
  for (float x : w) s += x;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace llm = seedchip::llm;
  const std::string config_name = "fuzz/config.json", file_name = "fuzz/model.safetensors";
  const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const size_t config_size = nul ? static_cast<size_t>(nul - data) : size;
  const std::string_view config(reinterpret_cast<const char*>(data), config_size);
  const std::span<const uint8_t> file =
      nul ? std::span<const uint8_t>(nul + 1, size - config_size - 1) : std::span<const uint8_t>();
  try {
    const llm::LlamaModel m = llm::load_safetensors_bytes(file, file_name, config, config_name);
    const llm::LlamaWeights& w = m.weights;
    volatile float s = sum(w.token_embedding) + sum(w.rms_final) + sum(w.classifier);
    for (const llm::LlamaLayer& l : w.layers)
      s = s + sum(l.rms_att) + sum(l.wq) + sum(l.wk) + sum(l.wv) + sum(l.wo) + sum(l.rms_ffn) +
          sum(l.w1) + sum(l.w2) + sum(l.w3);
  } catch (const seedchip::InputError& e) {
    const std::string what = e.what();
    if (what.rfind(config_name + ": ", 0) != 0 && what.rfind(file_name + ": ", 0) != 0)
      std::abort();  // must name one of the two files
  }
  return 0;
}
