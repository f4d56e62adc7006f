#pragma once
// Text generation on the simulated chip: a Llama model's decode step (llm/llama_graph.h) is
// compiled once for the chip and run once per token, the KV cache passed from one step's outputs
// to the next step's inputs. Each step reports its simulated time, so a run gives time per output
// token and the chip's counters per step.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "arch/chip_loader.h"
#include "compiler/codegen/compile.h"
#include "llm/llama2c.h"
#include "runtime/runtime.h"

namespace seedchip::runtime {

struct StepResult {
  std::vector<float> logits;  // [vocab] (functional runs; empty in timing-only runs)
  std::vector<std::vector<float>> layer_outputs;  // [layer][dim], when the decoder was asked
  uint64_t cycles = 0;
  double seconds = 0;  // simulated
  std::vector<OpStats> ops;
};

class ChipDecoder {
 public:
  // Compiles the decode step for `context` positions. FP32 numerics need FP32-grade products:
  // options.matmul_precision = bf16x6.
  ChipDecoder(const llm::LlamaModel& model, const LoadedChip& chip, int64_t context,
              const compiler::CompileOptions& options, bool functional = true,
              bool layer_outputs = false);

  // Runs the step for `token` at position `pos` (0, 1, 2, ... in order), updating the cache.
  // Throws InputError for a token outside the vocabulary or a position outside the context.
  StepResult step(int token, int64_t pos);

  const compiler::CompiledModel& program() const { return model_; }

 private:
  const LoadedChip& chip_;
  llm::LlamaConfig config_;
  int64_t context_;
  bool functional_;
  compiler::CompiledModel model_;
  std::map<std::string, compiler::ir::HostTensor> cache_;  // k_cache.L / v_cache.L
};

}  // namespace seedchip::runtime
