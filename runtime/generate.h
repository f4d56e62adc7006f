#pragma once
// Text generation on the simulated chip: a Llama model's decode step (llm/llama_graph.h) is
// compiled once for the chip and run once per token, the KV cache passed from one step's outputs
// to the next step's inputs. Each step reports its simulated time, so a run gives time per output
// token and the chip's counters per step.
//
// By default the steps run functional-only on one resident copy of the program and its weights
// (sim/chip/simulation.h: the numbers of a timed run, to the bit, without the clock), and one
// timing-only simulation of the step gives every step's timing: the step's time does not depend on
// the data, except for the HBM rows its gathers read (the token's embedding row, the position's
// RoPE row), which timing-only runs take as row 0. DecoderOptions::time_every_step simulates each
// step with data and clock instead (exact per step, about 50x slower).
#include <cstdint>
#include <map>
#include <memory>
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

struct DecoderOptions {
  bool functional = true;        // false: timing-only (no data; steps return no logits)
  bool time_every_step = false;  // functional runs: each step a timed simulation with data
  bool layer_outputs = false;    // StepResult::layer_outputs, for checking against a reference
};

class ChipDecoder {
 public:
  // Compiles the decode step for `context` positions and, unless every step is to be timed, times
  // it once. FP32 numerics need FP32-grade products: options.matmul_precision = bf16x6. `chip`
  // must outlive the decoder.
  ChipDecoder(const llm::LlamaModel& model, const LoadedChip& chip, int64_t context,
              const compiler::CompileOptions& options, const DecoderOptions& decoder = {});
  ~ChipDecoder();

  // Runs the step for `token` at position `pos` (0, 1, 2, ... in order), updating the cache.
  // Throws InputError for a token outside the vocabulary or a position outside the context.
  StepResult step(int token, int64_t pos);

  const compiler::CompiledModel& program() const { return model_; }

 private:
  // The figures of one timed run without data, which time every step of an untimed decoder.
  StepResult time_one_step() const;

  const LoadedChip& chip_;
  llm::LlamaConfig config_;
  int64_t context_;
  DecoderOptions options_;
  compiler::CompiledModel model_;
  std::map<std::string, compiler::ir::HostTensor> cache_;  // k_cache.L / v_cache.L
  std::unique_ptr<LoadedModel> resident_;                  // untimed functional steps
  StepResult step_timing_;                                 // unless every step is timed
};

}  // namespace seedchip::runtime
