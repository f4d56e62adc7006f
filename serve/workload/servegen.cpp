#include "serve/workload/servegen.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "arch/error.h"

namespace seedchip::serve {
namespace {

constexpr const char* kRates = "traces/servegen/servegen_aggregate_rate_per_600s.csv";
constexpr const char* kLengths = "traces/servegen/servegen_length_hist_request_weighted.csv";

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::stringstream s(line);
  for (std::string item; std::getline(s, item, sep);) out.push_back(item);
  return out;
}

double number(const std::string& text, const std::string& where) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0)
    throw InputError(where + ": expected a non-negative number, got '" + text + "'");
  return v;
}

// "language/m-mid" <-> the rate column "language_m-mid_req_per_s".
std::string rate_column(const std::string& model) {
  std::string column = model;
  std::replace(column.begin(), column.end(), '/', '_');
  return column + "_req_per_s";
}

std::ifstream open(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the ServeGen data");
  return in;
}

}  // namespace

double RateCurve::mean() const {
  double sum = 0;
  for (double r : requests_per_s) sum += r;
  return requests_per_s.empty() ? 0 : sum / static_cast<double>(requests_per_s.size());
}

double RateCurve::peak() const {
  return requests_per_s.empty() ? 0
                                : *std::max_element(requests_per_s.begin(), requests_per_s.end());
}

std::vector<std::string> servegen_models() {
  const std::string path = shared_data_path(kLengths);
  std::ifstream in = open(path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> models;
  while (std::getline(in, line)) {
    const std::string model = split(line, ',').front();
    if (std::find(models.begin(), models.end(), model) == models.end()) models.push_back(model);
  }
  return models;
}

RateCurve read_servegen_rates(const std::string& model) {
  const std::string path = shared_data_path(kRates);
  std::ifstream in = open(path);
  std::string line;
  if (!std::getline(in, line)) throw InputError(path + ": empty file");
  const std::vector<std::string> header = split(line, ',');
  const auto column = std::find(header.begin(), header.end(), rate_column(model));
  if (header.empty() || header[0] != "window_start_s" || column == header.end()) {
    std::string known;
    for (const std::string& m : servegen_models()) known += (known.empty() ? "" : ", ") + m;
    throw InputError(path + ": no rate column for model '" + model + "' (models: " + known + ")");
  }
  const size_t index = static_cast<size_t>(column - header.begin());
  RateCurve curve;
  curve.model = model;
  int64_t line_number = 1;
  double previous_start = -1;
  while (std::getline(in, line)) {
    ++line_number;
    const std::string where = path + ":" + std::to_string(line_number);
    const std::vector<std::string> fields = split(line, ',');
    if (fields.size() != header.size())
      throw InputError(where + ": expected " + std::to_string(header.size()) + " fields, got " +
                       std::to_string(fields.size()));
    const double start = number(fields[0], where + ": field window_start_s");
    if (start != previous_start + curve.window_s && previous_start >= 0)
      throw InputError(where + ": field window_start_s: expected " +
                       std::to_string(previous_start + curve.window_s) + " (windows of 600 s)");
    previous_start = start;
    curve.requests_per_s.push_back(number(fields[index], where + ": field " + header[index]));
  }
  return curve;
}

LengthHistograms read_servegen_lengths(const std::string& model) {
  const std::string path = shared_data_path(kLengths);
  std::ifstream in = open(path);
  std::string line;
  std::getline(in, line);
  if (line != "model,field,bin_lo,bin_hi,prob")
    throw InputError(path + ":1: expected the header model,field,bin_lo,bin_hi,prob");
  LengthHistograms h;
  int64_t line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    const std::string where = path + ":" + std::to_string(line_number);
    const std::vector<std::string> f = split(line, ',');
    if (f.size() != 5) throw InputError(where + ": expected 5 fields");
    if (f[0] != model) continue;
    LengthBin b;
    b.lo = static_cast<int64_t>(number(f[2], where + ": field bin_lo"));
    b.hi = static_cast<int64_t>(number(f[3], where + ": field bin_hi"));
    b.probability = number(f[4], where + ": field prob");
    if (b.lo < 0 || b.hi <= b.lo)
      throw InputError(where + ": fields bin_lo, bin_hi: expected 0 <= bin_lo < bin_hi");
    if (f[1] == "input_tokens")
      h.input.push_back(b);
    else if (f[1] == "output_tokens")
      h.output.push_back(b);
    else
      throw InputError(where + ": field field: expected input_tokens or output_tokens, got '" +
                       f[1] + "'");
  }
  if (h.input.empty() || h.output.empty()) {
    std::string known;
    for (const std::string& m : servegen_models()) known += (known.empty() ? "" : ", ") + m;
    throw InputError(path + ": no length histograms for model '" + model + "' (models: " + known +
                     ")");
  }
  return h;
}

