#include "sim/core/systolic_reference.h"

#include <stdexcept>

namespace seedchip::sim {
namespace {

struct Slot {
  bool valid = false;
  int row = 0;  // which input row the value belongs to
  double value = 0;
};

}  // namespace

SystolicRun simulate_systolic(int rows, int cols, int rows_per_cycle, int m, int k, int n,
                              const std::vector<double>& a, const std::vector<double>& w) {
  if (k < 1 || k > rows || n < 1 || n > cols || m < 1 || rows_per_cycle < 1)
    throw std::invalid_argument("simulate_systolic: tile does not fit the array");
  const int lanes = rows_per_cycle;
  const int top = rows - k;  // first array row of the tile
  auto at = [&](int i, int j, int l) { return (static_cast<size_t>(i) * cols + j) * lanes + l; };
  const size_t slots = static_cast<size_t>(rows) * cols * lanes;
  std::vector<Slot> act(slots), psum(slots), next_act(slots), next_psum(slots);

  SystolicRun run;
  run.output.assign(static_cast<size_t>(m) * n, 0);
  int64_t outputs_left = static_cast<int64_t>(m) * n;
  for (int t = 0; outputs_left > 0; ++t) {
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j)
        for (int l = 0; l < lanes; ++l) {
          Slot in;
          if (j > 0) {
            in = act[at(i, j - 1, l)];
          } else if (i >= top) {
            // Skew: tile row ti sees input row r at cycle floor(r / lanes) + ti.
            const int ti = i - top;
            const int r = (t - ti) * lanes + l;
            if (t >= ti && r < m) in = {true, r, a[static_cast<size_t>(r) * k + ti]};
          }
          next_act[at(i, j, l)] = in;
          Slot sum;
          if (in.valid && i >= top) {
            const Slot above = i > top ? psum[at(i - 1, j, l)] : Slot{true, in.row, 0.0};
            if (!above.valid || above.row != in.row)
              throw std::logic_error("simulate_systolic: partial sum and activation out of step");
            const double weight = j < n ? w[static_cast<size_t>(i - top) * n + j] : 0.0;
            sum = {true, in.row, above.value + in.value * weight};
          }
          next_psum[at(i, j, l)] = sum;
          if (i == rows - 1 && j < n && sum.valid) {
            run.output[static_cast<size_t>(sum.row) * n + j] = sum.value;
            run.cycles = static_cast<uint64_t>(t) + 1;
            --outputs_left;
          }
        }
    act.swap(next_act);
    psum.swap(next_psum);
  }
  return run;
}

}  // namespace seedchip::sim
