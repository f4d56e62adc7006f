#pragma once
// Text generation on the simulated chip: a Llama model's decode step for a batch of sequences
// (llm/llama_graph.h) is compiled once for the chip and run once per token. The KV cache lives in
// the chip's HBM as pools of fixed-size pages (runtime/paged_kv.h): each step writes each
// sequence's new K and V rows in place and gathers its rows for attention, so the sequences of a
// batch may have any lengths. Each step reports its simulated time, so a run gives time per output
// token and the chip's counters per step.
//
// By default the steps run functional-only on one resident copy of the program, its weights and
// the pools (sim/chip/simulation.h: the numbers of a timed run, to the bit, without the clock),
// and one timing-only simulation of the step gives every step's timing: the step's time does not
// depend on the data, except for the HBM rows its gathers and scatters touch (the token's
// embedding row, the position's RoPE row, the sequences' pool rows), which timing-only runs take
// as rows 0, 1, 2, ... DecoderOptions::time_every_step simulates each step with data and clock
// instead (exact per step, the pools passed through the host between steps; about 20x slower).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "arch/chip_loader.h"
#include "compiler/codegen/compile.h"
#include "llm/llama2c.h"
#include "llm/llama_graph.h"
#include "runtime/paged_kv.h"
#include "runtime/runtime.h"

namespace seedchip::runtime {

// One sequence's share of a step: logits and layer outputs are its own, the figures the whole
// batch step's.
struct StepResult {
  std::vector<float> logits;  // [vocab] (functional runs; empty in timing-only runs)
  std::vector<std::vector<float>> layer_outputs;  // [layer][dim], when the decoder was asked
  uint64_t cycles = 0;
  double seconds = 0;  // simulated
  // Per operator, from the timing run behind `cycles` and `seconds`; the steps it times share it.
  std::shared_ptr<const std::vector<OpStats>> ops = std::make_shared<std::vector<OpStats>>();
};

struct DecoderOptions {
  bool functional = true;        // false: timing-only (no data; steps return no logits)
  bool time_every_step = false;  // functional runs: each step a timed simulation with data
  bool layer_outputs = false;    // StepResult::layer_outputs, for checking against a reference
  int64_t batch = 1;             // sequence slots decoded together
  int64_t page_rows = 16;        // positions per KV page
  // A mixture of experts' form in the step's graph (llm/llama_graph.h); unset: the one that moves
  // fewer weight bytes at this batch (llm::cheaper_expert_form).
  std::optional<llm::ExpertForm> experts = std::nullopt;
};

// What one slot of the batch decodes in a step.
struct SlotStep {
  int token = 0;
  int64_t pos = 0;  // 0 starts a new sequence in the slot; otherwise one past its last position
};

class ChipDecoder {
 public:
  // Compiles the decode step for `context` positions per sequence, with pools of
  // batch x ceil(context / page_rows) pages, and, unless every step is to be timed, times it
  // once. FP32 numerics need FP32-grade products: options.matmul_precision = bf16x6. `chip` must
  // outlive the decoder. InputError when the weights and pools do not fit the chip's HBM.
  ChipDecoder(const llm::LlamaModel& model, const LoadedChip& chip, int64_t context,
              const compiler::CompileOptions& options, const DecoderOptions& decoder = {});
  ~ChipDecoder();

  // One step of every slot (steps.size() == batch). A slot at position 0 starts a new sequence:
  // its old pages go back to the pool. Throws InputError for a token outside the vocabulary, a
  // position outside the context, or one that is not the slot's next.
  std::vector<StepResult> step(std::span<const SlotStep> steps);
  // The batch-1 form: `token` at position `pos` (0, 1, 2, ... in order).
  StepResult step(int token, int64_t pos);

  const compiler::CompiledModel& program() const { return model_; }
  const PagedKvCache& kv_cache() const { return kv_; }

 private:
  // The figures of one timed run without data, which time every step of an untimed decoder.
  StepResult time_one_step() const;

  const LoadedChip& chip_;
  llm::LlamaConfig config_;
  int64_t context_;
  DecoderOptions options_;
  PagedKvCache kv_;
  std::vector<int> slot_sequence_;  // per slot: its sequence in kv_
  compiler::CompiledModel model_;
  // The pools between steps when each step is a new timed simulation (time_every_step); else
  // they stay in the resident model's HBM after the first step.
  std::map<std::string, compiler::ir::HostTensor> pools_;
  std::unique_ptr<LoadedModel> resident_;  // untimed functional steps
  bool pools_placed_ = false;
  StepResult step_timing_;  // unless every step is timed
};

}  // namespace seedchip::runtime
