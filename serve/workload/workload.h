#pragma once
// Serving workloads: the requests that arrive at an inference engine, read from public traces or
// generated, and transformed (time and rate scaling, a prefix of the requests, offline).
//
// Trace formats (one request per record, in arrival order):
//  - Azure LLM inference trace 2023 (CSV): a header `TIMESTAMP,ContextTokens,GeneratedTokens`,
//    then `YYYY-MM-DD HH:MM:SS[.fraction]`, prompt tokens, generated tokens.
//  - Mooncake FAST'25 traces (JSONL): one object per line with `timestamp` (ms), `input_length`,
//    `output_length` (other fields, such as `hash_ids`, are not used yet).
// Arrival times are made relative to the first request. Any malformed record throws InputError
// naming the file, the line and the field.
#include <cstdint>
#include <string>
#include <vector>

namespace seedchip::serve {

struct Request {
  int64_t id = 0;      // position in the trace
  double arrival = 0;  // seconds from the first request
  int64_t prompt = 1;  // prompt tokens, at least 1
  int64_t output = 1;  // tokens to generate, at least 1 (the first comes out of prefill)
  bool operator==(const Request&) const = default;
};

struct Workload {
  std::string name;               // the trace's file or the generator
  std::vector<Request> requests;  // sorted by arrival
};

// The built-in traces under the shared data folder.
std::vector<std::string> builtin_traces();  // "azure-conv", "azure-code", "mooncake"
std::string builtin_trace_path(const std::string& name);

Workload read_azure_csv(const std::string& path);
Workload read_mooncake_jsonl(const std::string& path);
// A built-in trace name, or a file: .jsonl is read as Mooncake, anything else as Azure CSV.
Workload load_workload(const std::string& name_or_path);

// Arrival times multiplied by `factor` (> 0): 2 stretches the trace to twice its length.
Workload scale_time(Workload w, double factor);
// Arrival rate multiplied by `factor` (> 0): arrival times divided by it.
Workload scale_rate(Workload w, double factor);
// The first `n` requests (all when n exceeds the count).
Workload first_requests(Workload w, int64_t n);
// Every request arriving at time 0, as MLPerf's offline scenario.
Workload offline(Workload w);

// Synthetic arrivals: `count` requests whose prompt and output lengths are drawn (with
// replacement) from `lengths`' requests, with inter-arrival times from an exponential distribution
// (Poisson arrivals) or a Gamma distribution of the same mean and coefficient of variation `cv`
// (cv > 1: bursty). Deterministic for a given seed.
Workload poisson_arrivals(const Workload& lengths, double rate_per_s, int64_t count, uint64_t seed);
Workload gamma_arrivals(const Workload& lengths, double rate_per_s, double cv, int64_t count,
                        uint64_t seed);

// Mean arrival rate: (count - 1) / span of the arrival times; 0 with fewer than two arrivals or a
// zero span.
double mean_rate(const Workload& w);

}  // namespace seedchip::serve
