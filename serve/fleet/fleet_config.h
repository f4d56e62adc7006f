#pragma once
// The inputs of a fleet as a user writes them: a fleet file (the pools) and SLO class rules.
//
// A fleet file (YAML) lists the pools:
//
//   pools:
//     - chip: h200            # a chip preset or a preset YAML file (required)
//       set: [power.tdp_w=600]  # overrides of the chip's keys, as --set (optional)
//       chips: 8              # chips per instance (default 8)
//       tp: 4                 # chips per tensor-parallel group, a divisor of chips (default all);
//                             # the instance pipelines its layers over chips / tp such groups
//       ep: 2                 # expert groups among a stage's tp chips (mixtures of experts; a
//                             # divisor of tp and of the experts; default 1: none)
//       instances: 4          # identical instances (default 1)
//       scheduler: chunked    # serve::schedulers() (default continuous)
//       max_batch: 256        # sequences running at once per instance (default 256)
//       role: both            # both (default), or prefill / decode: a disaggregated fleet, whose
//                             # prefill pools hand each sequence with its KV to a decode pool
//                             # (serve/fleet/fleet.h); one needs the other
//
// Any other key, a missing or bad value, an unknown chip or scheduler, or an override the chip
// rejects is an InputError naming the file, the line and the key path.
//
// An SLO class rule (`seedchip serve-sim --slo-class`, one per class) is
//
//   NAME:ITEM,ITEM,...
//
// where NAME is letters, digits, '-' and '_', and each ITEM is an objective, ttft=DURATION or
// tpot=DURATION (DURATION: a positive number with s, ms or us; one left out is the default's), or a
// condition on the request's lengths, prompt or output, then >, >=, < or <=, then a whole number
// of tokens: `long:prompt>4096,ttft=10s`. A request belongs to the last class whose conditions it
// all meets (a class without conditions takes every request): list the general classes first.
#include <cstdint>
#include <string>
#include <vector>

#include "arch/chip_loader.h"
#include "llm/llama2c.h"
#include "serve/engine/engine.h"
#include "serve/fleet/fleet.h"
#include "serve/workload/workload.h"

namespace seedchip::serve {

struct PoolSpec {
  std::string chip;                    // preset name or YAML file
  std::vector<std::string> overrides;  // "key=value"
  int64_t chips = 8, instances = 1, max_batch = 256;
  int64_t tp = 0;  // chips per tensor-parallel group; 0: all of them
  int64_t ep = 1;  // expert groups among a group's tp chips (serve/cost/cost.h)
  std::string scheduler = "continuous";
  PoolRole role = PoolRole::kBoth;
  int64_t tensor_parallel() const { return tp > 0 ? tp : chips; }
  int64_t pipeline_stages() const { return chips / tensor_parallel(); }
};

// "TP 8", "TP 4 x PP 2" or "TP 8, EP 4" for `chips` chips in groups of `tp`, experts `ep` ways.
std::string parallelism(int64_t chips, int64_t tp, int64_t ep = 1);

// The pools of a fleet file (at least one).
std::vector<PoolSpec> load_fleet_file(const std::string& path);

// The pool `spec` describes, serving `model` on `chip` (spec's chip with its overrides, loaded)
// with step costs from `cost` (measured over spec.chips chips; it must outlive every run of the
// pool). Each instance runs `engine`'s options with spec.max_batch and the KV pages spec.chips
// chips hold after the weights (kv_pages_for, engine.page_tokens per page), spec's scheduler, and
// idles at power.idle_w x spec.chips; its longest sequence is the model's. For the KV transfers of
// a disaggregated fleet the pool carries the KV bytes per position and the bandwidth of all its
// chips' links (spec.chips x links.count x links.gbytes_per_s), whatever its role. Named "CHIP xK",
// with "(TP t x PP p)" after it for a pipelined instance (", EP e" with expert parallelism).
// InputError (kv_pages_for's) when the weights do not fit spec.chips chips.
Pool make_pool(const PoolSpec& spec, const llm::LlamaConfig& model, const LoadedChip& chip,
               const StepCostModel* cost, const EngineOptions& engine);

struct SloRule {
  struct Condition {
    bool prompt = true;  // prompt length, else output length
    std::string op;      // ">", ">=", "<", "<="
    int64_t tokens = 0;
    bool holds(const Request& q) const;
  };
  SloClass slo;
  std::vector<Condition> when;
  bool matches(const Request& q) const;
};

// One rule's text; objectives it leaves out are `defaults`' values. InputError naming `option`
// (the command-line option) and what was expected.
SloRule parse_slo_rule(const std::string& text, const SloClass& defaults,
                       const std::string& option = "--slo-class");
// Sets every request's slo_class to the index of the last rule it matches; InputError (naming
// `option`) for a request that matches none, or two rules of one name.
void assign_slo_classes(Workload& w, const std::vector<SloRule>& rules,
                        const std::string& option = "--slo-class");

// The requests of `inner` with their slo_class set as assign_slo_classes sets it, one at a time;
// the same InputErrors (two rules of one name: at construction).
class ClassifiedStream final : public RequestStream {
 public:
  ClassifiedStream(std::unique_ptr<RequestStream> inner, std::vector<SloRule> rules,
                   std::string option = "--slo-class");
  const std::string& name() const override { return inner_->name(); }
  bool next(Request& r) override;

 private:
  std::unique_ptr<RequestStream> inner_;
  std::vector<SloRule> rules_;
  std::string option_;
};

}  // namespace seedchip::serve
