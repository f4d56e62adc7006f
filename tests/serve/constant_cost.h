#pragma once
// A step-cost model for serving tests where every latency can be worked out by hand: every prefill
// chunk costs P seconds and every decode iteration D, whatever their shape.
#include <string>

#include "serve/cost/cost.h"

namespace seedchip::serve::testing {

inline constexpr double P = 0.1, D = 0.01;

class ConstantCost : public StepCostModel {
 public:
  StepCost prefill(int64_t, int64_t) const override { return {P, 1}; }
  StepCost decode(int64_t, double) const override { return {D, 0.5}; }
  std::string method() const override { return "constant"; }
};

}  // namespace seedchip::serve::testing
