#include "sim/analytic/analytic.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "arch/chip_peaks.h"
#include "arch/error.h"

namespace seedchip::analytic {
namespace {

constexpr double kBytesPerValue = 2;  // BF16 weights, activations and KV cache

struct Efficiencies {
  std::array<double, kOpClassCount> compute{};
  std::array<double, kOpClassCount> memory{};
};

Efficiencies efficiencies(const EfficiencyConfig& e) {
  Efficiencies out;
  auto set = [&out](OpClass c, double compute, double memory) {
    out.compute[static_cast<int>(c)] = compute;
    out.memory[static_cast<int>(c)] = memory;
  };
  set(OpClass::kGemmLarge, e.gemm_large_compute, e.gemm_large_memory);
  set(OpClass::kGemmSkinny, e.gemm_skinny_compute, e.gemm_skinny_memory);
  set(OpClass::kAttentionPrefill, e.attention_prefill_compute, e.attention_prefill_memory);
  set(OpClass::kAttentionDecode, e.attention_decode_compute, e.attention_decode_memory);
  // Elementwise kernels do next to no arithmetic: their flops are counted as 0, so the compute
  // efficiency never matters; the all-reduce uses its link efficiency instead.
  set(OpClass::kElementwise, 1, e.elementwise_memory);
  set(OpClass::kAllReduce, 1, 1);
  return out;
}

double bf16_flops_per_s(const ChipPeaks& peaks) {
  for (const MxuFormatPeak& format : peaks.formats)
    if (format.name == "bf16") return format.tflops * 1e12;
  return 0;
}

void check_input(const ChipConfig& chip, const ChipPeaks& peaks, const llm::LlamaConfig& m,
                 const StepShape& shape, int64_t tp, int64_t ep) {
  if (shape.lengths.empty()) throw InputError("analytic step: the batch has no sequences");
  for (int64_t length : shape.lengths)
    if (length < 1)
      throw InputError(
          fmt::format("analytic step: sequence length {} (expected at least 1)", length));
  if (m.dim <= 0 || m.hidden_dim <= 0 || m.n_layers <= 0 || m.n_heads <= 0 || m.n_kv_heads <= 0 ||
      m.vocab_size <= 0)
    throw InputError(fmt::format(
        "analytic step: model '{}' has no shape (dim {}, hidden {}, layers "
        "{}, heads {}, kv heads {}, vocab {})",
        m.name, m.dim, m.hidden_dim, m.n_layers, m.n_heads, m.n_kv_heads, m.vocab_size));
  if (tp < 1)
    throw InputError(fmt::format("analytic step: tensor parallelism {} (expected >= 1)", tp));
  bool kv_splits = m.n_kv_heads % tp == 0 || tp % m.n_kv_heads == 0;
  if (m.n_heads % tp != 0 || m.hidden_dim % tp != 0 || !kv_splits)
    throw InputError(fmt::format(
        "analytic step: tensor parallelism {} must divide the heads ({}) and the FFN width ({}), "
        "and divide or be a multiple of the KV heads ({})",
        tp, m.n_heads, m.hidden_dim, m.n_kv_heads));
  if (ep < 1 || tp % ep != 0 || (ep > 1 && (m.n_experts == 0 || m.n_experts % ep != 0)))
    throw InputError(fmt::format(
        "analytic step: expert parallelism {} must divide the tensor parallelism ({}) and the "
        "experts ({}; a dense model takes only 1)",
        ep, tp, m.n_experts));
  if (m.n_experts > 0 && (m.hidden_dim % (tp / ep)) != 0)
    throw InputError(fmt::format(
        "analytic step: the expert FFN width {} does not split over {} chips per expert group",
        m.hidden_dim, tp / ep));
  if (bf16_flops_per_s(peaks) <= 0)
    throw InputError(fmt::format("analytic step: chip '{}' has no BF16 matrix unit", chip.name));
  if (peaks.hbm_gbytes_per_s <= 0)
    throw InputError(fmt::format("analytic step: chip '{}' has no HBM bandwidth", chip.name));
  if (tp > 1 && peaks.link_gbytes_per_s <= 0)
    throw InputError(
        fmt::format("analytic step: tensor parallelism {} needs chip links; chip '{}' has none", tp,
                    chip.name));
}

// Collects a step's kernels with their work; classifies GEMMs by the chip's ridge point.
class StepBuilder {
 public:
  explicit StepBuilder(const ChipRates& rates) : ridge_(rates.flops_per_s / rates.bytes_per_s) {}

