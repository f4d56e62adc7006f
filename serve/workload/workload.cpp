#include "serve/workload/workload.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string_view>
#include <unordered_map>

#include "arch/error.h"
#include "serve/workload/servegen.h"

namespace seedchip::serve {

namespace {

std::string shared_data_dir() {
  if (const char* dir = std::getenv("SEEDCHIP_SHARED_DATA_DIR"); dir && *dir) return dir;
  return SEEDCHIP_SHARED_DATA_DIR_DEFAULT;
}

const std::map<std::string, std::string>& builtin_files() {
  static const std::map<std::string, std::string> files = {
      {"azure-conv", "traces/azure-2023/AzureLLMInferenceTrace_conv.csv"},
      {"azure-code", "traces/azure-2023/AzureLLMInferenceTrace_code.csv"},
      {"mooncake", "traces/mooncake-2025/conversation_trace.jsonl"}};
  return files;
}

std::ifstream open(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the trace");
  return in;
}

[[noreturn]] void bad(const std::string& path, int64_t line, const std::string& field,
                      const std::string& what) {
  throw InputError(path + ":" + std::to_string(line) + ": field " + field + ": " + what);
}

int64_t parse_int(std::string_view text, const std::string& path, int64_t line,
                  const std::string& field) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size())
    bad(path, line, field, "expected an integer, got '" + std::string(text) + "'");
  return v;
}

// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// "YYYY-MM-DD HH:MM:SS[.fraction]" to seconds since 1970.
double parse_timestamp(std::string_view t, const std::string& path, int64_t line) {
  const std::string field = "TIMESTAMP";
  auto fail = [&] {
    bad(path, line, field, "expected YYYY-MM-DD HH:MM:SS[.fraction], got '" + std::string(t) + "'");
  };
  if (t.size() < 19 || t[4] != '-' || t[7] != '-' || t[10] != ' ' || t[13] != ':' || t[16] != ':')
    fail();
  auto number = [&](size_t at, size_t len) {
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(t.data() + at, t.data() + at + len, v);
    if (ec != std::errc() || end != t.data() + at + len) fail();
    return v;
  };
  const int64_t month = number(5, 2), day = number(8, 2), hour = number(11, 2),
                minute = number(14, 2), second = number(17, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    fail();
  double fraction = 0;
  if (t.size() > 19) {
    if (t[19] != '.' || t.size() == 20) fail();
    double scale = 0.1;
    for (size_t i = 20; i < t.size(); ++i, scale /= 10) {
      if (t[i] < '0' || t[i] > '9') fail();
      fraction += (t[i] - '0') * scale;
    }
  }
  const int64_t days = days_from_civil(number(0, 4), month, day);
  return static_cast<double>(days * 86400 + hour * 3600 + minute * 60 + second) + fraction;
}

// Arrival times relative to the first request, requests sorted by arrival (stable: ties keep
// their order in the file).
Workload finish(std::string name, std::vector<Request> requests, const std::string& path) {
  if (requests.empty()) throw InputError(path + ": the trace holds no request");
  std::stable_sort(requests.begin(), requests.end(),
                   [](const Request& a, const Request& b) { return a.arrival < b.arrival; });
  const double first = requests.front().arrival;
  for (size_t i = 0; i < requests.size(); ++i) {
    requests[i].arrival -= first;
    requests[i].id = static_cast<int64_t>(i);
  }
  return {std::move(name), std::move(requests)};
}

void check_positive(int64_t v, const std::string& path, int64_t line, const std::string& field) {
  if (v < 1) bad(path, line, field, "must be at least 1, got " + std::to_string(v));
}

Workload sampled(const Workload& lengths, int64_t count, uint64_t seed, const std::string& name,
                 const std::function<double(std::mt19937_64&)>& gap) {
  if (lengths.requests.empty()) throw InputError("synthetic arrivals: no lengths to sample from");
  if (count < 1) throw InputError("synthetic arrivals: the count must be at least 1");
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, lengths.requests.size() - 1);
  Workload w{name, {}};
  double t = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (i > 0) t += gap(rng);
    const Request& r = lengths.requests[pick(rng)];
    w.requests.push_back({i, t, r.prompt, r.output, {}});  // lengths only: no shared prefixes
  }
  return w;
}

}  // namespace

