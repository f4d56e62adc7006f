#pragma once
// Fits the shared efficiency parameters of the analytic model (the efficiency.* chip keys) to
// measured step times. One parameter vector serves every case: chips differ only in their own
// datasheet figures (peaks, clock, links), never in a value fitted for them alone.
//
// The objective is the mean absolute percentage error over every measured value. The search is
// deterministic: a pattern search in the logarithm of each parameter (multiplicative steps, halved
// when no move improves), started from a fixed set of points spread over the bounds (a Halton
// sequence), keeping the best end point.
#include <string>
#include <vector>

#include "arch/chip_config.h"
#include "llm/llama2c.h"
#include "sim/analytic/analytic.h"

namespace seedchip::analytic {

// One step shape on one chip with every time measured for it (repeated runs).
struct FitCase {
  ChipConfig chip;  // its efficiency section is replaced by the parameters being fitted
  llm::LlamaConfig model;
  StepShape shape;
  Parallelism parallelism;
  std::vector<double> measured_seconds;
};

// A free parameter: an efficiency.* key and the range the search keeps it in (lo > 0).
struct FitParameter {
  std::string key;
  double lo = 0;
  double hi = 0;
};

struct FitResult {
  EfficiencyConfig efficiency;  // `start` with the free parameters at their best values
  double objective = 0;         // mean |predicted - measured| / measured over every measured value
  int evaluations = 0;
};

// Predicted seconds of a case under `efficiency`.
double predict_seconds(const FitCase& fit_case, const EfficiencyConfig& efficiency);

// Mean absolute percentage error (as a fraction) of `cases` under `efficiency`.
double mean_abs_pct_error(const std::vector<FitCase>& cases, const EfficiencyConfig& efficiency);

// Throws InputError for no cases, no measured value, an unknown or non-efficiency key, or a bound
// pair that is not 0 < lo <= hi.
FitResult fit_efficiency(const std::vector<FitCase>& cases, const std::vector<FitParameter>& free,
                         const EfficiencyConfig& start);

}  // namespace seedchip::analytic