  // out = in x W for M tokens, W of K x N on this chip.
  void gemm(const std::string& name, int64_t count, int64_t m, int64_t n, int64_t k) {
    gemm_weights(name, count, m, n, k, static_cast<double>(n) * static_cast<double>(k), m);
  }

  // A GEMM whose weight values or token rows differ from M x N x K's (grouped expert GEMMs):
  // `weights` values read, `rows` tokens multiplied in total, `m` rows per expert.
  void gemm_weights(const std::string& name, int64_t count, int64_t m, int64_t n, int64_t k,
                    double weights, int64_t rows) {
    double r = static_cast<double>(rows), dn = static_cast<double>(n), dk = static_cast<double>(k);
    OpClass c = static_cast<double>(m) < ridge_ ? OpClass::kGemmSkinny : OpClass::kGemmLarge;
    add(name, c, count, m, 2 * r * dn * dk, kBytesPerValue * (weights + r * dk + r * dn));
  }

  void add(const std::string& name, OpClass c, int64_t count, int64_t m, double flops,
           double bytes) {
    kernels_.push_back({name, c, count, m, flops, bytes, 0, Bound::kMemory});
  }

  void collective(const std::string& name, Collective kind, int64_t count, double bytes) {
    kernels_.push_back({name, OpClass::kAllReduce, count, 0, 0, bytes, 0, Bound::kLink, kind});
  }

  std::vector<KernelCost> take() { return std::move(kernels_); }