std::vector<std::string> builtin_traces() {
  std::vector<std::string> names;
  for (const auto& [name, file] : builtin_files()) names.push_back(name);
  return names;
}

std::string shared_data_path(const std::string& relative) {
  return shared_data_dir() + "/" + relative;
}

std::string builtin_trace_path(const std::string& name) {
  const auto it = builtin_files().find(name);
  if (it == builtin_files().end()) throw InputError("no built-in trace named " + name);
  return shared_data_dir() + "/" + it->second;
}

namespace {

// A trace file's records one at a time, as the file gives them (arrival times as written).
class TraceRecords {
 public:
  enum class Format { kAzureCsv, kMooncakeJsonl };
  TraceRecords(const std::string& path, Format format)
      : path_(path), format_(format), in_(open(path)) {
    if (format_ != Format::kAzureCsv) return;
    std::string header;
    if (!std::getline(in_, header))
      throw InputError(path + ":1: empty file, expected a CSV header");
    line_ = 1;
    if (!header.empty() && header.back() == '\r') header.pop_back();
    if (header != "TIMESTAMP,ContextTokens,GeneratedTokens")
      bad(path, 1, "header",
          "expected 'TIMESTAMP,ContextTokens,GeneratedTokens', got '" + header + "'");
  }
  // The next record, or false at the end of the file.
  bool next(Request& r) {
    while (std::getline(in_, text_)) {
      ++line_;
      if (format_ == Format::kAzureCsv ? azure(r) : mooncake(r)) return true;
    }
    return false;
  }
  int64_t line() const { return line_; }  // of the latest record
  const std::string& path() const { return path_; }

 private:
  // False for a blank line.
  bool azure(Request& r) {
    std::string& line = text_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return false;
    const size_t a = line.find(','), b = a == std::string::npos ? a : line.find(',', a + 1);
    if (b == std::string::npos || line.find(',', b + 1) != std::string::npos)
      bad(path_, line_, "record", "expected 3 comma-separated fields, got '" + line + "'");
    const std::string_view view(line);
    r = Request{};
    r.arrival = parse_timestamp(view.substr(0, a), path_, line_);
    r.prompt = parse_int(view.substr(a + 1, b - a - 1), path_, line_, "ContextTokens");
    r.output = parse_int(view.substr(b + 1), path_, line_, "GeneratedTokens");
    check_positive(r.prompt, path_, line_, "ContextTokens");
    check_positive(r.output, path_, line_, "GeneratedTokens");
    return true;
  }
  bool mooncake(Request& r) {
    const std::string& line = text_;
    const int64_t n = line_;
    if (line.find_first_not_of(" \t\r") == std::string::npos) return false;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      bad(path_, n, "record", std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object()) bad(path_, n, "record", "expected a JSON object");
    auto integer = [&](const char* field) {
      if (!j.contains(field)) bad(path_, n, field, "missing");
      const nlohmann::json& v = j[field];
      if (!v.is_number_integer()) bad(path_, n, field, "expected an integer, got " + v.dump());
      return v.get<int64_t>();
    };
    r = Request{};
    const int64_t ms = integer("timestamp");
    if (ms < 0) bad(path_, n, "timestamp", "must not be negative, got " + std::to_string(ms));
    r.arrival = static_cast<double>(ms) / 1000;
    r.prompt = integer("input_length");
    r.output = integer("output_length");
    check_positive(r.prompt, path_, n, "input_length");
    check_positive(r.output, path_, n, "output_length");
    if (j.contains("hash_ids")) {
      const nlohmann::json& ids = j["hash_ids"];
      if (!ids.is_array())
        bad(path_, n, "hash_ids", "expected an array of non-negative integers, got " + ids.dump());
      r.hash_ids.reserve(ids.size());
      for (const nlohmann::json& id : ids) {
        if (!id.is_number_integer() || (!id.is_number_unsigned() && id.get<int64_t>() < 0))
          bad(path_, n, "hash_ids",
              "expected an array of non-negative integers, element " +
                  std::to_string(r.hash_ids.size()) + " is " + id.dump());
        r.hash_ids.push_back(id.get<uint64_t>());
      }
    }
    return true;
  }

