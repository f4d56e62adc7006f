#pragma once
// The cost of one serving-engine step (DESIGN.md, "Layers": the per-iteration cost table between
// the runtime and the serving simulator). The serving simulator never guesses a latency: every
// step is priced by a chip model, directly or through a table of steps it measured once.
//
//  - SimulatedStepCost: runtime::simulate_step, the timing simulator (SeedChip presets).
//  - AnalyticStepCost: sim::analytic::cost_step (GPU presets, `kind: gpu`, whose efficiencies are
//    fitted on measurements); its energy is power.tdp_w x chips x step time, an estimate.
//  - CachedStepCost: a small grid of steps measured with a direct model, interpolated.
//
// An instance of tp x pp chips: every layer split over tp chips (tensor parallel), the layers split
// into pp stages (pipeline parallel). A decode iteration of B sequences splits them into pp
// micro-batches of ceil(B / pp) that keep every stage busy: it lasts pp stage times of a
// micro-batch (the pipeline full, as runtime/llm_timing.h times decode), and every chip does its
// stage's work for each micro-batch. A prefill chunk is one sequence's: it passes the stages one
// after another (pp stage times plus the hand-offs), the other stages idle meanwhile — the engine
// runs one step at a time, so chunks of different sequences do not overlap in the pipeline (an
// upper bound on prefill time with pp > 1). A mixture of experts may divide its experts among ep
// groups of each stage's tp chips (expert parallelism, runtime/llm_timing.h; ep divides tp).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "arch/chip_loader.h"
#include "llm/llama2c.h"

namespace seedchip::serve {

struct StepCost {
  double seconds = 0;
  double joules = 0;  // all chips of the instance, static power for `seconds` included
  bool operator==(const StepCost&) const = default;
};

// Contract: deterministic, and safe to call from several threads at once.
class StepCostModel {
 public:
  virtual ~StepCostModel() = default;
  // One sequence's prefill chunk: `tokens` new tokens (>= 1) after which the sequence holds
  // `context` positions (>= tokens; a whole prompt has context == tokens).
  virtual StepCost prefill(int64_t tokens, int64_t context) const = 0;
  // One decode iteration of `batch` sequences (>= 1) whose contexts, the new token included,
  // average `mean_context` (>= 1).
  virtual StepCost decode(int64_t batch, double mean_context) const = 0;
  // How the costs are obtained, for reports ("timing simulator", ...).
  virtual std::string method() const = 0;
};

class SimulatedStepCost : public StepCostModel {
 public:
  SimulatedStepCost(llm::LlamaConfig model, LoadedChip chip, int64_t tp, int64_t pp = 1,
                    int64_t ep = 1);
  StepCost prefill(int64_t tokens, int64_t context) const override;
  // The simulator takes whole contexts: the mean is rounded.
  StepCost decode(int64_t batch, double mean_context) const override;
  std::string method() const override;

 private:
  llm::LlamaConfig model_;
  LoadedChip chip_;
  int64_t tp_, pp_, ep_;
};

class AnalyticStepCost : public StepCostModel {
 public:
  // With pp > 1 a stage is priced as the model cut to its ceil(n_layers / pp) layers (the
  // embedding and classifier counted in every stage: an overestimate of (pp - 1) classifiers), and
  // each hand-off as the activations over one chip's links.
  AnalyticStepCost(llm::LlamaConfig model, LoadedChip chip, int64_t tp, int64_t pp = 1,
                   int64_t ep = 1);
  // The analytic model prices whole prompts; a chunk that continues a prompt costs the chunk alone
  // plus the extra attention of its depth (see the definition).
  StepCost prefill(int64_t tokens, int64_t context) const override;
  StepCost decode(int64_t batch, double mean_context) const override;
  std::string method() const override;