ServeGenSpec parse_servegen_spec(const std::string& spec) {
  const std::string prefix = "servegen:";
  if (spec.rfind(prefix, 0) != 0)
    throw InputError("'" + spec + "': a ServeGen workload begins with servegen:");
  ServeGenSpec s;
  for (const std::string& item : split(spec.substr(prefix.size()), ',')) {
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq),
                      value = eq == std::string::npos ? "" : item.substr(eq + 1);
    const std::string where = "workload '" + spec + "': key '" + key + "'";
    if (key == "model") {
      s.model = value;
    } else if (key == "from") {
      s.from_hours = number(value, where);
    } else if (key == "hours") {
      s.hours = number(value, where);
    } else if (key == "scale") {
      s.scale = number(value, where);
    } else if (key == "seed") {
      s.seed = static_cast<uint64_t>(number(value, where));
    } else {
      throw InputError("workload '" + spec +
                       "': expected model=, from=, hours=, scale= or seed=, got '" + item + "'");
    }
  }
  if (s.model.empty()) throw InputError("workload '" + spec + "': model= is required");
  if (!(s.hours > 0) || !(s.scale > 0))
    throw InputError("workload '" + spec + "': hours and scale must be positive");
  return s;
}

Workload servegen_workload(const ServeGenSpec& spec) {
  const RateCurve curve = read_servegen_rates(spec.model);
  const LengthHistograms lengths = read_servegen_lengths(spec.model);
  const double begin = spec.from_hours * 3600, end = begin + spec.hours * 3600;
  const double span = curve.window_s * static_cast<double>(curve.requests_per_s.size());
  if (end > span)
    throw InputError("ServeGen " + spec.model + ": the window ends at " +
                     std::to_string(end / 3600) + " h, after the curve's " +
                     std::to_string(span / 3600) + " h");
  auto weights = [](const std::vector<LengthBin>& bins) {
    std::vector<double> w;
    for (const LengthBin& b : bins) w.push_back(b.probability);
    return std::discrete_distribution<size_t>(w.begin(), w.end());
  };
  std::discrete_distribution<size_t> input = weights(lengths.input),
                                     output = weights(lengths.output);
  std::mt19937_64 rng(spec.seed);
  // The histograms give no shape inside a bin: uniform over its lengths.
  // A length of 0 (a request that generated nothing, about 1 in a million) counts as 1: every
  // request here produces its first token.
  auto within = [&](const LengthBin& b) {
    return std::max<int64_t>(1, std::uniform_int_distribution<int64_t>(b.lo, b.hi - 1)(rng));
  };
  Workload w;
  w.name = "servegen " + spec.model;
  // Memoryless arrivals: at each window's edge the next gap is drawn afresh at the new rate.
  double t = begin;
  while (t < end) {
    const auto window = static_cast<size_t>(t / curve.window_s);
    const double rate = curve.requests_per_s[window] * spec.scale;
    const double edge = std::min(end, static_cast<double>(window + 1) * curve.window_s);
    const double next = rate > 0 ? t + std::exponential_distribution<double>(rate)(rng) : edge;
    if (next >= edge) {
      t = edge;
      continue;
    }
    t = next;
    Request r;
    r.id = static_cast<int64_t>(w.requests.size());
    r.arrival = t;
    r.prompt = within(lengths.input[input(rng)]);
    r.output = within(lengths.output[output(rng)]);
    w.requests.push_back(r);
  }
  // As every workload: times from the first arrival.
  if (!w.requests.empty()) {
    const double first = w.requests.front().arrival;
    for (Request& r : w.requests) r.arrival -= first;
  }
  return w;
}

}  // namespace seedchip::serve
