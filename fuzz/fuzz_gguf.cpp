// libFuzzer target for the GGUF reader: any bytes, read as a GGUF file by load_gguf_bytes (what
// load_gguf runs on the mapped file), must either load or raise an InputError naming the file;
// every other exception, crash, hang, oversized allocation or sanitizer report is a bug. A model
// that loads has every weight read once, so that a view reaching past the input is reported by
// AddressSanitizer. Seeds: fuzz/corpus/fuzz_gguf (fuzz/corpus/README.md).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "arch/error.h"
#include "llm/gguf.h"

namespace {

float sum(std::span<const float> w) {
  float s = 0;
  for (float x : w) s += x;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace llm = seedchip::llm;
  const std::string name = "fuzz.gguf";
  try {
    const llm::LlamaModel m = llm::load_gguf_bytes({data, size}, name);
    const llm::LlamaWeights& w = m.weights;
    volatile float s = sum(w.token_embedding) + sum(w.rms_final) + sum(w.classifier);
    for (const llm::LlamaLayer& l : w.layers)
      s = s + sum(l.rms_att) + sum(l.wq) + sum(l.wk) + sum(l.wv) + sum(l.wo) + sum(l.rms_ffn) +
          sum(l.w1) + sum(l.w2) + sum(l.w3);
  } catch (const seedchip::InputError& e) {
    if (std::string(e.what()).rfind(name + ": ", 0) != 0) std::abort();  // must name the file
  }
  return 0;
}