 private:
  double prompt_seconds(int64_t length) const;  // one stage's
  double handoffs(int64_t tokens) const;        // seconds: tokens' activations through the stages
  StepCost priced(double seconds) const;
  llm::LlamaConfig model_, stage_;  // the whole model; the layers of one stage
  LoadedChip chip_;
  int64_t tp_, pp_, ep_;
};

// Parts run in one engine step (several prompts' chunks, a decode batch) share what every step
// pays whatever its work: reading the weights and the kernels' fixed latency. `shared` estimates
// it (a batch-1 decode, the smallest step); the step costs the parts' sum less `shared` for every
// part but one, and never less than its largest part. An estimate: the chip models price uniform
// steps only.
StepCost combine(const std::vector<StepCost>& parts, const StepCost& shared);

// The direct model for a chip: analytic for `kind: gpu` presets, the timing simulator otherwise.
std::unique_ptr<StepCostModel> make_direct_cost(const llm::LlamaConfig& model,
                                                const LoadedChip& chip, int64_t tp, int64_t pp = 1,
                                                int64_t ep = 1);

// A text that changes whenever a measured step could: the model's shape, the chip's resolved
// configuration (hashed), the tensor, pipeline and expert parallelism (pp and ep only when above 1,
// so that tables saved before them keep their key), the method and the version of the step prices
// (bumped when the chip models change). Keys saved cost tables.
std::string cost_identity(const llm::LlamaConfig& model, const LoadedChip& chip, int64_t tp,
                          const StepCostModel& direct, int64_t pp = 1, int64_t ep = 1);

// The grid a CachedStepCost measures. Decode: batch sizes log-spaced from 1 to decode_batch_max,
// each at two contexts (a decode step is affine in the context: attention reads it, nothing else
// depends on it). Prefill: chunk sizes log-spaced from prefill_tokens_min to prefill_tokens_max,
// each as a whole prompt (context = tokens) and at prefill_context_high positions.
struct CostGridOptions {
  int64_t decode_batch_max = 256;      // sequences
  int64_t decode_batch_points = 4;     // grid points on the batch axis
  int64_t decode_context_low = 128;    // tokens
  int64_t decode_context_high = 2048;  // tokens
  int64_t prefill_tokens_min = 32;     // tokens
  // Tokens; a longer prefill is priced as consecutive chunks of this size run in one step
  // (combine()): whole long prompts take seconds each to simulate.
  int64_t prefill_tokens_max = 512;
  int64_t prefill_token_points = 3;     // grid points on the token axis
  int64_t prefill_context_high = 2048;  // tokens
};

// A step shape as the cache keys it: prefill (tokens, context) or decode (batch, context).
struct CostShape {
  bool prefill = false;
  int64_t size = 1;     // prefill: tokens; decode: batch
  int64_t context = 1;  // positions after the step; decode: the mean, rounded
  auto operator<=>(const CostShape&) const = default;
};
std::string describe(const CostShape& shape);  // "decode batch 64, context 2048"

class CachedStepCost : public StepCostModel {
 public:
  // Throws InputError for a grid option out of range (naming it).
  CachedStepCost(const StepCostModel& direct, CostGridOptions grid);

  // The grid's shapes; measuring `shapes` (default: the grid's) not known yet through the direct
  // model on `jobs` threads; `progress` is called (one call at a time) before each.
  using Progress = std::function<void(int64_t done, int64_t total, const CostShape& shape)>;
  std::vector<CostShape> grid_shapes() const;
  void measure(int jobs, const Progress& progress) { measure(grid_shapes(), jobs, progress); }
  void measure(const std::vector<CostShape>& shapes, int jobs, const Progress& progress);
  // A shape through the direct model, remembered (for the consistency check).
  StepCost direct(const CostShape& shape);
  // Every shape measured so far, and measurements made earlier (a saved table).
  const std::map<CostShape, StepCost>& measured() const { return measured_; }
  void add_measured(const CostShape& shape, const StepCost& cost) { measured_[shape] = cost; }

  // Interpolated from the grid; measure() first (throws std::logic_error otherwise).
  StepCost prefill(int64_t tokens, int64_t context) const override;
  StepCost decode(int64_t batch, double mean_context) const override;
  std::string method() const override;
  const CostGridOptions& grid() const { return grid_; }

 private:
  StepCost at(const CostShape& shape) const;
  StepCost chunk(int64_t tokens, int64_t context) const;
  const StepCostModel& direct_;
  CostGridOptions grid_;
  std::vector<int64_t> batches_, tokens_;
  std::map<CostShape, StepCost> measured_;
};

// Cached against direct costs on `samples` random shapes (seeded) inside the grid's range: decode
// batches 1..decode_batch_max at contexts decode_context_low..2 x decode_context_high, prefill
// chunks prefill_tokens_min..prefill_tokens_max at contexts up to prefill_context_high. The error
// of a shape is |cached - direct| / direct in seconds.
struct ConsistencyReport {
  int64_t samples = 0;
  double mean_error = 0, max_error = 0;
  std::string worst;  // the shape of the largest error
};
// The random shapes check_consistency prices (measure them together with the grid to keep every
// thread busy: the cache interpolates from its grid only, whatever else it has measured).
std::vector<CostShape> consistency_shapes(const CostGridOptions& grid, int64_t samples,
                                          uint64_t seed);
ConsistencyReport check_consistency(CachedStepCost& cache, int64_t samples, uint64_t seed,
                                    int jobs = 1,
                                    const CachedStepCost::Progress& progress = nullptr);

// A table of measured steps on disk (JSON), valid for one cost_identity: load returns nothing when
// the file does not exist or was measured for another identity.
void save_cost_table(const std::string& path, const std::string& identity,
                     const std::map<CostShape, StepCost>& measured);
std::map<CostShape, StepCost> load_cost_table(const std::string& path, const std::string& identity);

}  // namespace seedchip::serve