 private:
  double ridge_;
  std::vector<KernelCost> kernels_;
};

}  // namespace

ChipRates chip_rates(const ChipConfig& chip) {
  const ChipPeaks peaks = chip_peaks(chip);
  return {bf16_flops_per_s(peaks), peaks.hbm_gbytes_per_s * 1e9, peaks.link_gbytes_per_s * 1e9,
          chip.links.latency_ns * 1e-9, chip.core.clock_mhz * 1e6};
}

double kernel_seconds(const ChipRates& rates, const EfficiencyConfig& efficiency,
                      const KernelCost& k, int64_t tensor, Bound* bound) {
  double seconds = 0;
  Bound set_by = Bound::kLink;
  if (k.op_class == OpClass::kAllReduce) {
    // Ring all-reduce: 2(K-1) steps of 1/K of the payload; ring all-gather: K-1 of them;
    // one-shot all-to-all: (K-1)/K of the buffer sent at once, one latency.
    const double chips = static_cast<double>(tensor);
    const double transfers = k.collective == Collective::kAllReduce ? 2 * (chips - 1) : chips - 1;
    const double latencies = k.collective == Collective::kAllToAll ? 1 : transfers;
    seconds = transfers / chips * k.bytes / (rates.link_bytes_per_s * efficiency.allreduce_link) +
              latencies * (rates.link_latency_s + efficiency.allreduce_step_ns * 1e-9);
  } else {
    const Efficiencies eff = efficiencies(efficiency);
    const int i = static_cast<int>(k.op_class);
    const double compute = k.flops / (rates.flops_per_s * eff.compute[i]);
    const double memory = k.bytes / (rates.bytes_per_s * eff.memory[i]);
    seconds = std::max(compute, memory);
    set_by = compute > memory ? Bound::kCompute : Bound::kMemory;
  }
  // The floor applies to every kernel alike: it stands for launch and synchronisation.
  const double floor = efficiency.kernel_min_cycles / rates.clock_hz;
  if (floor > seconds) {
    seconds = floor;
    set_by = Bound::kKernelFloor;
  }
  if (bound) *bound = set_by;
  return seconds;
}

const char* op_class_name(OpClass op_class) {
  switch (op_class) {
    case OpClass::kGemmLarge:
      return "gemm_large";
    case OpClass::kGemmSkinny:
      return "gemm_skinny";
    case OpClass::kAttentionPrefill:
      return "attention_prefill";
    case OpClass::kAttentionDecode:
      return "attention_decode";
    case OpClass::kElementwise:
      return "elementwise";
    case OpClass::kAllReduce:
      return "allreduce";
  }
  return "?";
}

const char* bound_name(Bound bound) {
  switch (bound) {
    case Bound::kCompute:
      return "compute";
    case Bound::kMemory:
      return "memory";
    case Bound::kLink:
      return "link";
    case Bound::kKernelFloor:
      return "kernel floor";
  }
  return "?";
}

std::vector<KernelCost> step_kernels(const ChipConfig& chip, const llm::LlamaConfig& m,
                                     const StepShape& shape, const Parallelism& parallelism) {
  const int64_t tp = parallelism.tensor, ep = parallelism.expert;
  const ChipPeaks peaks = chip_peaks(chip);
  check_input(chip, peaks, m, shape, tp, ep);
  const bool prefill = shape.phase == Phase::kPrefill;
  const int64_t sequences = static_cast<int64_t>(shape.lengths.size());
  int64_t tokens = sequences;  // rows every GEMM of the step multiplies
  if (prefill) {
    tokens = 0;
    for (int64_t length : shape.lengths) tokens += length;
  }
  const double t = static_cast<double>(tokens);
  const int64_t d = m.dim, hd = m.head_dim(), heads = m.n_heads / tp;
  const int64_t kv_heads =
      std::max<int64_t>(1, m.n_kv_heads / tp);  // replicated when TP > KV heads
  const int64_t hidden = m.hidden_dim / tp;
  const int64_t layers = m.n_layers;
  const double dd = static_cast<double>(d), dhd = static_cast<double>(hd);
  const double qk_values = static_cast<double>(heads + kv_heads) * dhd;  // per token

  StepBuilder step(chip_rates(chip));
  step.add("embedding", OpClass::kElementwise, 1, 0, 0, kBytesPerValue * 2 * t * dd);

  // Per layer, in execution order.
  step.add("attention_norm", OpClass::kElementwise, layers, 0, 0, kBytesPerValue * 2 * t * dd);
  step.gemm("qkv_proj", layers, tokens, (heads + 2 * kv_heads) * hd, d);
  if (m.qk_norm)
    step.add("qk_norm", OpClass::kElementwise, layers, 0, 0, kBytesPerValue * 2 * t * qk_values);
  step.add("rope", OpClass::kElementwise, layers, 0, 0, kBytesPerValue * 2 * t * qk_values);
  double attention_flops = 0, attention_bytes = 0;
  const double q_values = static_cast<double>(heads) * dhd,
               kv_values = static_cast<double>(kv_heads) * dhd;
  for (int64_t length : shape.lengths) {
    const double l = static_cast<double>(length);
    if (prefill) {
      // Causal: QK^T and PV over the lower triangle, 2 x L^2/2 x head_dim MACs per head each.
      attention_flops += 2 * l * l * q_values;
      // Q, K, V read and O written once (a fused kernel), K and V appended to the cache.
      attention_bytes += kBytesPerValue * l * (2 * q_values + 4 * kv_values);
    } else {
      attention_flops += 4 * l * q_values;
      // The whole KV cache read; q read, o written, the new K and V appended.
      attention_bytes += kBytesPerValue * (2 * l * kv_values + 2 * q_values + 2 * kv_values);
    }
  }
  step.add("attention", prefill ? OpClass::kAttentionPrefill : OpClass::kAttentionDecode, layers, 0,
           attention_flops, attention_bytes);
  step.gemm("o_proj", layers, tokens, d, heads * hd);
  if (tp > 1) step.add("allreduce", OpClass::kAllReduce, layers, 0, 0, kBytesPerValue * t * dd);
  step.add("residual_add", OpClass::kElementwise, 2 * layers, 0, 0, kBytesPerValue * 3 * t * dd);
  step.add("ffn_norm", OpClass::kElementwise, layers, 0, 0, kBytesPerValue * 2 * t * dd);

  // A chip's share of each expert: the FFN width over its group's tp / ep chips.
  const int64_t expert_hidden = m.n_experts > 0 ? m.hidden_dim / (tp / ep) : hidden;
  const int64_t up_width = (m.gated_ffn ? 2 : 1) * expert_hidden;  // gate and up in one GEMM
  double ffn_rows = t;  // token x expert pairs through this chip's FFN
  if (m.n_experts > 0) {
    const double experts = static_cast<double>(m.n_experts);
    const double k = static_cast<double>(m.experts_per_token);
    const double e_ep = static_cast<double>(ep);
    // Expected distinct experts of this chip's group touched when every token picks k of E
    // uniformly; with ep > 1 at least the ceil(k / ep) that one token reaches (the chip timed is
    // one the step's tokens reach, which the step waits for).
    double active = experts / e_ep * (1 - std::pow(1 - k / experts, t));
    if (ep > 1) active = std::max(active, std::ceil(k / e_ep));
    ffn_rows = t * k / e_ep;
    const auto per_expert = static_cast<int64_t>(std::ceil(ffn_rows / active));
    step.gemm("router", layers, tokens, m.n_experts, d);
    if (ep > 1)
      step.collective("dispatch", Collective::kAllToAll, layers, kBytesPerValue * ffn_rows * dd);
    step.gemm_weights("ffn_up", layers, per_expert, up_width, d,
                      active * static_cast<double>(up_width) * dd, static_cast<int64_t>(ffn_rows));
    step.add(
        "ffn_activation", OpClass::kElementwise, layers, 0, 0,
        kBytesPerValue * (m.gated_ffn ? 3 : 2) * ffn_rows * static_cast<double>(expert_hidden));
    step.gemm_weights("ffn_down", layers, per_expert, d, expert_hidden,
                      active * dd * static_cast<double>(expert_hidden),
                      static_cast<int64_t>(ffn_rows));
    if (ep > 1)
      step.collective("combine", Collective::kAllToAll, layers, kBytesPerValue * ffn_rows * dd);
  } else {
    step.gemm("ffn_up", layers, tokens, up_width, d);
    step.add("ffn_activation", OpClass::kElementwise, layers, 0, 0,
             kBytesPerValue * (m.gated_ffn ? 3 : 2) * ffn_rows * static_cast<double>(hidden));
    step.gemm("ffn_down", layers, tokens, d, hidden);
  }
  if (ep > 1)
    step.collective("allgather", Collective::kAllGather, layers, kBytesPerValue * t * dd);
  else if (tp > 1)
    step.add("allreduce", OpClass::kAllReduce, layers, 0, 0, kBytesPerValue * t * dd);

  // The classifier runs on the last position of each sequence only, its vocabulary split over the
  // chips; gathering the logits (sequences x vocab values) is below 0.1% of a step at these
  // shapes and is not priced.
  step.add("final_norm", OpClass::kElementwise, 1, 0, 0,
           kBytesPerValue * 2 * static_cast<double>(sequences) * dd);
  step.gemm("lm_head", 1, sequences, m.vocab_size / tp, d);
  return step.take();
}

StepCost cost_step(const ChipConfig& chip, const llm::LlamaConfig& model, const StepShape& shape,
                   const Parallelism& parallelism) {
  StepCost cost;
  cost.kernels = step_kernels(chip, model, shape, parallelism);
  const ChipRates rates = chip_rates(chip);
  std::array<std::array<double, 4>, kOpClassCount> by_bound{};
  for (KernelCost& k : cost.kernels) {
    k.seconds = kernel_seconds(rates, chip.efficiency, k, parallelism.tensor, &k.bound);
    const int i = static_cast<int>(k.op_class);
    const double n = static_cast<double>(k.count);
    ClassCost& c = cost.classes[i];
    c.seconds += n * k.seconds;
    c.kernels += k.count;
    c.flops += n * k.flops;
    c.bytes += n * k.bytes;
    by_bound[i][static_cast<int>(k.bound)] += n * k.seconds;
    cost.seconds += n * k.seconds;
  }
  for (int i = 0; i < kOpClassCount; ++i)
    cost.classes[i].bound = static_cast<Bound>(
        std::max_element(by_bound[i].begin(), by_bound[i].end()) - by_bound[i].begin());
  return cost;
}

}  // namespace seedchip::analytic
