#pragma once
// A cycle-by-cycle model of the weight-stationary array, for validating the closed-form MXU
// latency on small tiles: every cycle each PE takes the activation from its left neighbour and the
// partial sum from the PE above, so timing and values emerge from the data movement alone.
#include <cstdint>
#include <vector>

namespace seedchip::sim {

struct SystolicRun {
  uint64_t cycles = 0;         // from the first input entering until the last result leaves
  std::vector<double> output;  // m x n, row-major
};

// A (m x k) times W (k x n) on a rows x cols array whose PEs each take `rows_per_cycle` input rows
// per cycle. The tile sits in the bottom-left k x n PEs; accumulation starts at its top row.
SystolicRun simulate_systolic(int rows, int cols, int rows_per_cycle, int m, int k, int n,
                              const std::vector<double>& a, const std::vector<double>& w);

}  // namespace seedchip::sim