  std::string path_;
  Format format_;
  std::ifstream in_;
  std::string text_;
  int64_t line_ = 0;
};

Workload read_all(const std::string& path, TraceRecords::Format format) {
  TraceRecords records(path, format);
  std::vector<Request> requests;
  for (Request r; records.next(r);) requests.push_back(std::move(r));
  return finish(path, std::move(requests), path);
}

TraceRecords::Format format_of(const std::string& path) {
  return path.ends_with(".jsonl") ? TraceRecords::Format::kMooncakeJsonl
                                  : TraceRecords::Format::kAzureCsv;
}

// Stream options checked as the whole-workload transformations check them.
void check(const StreamOptions& o) {
  if (o.limit < 0)
    throw InputError("the request limit must be at least 1, got " + std::to_string(o.limit));
  for (const auto& [factor, what] : {std::pair{o.time_scale, "time"}, {o.rate_scale, "rate"}})
    if (!(factor > 0) || !std::isfinite(factor))
      throw InputError(std::string(what) + " scale must be a positive number, got " +
                       std::to_string(factor));
}

// The arrival time `t` (seconds from the first request) as first_requests, scale_time, scale_rate
// and offline leave it: the same operations in the same order, so the same bits.
double transformed(double t, const StreamOptions& o) {
  return o.offline ? 0 : t * o.time_scale * (1 / o.rate_scale);
}

// A trace file drawn record by record.
class TraceStream final : public RequestStream {
 public:
  TraceStream(std::string name, const std::string& path, const StreamOptions& o)
      : name_(std::move(name)), records_(path, format_of(path)), o_(o) {}
  const std::string& name() const override { return name_; }
  bool next(Request& r) override {
    if ((o_.limit > 0 && count_ == o_.limit) || !records_.next(r)) {
      if (count_ == 0) throw InputError(records_.path() + ": the trace holds no request");
      return false;
    }
    if (count_ == 0) first_ = r.arrival;
    if (r.arrival < previous_)
      bad(records_.path(), records_.line(), "arrival",
          "arrives " + std::to_string(previous_ - r.arrival) +
              " s before the record before it; a streamed trace must be in arrival order (sort "
              "the file, or read it whole)");
    previous_ = r.arrival;
    r.arrival = transformed(r.arrival - first_, o_);
    r.id = count_++;
    return true;
  }

 private:
  std::string name_;
  TraceRecords records_;
  StreamOptions o_;
  int64_t count_ = 0;
  double first_ = 0, previous_ = -std::numeric_limits<double>::infinity();
};

}  // namespace

bool WorkloadStream::next(Request& r) {
  const std::vector<Request>& requests = workload_->requests;
  if (next_ == requests.size() || (o_.limit > 0 && next_ == static_cast<size_t>(o_.limit)))
    return false;
  r = requests[next_++];
  r.arrival = transformed(r.arrival, o_);
  return true;
}

Workload read_azure_csv(const std::string& path) {
  return read_all(path, TraceRecords::Format::kAzureCsv);
}

Workload read_mooncake_jsonl(const std::string& path) {
  return read_all(path, TraceRecords::Format::kMooncakeJsonl);
}

Workload load_workload(const std::string& name_or_path) {
  if (name_or_path.starts_with("servegen:"))
    return servegen_workload(parse_servegen_spec(name_or_path));
  if (builtin_files().contains(name_or_path)) {
    Workload w =
        read_all(builtin_trace_path(name_or_path), format_of(builtin_trace_path(name_or_path)));
    w.name = name_or_path;
    return w;
  }
  return read_all(name_or_path, format_of(name_or_path));
}

