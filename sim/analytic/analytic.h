#pragma once
// The analytic fidelity level (DESIGN.md, "Fidelity"): one step of a transformer priced op by op on
// a chip's roofline, for instant sweeps and as the cross-check of the timing simulator.
//
// A step is the prefill of a batch of prompts or one decode iteration of a batch. It is decomposed
// into the kernels an unfused implementation runs on each of the `tensor` chips that share the
// model (Megatron-style tensor parallelism: attention heads and FFN width split, two all-reduces
// per layer). Every kernel belongs to an op class and takes
//
//   max(flops / (peak BF16 FLOP/s x efficiency.<class>.compute),
//       bytes / (peak HBM bandwidth x efficiency.<class>.memory),
//       efficiency.kernel_min_cycles / core clock)
//
// and an all-reduce of P payload bytes over a ring of the chip links takes
//   max(2(TP-1)/TP x P / (link bandwidth x efficiency.allreduce.link)
//         + 2(TP-1) x (links.latency_ns + efficiency.allreduce.step_ns),
//       efficiency.kernel_min_cycles / core clock).
// The step is the sum of its kernels. Weights, activations and the KV cache are BF16; a GEMM is
// "skinny" when its M (tokens) is below the ridge point (peak FLOP/s / HBM bytes/s, where a BF16
// weight GEMM turns compute-bound) and "large" otherwise. A mixture of experts reads only the
// experts a step's tokens are routed to (the expected number of distinct experts under uniform
// routing) and multiplies each token by experts_per_token of them.
//
// Expert parallelism (Parallelism::expert = EP > 1, as runtime/llm_timing.h simulates it): the
// experts are divided among EP groups of TP / EP chips, each expert split tensor-parallel over
// its group; a chip multiplies the M x k / EP (token, expert) pairs routed to its group over the
// local experts they are expected to touch (at least ceil(k / EP)). Its links carry a dispatch
// and a combine all-to-all of M x k x dim / EP BF16 values per chip, each taking
//   (TP-1)/TP x P / (link bandwidth x efficiency.allreduce.link)
//     + links.latency_ns + efficiency.allreduce.step_ns      (one-shot: every share sent at once),
// and an all-gather of the M x dim BF16 feed-forward output (ring: half an all-reduce's steps and
// bytes) in place of the feed-forward all-reduce.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "arch/chip_config.h"
#include "llm/llama2c.h"

namespace seedchip::analytic {

enum class OpClass {
  kGemmLarge,
  kGemmSkinny,
  kAttentionPrefill,
  kAttentionDecode,
  kElementwise,
  kAllReduce
};
inline constexpr int kOpClassCount = 6;
// As in the efficiency.<class> keys: "gemm_large", "gemm_skinny", "attention_prefill", ...
const char* op_class_name(OpClass op_class);

// What set a kernel's time.
enum class Bound { kCompute, kMemory, kLink, kKernelFloor };
const char* bound_name(Bound bound);  // "compute", "memory", "link", "kernel floor"

enum class Phase { kPrefill, kDecode };

struct StepShape {
  Phase phase = Phase::kDecode;
  // Prefill: the length of each prompt of the batch. Decode: the context length of each sequence,
  // the token being generated included. One entry per sequence, each at least 1.
  std::vector<int64_t> lengths;
};

struct Parallelism {
  int64_t tensor = 1;  // chips sharing every layer; divides the heads and the FFN width
  int64_t expert = 1;  // expert groups among those chips (mixtures of experts); divides tensor
};

// The link collective of a kAllReduce-class kernel.
enum class Collective { kAllReduce, kAllGather, kAllToAll };

// One kind of kernel of the step, on one chip: `count` identical kernels.
struct KernelCost {
  std::string name;  // e.g. "qkv_proj", "attention", "allreduce"
  OpClass op_class = OpClass::kElementwise;
  int64_t count = 0;
  int64_t m = 0;       // GEMMs: rows (tokens) of the activation operand; 0 for other kernels
  double flops = 0;    // per kernel
  double bytes = 0;    // per kernel: HBM bytes; collectives: payload bytes per chip
  double seconds = 0;  // per kernel
  Bound bound = Bound::kMemory;
  Collective collective = Collective::kAllReduce;  // kAllReduce class only
};

struct ClassCost {
  double seconds = 0;  // all kernels of the class
  int64_t kernels = 0;
  double flops = 0;
  double bytes = 0;
  Bound bound = Bound::kMemory;  // the bound that set most of the class's time
};

struct StepCost {
  double seconds = 0;
  std::array<ClassCost, kOpClassCount> classes{};  // indexed by OpClass
  std::vector<KernelCost> kernels;
};

// The figures of a chip that price a kernel (peaks from its datasheet parameters).
struct ChipRates {
  double flops_per_s = 0;       // BF16 dense peak
  double bytes_per_s = 0;       // HBM peak
  double link_bytes_per_s = 0;  // all chip links, one direction
  double link_latency_s = 0;
  double clock_hz = 0;  // core clock, for the kernel floor
};
ChipRates chip_rates(const ChipConfig& chip);

// Seconds one kernel takes (the formula above) and what set them; the kernel's own seconds and
// bound are ignored. `tensor` is the step's tensor parallelism (the collectives' chip count).
double kernel_seconds(const ChipRates& rates, const EfficiencyConfig& efficiency,
                      const KernelCost& kernel, int64_t tensor, Bound* bound = nullptr);

// The kernels of a step with their work (count, m, flops, bytes) but no time, and the same priced.
// Throws InputError for an empty batch, a length below 1, a model without shape, a tensor degree
// that does not divide the heads, the KV heads (or is not a multiple of them) and the FFN width,
// an expert degree that does not divide the tensor degree and the experts (or is above 1 for a
// dense model), or a chip without a BF16 matrix unit, HBM or (for tensor > 1) chip links.
std::vector<KernelCost> step_kernels(const ChipConfig& chip, const llm::LlamaConfig& model,
                                     const StepShape& shape, const Parallelism& parallelism);
StepCost cost_step(const ChipConfig& chip, const llm::LlamaConfig& model, const StepShape& shape,
                   const Parallelism& parallelism);

}  // namespace seedchip::analytic
