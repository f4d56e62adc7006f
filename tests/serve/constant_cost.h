#pragma once
// Step-cost models for serving tests: ConstantCost, where every latency can be worked out by hand
// (every prefill chunk costs P seconds and every decode iteration D, whatever their shape), and
// ShapedCost.
#include <cstdint>
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

// Costs that grow with the step's shape, so that steps differ in length.
class ShapedCost : public StepCostModel {
 public:
  explicit ShapedCost(double scale = 1) : scale_(scale) {}
  StepCost prefill(int64_t tokens, int64_t context) const override {
    const double s = scale_ * (0.01 + 1e-4 * static_cast<double>(tokens) +
                               1e-8 * static_cast<double>(tokens * context));
    return {s, 700 * s};
  }
  StepCost decode(int64_t batch, double context) const override {
    const double s = scale_ * (0.005 + 1e-4 * static_cast<double>(batch) + 1e-7 * context);
    return {s, 700 * s};
  }
  std::string method() const override { return "shaped"; }

 private:
  double scale_;
};

}  // namespace seedchip::serve::testing
