#pragma once
// Timing-only runs of large Llama-family models on a group of chips: prefill and decode of a batch
// from shape presets (llm/model_preset.h), without weights. The engine steps are built by
// llm/llama_step_graph.h, compiled for the chip and simulated with the timing model; the
// tensor-parallel all-reduces (two per layer) and the logits all-gather run as simulated
// collectives on the chip links (sim/link/collectives.h), ring or one-shot, whichever the
// collective's closed form says is faster for the message size on the preset's link topology.
//
// What is simulated and what is reused:
//  - One chip of a TP group is simulated; the others run the same program on their shards
//    (symmetric by construction of the sharding).
//  - Layer reuse (ScaleOptions::reuse_layers): one decoder layer is simulated and its time,
//  counters
//    and energy stand for each layer of a pipeline stage. The layers' programs are identical except
//    for their HBM addresses, so what can differ is the HBM state a layer starts from (open rows,
//    refresh phase, bank queues). The error this introduces is measured by simulating every layer
//    of a stage instead (reuse_layers = false) — see docs/llm.md.
//  - Decode: an iteration's time is affine in the context length (attention reads it, nothing else
//    depends on it), so iterations are simulated at the first, middle and last context and the
//    others interpolated; decode_interpolation_error reports how far the middle sample is from
//    the straight line through the ends.
//  - Prefill runs each sequence's prompt in chunks of prefill_chunk tokens, one chunk per engine
//    step; chunks at the same position of different sequences have the same shape and are
//    simulated once.
//  - Identical programs on identical chips are simulated once per process (keyed by the compiled
//    program's bytes and the resolved chip configuration): the timing simulator is deterministic,
//    so this changes no figure, only the wall time of callers that price many steps (serve/cost,
//    whose decode steps at different contexts share their embedding and classifier).
//  - Pipeline parallelism: pp stages of n_layers / pp layers; decode splits the batch into pp
//    micro-batches, so an iteration is pp stage times (the pipeline full), and each stage hands
//    its activations to the next over one link.
//  - Expert parallelism (ep > 1, mixtures of experts; the layout of DeepSpeed-MoE and vLLM):
//    attention stays tensor-parallel over a stage's tp chips; the experts are sharded ep ways
//    over the same chips: ep groups of tp / ep chips, each group holding n_experts / ep experts,
//    each expert split tensor-parallel over its group (llm/llama_step_graph.h). ep must divide tp
//    and n_experts; ep = 1 is tensor parallelism alone, and gives the same figures as before ep.
//    A MoE layer's links then carry: the attention all-reduce (as at ep = 1, so every chip holds
//    every token); the dispatch all-to-all, in which each chip sends its M / tp share of the
//    step's M tokens to the chips holding their experts (one bf16 hidden state per (token,
//    expert) pair, to each of the group's tp / ep chips: a buffer of M x k x dim x 2 / ep bytes
//    per chip, an equal share per chip); the combine all-to-all back (the same bytes: each group
//    chip's bf16 partial sums of its experts' outputs); and an all-gather of the M x dim bf16
//    feed-forward output, which replaces the feed-forward all-reduce of ep = 1. Routing is
//    assumed even (no data): tokens spread evenly over experts and chips, so every chip does the
//    same work and sends the same bytes. Left: a reduce-scatter in place of the attention
//    all-reduce (Megatron's sequence parallelism: each chip needs only its share's sums), and
//    routing skew.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "arch/chip_loader.h"
#include "llm/llama2c.h"
#include "llm/llama_step_graph.h"
#include "sim/chip/energy.h"

namespace seedchip::runtime {

struct ScaleOptions {
  int64_t batch = 1, input_len = 128, output_len = 128;
  int64_t prefill_chunk = 0;  // tokens per prefill step; 0: the whole prompt
  int64_t tp = 1, pp = 1;
  int64_t ep = 1;  // expert parallelism within a stage's tp chips (see above); 1: none
  bool reuse_layers = true;
  std::function<void(const std::string& what)> progress;  // before each simulation
  // The first simulated decode layer (the shortest context) writes its Perfetto trace here, when
  // set; its stats tree is ScaleReport::decode_layer_stats.
  std::string trace_path;
};

struct PhaseReport {
  double seconds = 0;       // the phase for the whole batch
  double step_seconds = 0;  // one engine step (prefill chunk / decode iteration), mean
  int64_t steps = 0;
  double roofline_seconds = 0;  // sum over steps of max(compute, ideal HBM traffic) + links
  // Per chip over the phase: MXU busy share of its peak, VPU busy cycles over cores x cycles,
  // HBM bytes over peak bandwidth x time, link bytes sent over the links' one-way peak x time.
  double mxu_utilization = 0, vpu_utilization = 0, hbm_utilization = 0, link_utilization = 0;
  double flops = 0, hbm_bytes = 0, link_bytes = 0;  // per chip
  std::string bound;  // the unit nearest its peak: compute, bandwidth, link; or latency
  // The collective algorithms the phase's TP all-reduces, all-gathers (the logits; with ep > 1 the
  // experts' output too) and EP all-to-alls (dispatch and combine; ep > 1 only) used ("ring",
  // "one-shot", both joined by " + " where message sizes differ; empty where there are none).
  std::string all_reduce, all_gather, all_to_all;
  sim::Energy energy;  // all chips
};

struct DecodeSample {
  int64_t context = 0;
  double seconds = 0;  // one iteration
};

struct ScaleReport {
  std::string model, chip;
  int64_t chips = 1;
  ScaleOptions options;
  PhaseReport prefill, decode;
  double ttft_first = 0, ttft_mean = 0;  // seconds; the batch's prompts prefilled one by one
  double tpot = 0;                       // mean decode iteration
  double output_tokens_per_second = 0;   // batch x output_len over prefill + decode
  double joules_per_output_token = 0;
  double weight_bytes_per_chip = 0, kv_bytes_per_chip = 0, hbm_bytes_per_chip = 0;
  std::vector<DecodeSample> decode_samples;
  double decode_interpolation_error = 0;
  int64_t simulations = 0;
  nlohmann::json decode_layer_stats;  // the stats tree of the first simulated decode layer
};

// Throws InputError for options out of range, a model that cannot be split this way (naming the
// dimension; for ep, the values that do not divide), or weights + KV cache that do not fit the
// chips' HBM (with both figures).
ScaleReport run_llm_at_scale(const llm::LlamaConfig& model, const LoadedChip& chip,
                             const ScaleOptions& options);

// One engine step of `shape` (batch x new tokens over `context` positions) through every layer
// of a tp x pp group (experts ep ways) and the embedding and classifier: what a serving
// simulator's iteration costs.
// Layer reuse as in run_llm_at_scale (options.reuse_layers); options.batch and the lengths are
// not used. With pp stages the step passes them one after another.
struct StepTiming {
  double seconds = 0;
  sim::Energy energy;  // all chips, static energy for `seconds` included
  double hbm_bytes_per_chip = 0;
};
StepTiming simulate_step(const llm::LlamaConfig& model, const LoadedChip& chip,
                         const llm::StepShape& shape, const ScaleOptions& options);

}  // namespace seedchip::runtime
