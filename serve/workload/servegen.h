#pragma once
// Alibaba ServeGen (Bailian / Model Studio) load shapes, from the shared data folder
// (traces/servegen): the aggregate request rate of each model family per 10-minute window over 14
// days, and request-weighted histograms of input and output lengths. A workload is generated from
// them: arrivals from a Poisson process whose rate follows the curve (piecewise constant per
// window), lengths drawn from the histograms (uniform within a bin). Requests carry no prefix
// hashes (the data has none).
//
// A workload spec, as load_workload reads it:
//   servegen:model=language/m-mid[,from=HOURS][,hours=HOURS][,scale=X][,seed=N]
// `from` and `hours` pick the window of the curve (default the first hour), `scale` multiplies
// the rate (default 1: about 1,000 requests/s for language/m-mid), `seed` fixes the draw
// (default 1).
#include <cstdint>
#include <string>
#include <vector>

#include "serve/workload/workload.h"

namespace seedchip::serve {

struct RateCurve {
  std::string model;
  double window_s = 600;
  std::vector<double> requests_per_s;  // one per window, from time 0
  double mean() const;
  double peak() const;
};

struct LengthBin {
  int64_t lo = 0, hi = 1;  // tokens, [lo, hi)
  double probability = 0;
};

struct LengthHistograms {
  std::vector<LengthBin> input, output;
};

// The families with both a rate column and length histograms ("language/m-large", ...).
std::vector<std::string> servegen_models();
// Throw InputError naming the file, line and field on malformed data, or listing the models.
RateCurve read_servegen_rates(const std::string& model);
LengthHistograms read_servegen_lengths(const std::string& model);

struct ServeGenSpec {
  std::string model;
  double from_hours = 0, hours = 1, scale = 1;
  uint64_t seed = 1;
};
// "servegen:..." as above; InputError naming the key for anything else.
ServeGenSpec parse_servegen_spec(const std::string& spec);
Workload servegen_workload(const ServeGenSpec& spec);

}  // namespace seedchip::serve