std::unique_ptr<RequestStream> open_trace(const std::string& name_or_path,
                                          const StreamOptions& options) {
  check(options);
  if (name_or_path.starts_with("servegen:"))
    return std::make_unique<WorkloadStream>(load_workload(name_or_path), options);
  if (builtin_files().contains(name_or_path))
    return std::make_unique<TraceStream>(name_or_path, builtin_trace_path(name_or_path), options);
  return std::make_unique<TraceStream>(name_or_path, name_or_path, options);
}

Workload scale_time(Workload w, double factor) {
  if (!(factor > 0) || !std::isfinite(factor))
    throw InputError("time scale must be a positive number, got " + std::to_string(factor));
  for (Request& r : w.requests) r.arrival *= factor;
  return w;
}

Workload scale_rate(Workload w, double factor) {
  if (!(factor > 0) || !std::isfinite(factor))
    throw InputError("rate scale must be a positive number, got " + std::to_string(factor));
  return scale_time(std::move(w), 1 / factor);
}

Workload first_requests(Workload w, int64_t n) {
  if (n < 1) throw InputError("the request limit must be at least 1, got " + std::to_string(n));
  if (static_cast<size_t>(n) < w.requests.size()) w.requests.resize(static_cast<size_t>(n));
  return w;
}

Workload offline(Workload w) {
  for (Request& r : w.requests) r.arrival = 0;
  return w;
}

Workload poisson_arrivals(const Workload& lengths, double rate_per_s, int64_t count,
                          uint64_t seed) {
  if (!(rate_per_s > 0)) throw InputError("Poisson arrivals: the rate must be positive");
  std::exponential_distribution<double> gap(rate_per_s);
  return sampled(lengths, count, seed, "poisson(" + std::to_string(rate_per_s) + "/s)",
                 [&](std::mt19937_64& rng) { return gap(rng); });
}

Workload gamma_arrivals(const Workload& lengths, double rate_per_s, double cv, int64_t count,
                        uint64_t seed) {
  if (!(rate_per_s > 0) || !(cv > 0))
    throw InputError("Gamma arrivals: the rate and the coefficient of variation must be positive");
  // Shape k = 1 / cv^2 and scale theta = 1 / (rate k) give mean 1 / rate and CV cv.
  const double shape = 1 / (cv * cv);
  std::gamma_distribution<double> gap(shape, 1 / (rate_per_s * shape));
  return sampled(lengths, count, seed,
                 "gamma(" + std::to_string(rate_per_s) + "/s, cv " + std::to_string(cv) + ")",
                 [&](std::mt19937_64& rng) { return gap(rng); });
}

PrefixReuse prefix_reuse(const Workload& w, int64_t block) {
  if (block < 1) throw InputError("prefix reuse: the block must be at least 1 token");
  PrefixReuse p;
  std::unordered_map<uint64_t, int64_t> seen;  // id -> tokens of its block
  for (const Request& r : w.requests) {
    p.prompt_tokens += r.prompt;
    const int64_t blocks = r.blocks(block);
    for (int64_t i = 0; i < blocks; ++i) {
      const auto it = seen.find(r.hash_ids[i]);
      if (it == seen.end() || it->second != r.block_tokens(i, block)) break;
      p.reused_tokens += it->second;
    }
    // After the run: a request reuses only what came before it.
    for (int64_t i = 0; i < blocks; ++i) seen.emplace(r.hash_ids[i], r.block_tokens(i, block));
  }
  return p;
}

double mean_rate(const Workload& w) {
  if (w.requests.size() < 2) return 0;
  const double span = w.requests.back().arrival - w.requests.front().arrival;
  return span > 0 ? static_cast<double>(w.requests.size() - 1) / span : 0;
}

}  // namespace seedchip::serve
