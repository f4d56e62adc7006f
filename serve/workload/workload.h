#pragma once
// Serving workloads: the requests that arrive at an inference engine, read from public traces or
// generated, and transformed (time and rate scaling, a prefix of the requests, offline).
//
// Trace formats (one request per record, in arrival order):
//  - Azure LLM inference trace 2023 (CSV): a header `TIMESTAMP,ContextTokens,GeneratedTokens`,
//    then `YYYY-MM-DD HH:MM:SS[.fraction]`, prompt tokens, generated tokens.
//  - Mooncake FAST'25 traces (JSONL): one object per line with `timestamp` (ms), `input_length`,
//    `output_length` and, optionally, `hash_ids`: the prompt's blocks of 512 tokens, each named by
//    an id that stands for its tokens and every token before it (Request::hash_ids). Other fields
//    are ignored.
// Arrival times are made relative to the first request. Any malformed record throws InputError
// naming the file, the line and the field.
//
// A trace is either read whole into a Workload (load_workload: sorted by arrival, for the
// transformations and statistics that need every request) or drawn record by record
// (open_trace: a RequestStream, for traces of any length; memory does not grow with it).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace seedchip::serve {

// The block of the Mooncake traces' hash_ids, in tokens.
constexpr int64_t kMooncakeBlockTokens = 512;

struct Request {
  int64_t id = 0;      // position in the trace
  double arrival = 0;  // seconds from the first request
  int64_t prompt = 1;  // prompt tokens, at least 1
  int64_t output = 1;  // tokens to generate, at least 1 (the first comes out of prefill)
  // The prompt in blocks of B tokens (B = 512 in the Mooncake traces): hash_ids[i] names prompt
  // tokens [i B, min((i + 1) B, prompt)) together with every token before them, so two requests
  // whose first k ids agree share their first k blocks, and the KV cache of one serves the other.
  // Ids past the prompt's end are ignored; empty where the trace has none (Azure, generated
  // arrivals). (`= {}` lets an initializer list of the four lengths leave it out.)
  std::vector<uint64_t> hash_ids = {};
  // The request's latency class: an index into the SLO classes it is judged by
  // (EngineOptions::slo_classes); 0 where nothing assigns one.
  int64_t slo_class = 0;
  // The blocks of `block` tokens that hash_ids names inside the prompt, and the prompt tokens in
  // block i of them (all but the last hold `block`).
  int64_t blocks(int64_t block) const {
    return std::min(static_cast<int64_t>(hash_ids.size()), (prompt + block - 1) / block);
  }
  int64_t block_tokens(int64_t i, int64_t block) const {
    return std::min(block, prompt - i * block);
  }
  bool operator==(const Request&) const = default;
};

struct Workload {
  std::string name;               // the trace's file or the generator
  std::vector<Request> requests;  // sorted by arrival
};

// Requests drawn one at a time, by arrival (non-decreasing arrival times), ids from 0.
class RequestStream {
 public:
  virtual ~RequestStream() = default;
  virtual const std::string& name() const = 0;
  // The next request, or false at the end. May throw InputError (a malformed record).
  virtual bool next(Request& r) = 0;
};

// What a stream does to the trace's requests as it draws them: the same as first_requests(limit),
// scale_time(time_scale), scale_rate(rate_scale) and offline(), in that order, to the same bits.
struct StreamOptions {
  int64_t limit = 0;  // the first N requests; 0: all
  double time_scale = 1, rate_scale = 1;
  bool offline = false;
};

// The requests of a workload (held by reference, or owned when moved in), transformed.
class WorkloadStream final : public RequestStream {
 public:
  explicit WorkloadStream(const Workload& w, StreamOptions o = {}) : workload_(&w), o_(o) {}
  explicit WorkloadStream(Workload&& w, StreamOptions o = {})
      : owned_(std::make_unique<Workload>(std::move(w))), workload_(owned_.get()), o_(o) {}
  const std::string& name() const override { return workload_->name; }
  bool next(Request& r) override;

 private:
  std::unique_ptr<Workload> owned_;
  const Workload* workload_;
  StreamOptions o_;
  size_t next_ = 0;
};

// The built-in traces under the shared data folder.
std::vector<std::string> builtin_traces();  // "azure-conv", "azure-code", "mooncake"
std::string builtin_trace_path(const std::string& name);
// A file under the shared data folder ($SEEDCHIP_SHARED_DATA_DIR, else the one found at build).
std::string shared_data_path(const std::string& relative);

Workload read_azure_csv(const std::string& path);
Workload read_mooncake_jsonl(const std::string& path);
// A built-in trace name, a ServeGen spec ("servegen:model=...", serve/workload/servegen.h), or a
// file: .jsonl is read as Mooncake, anything else as Azure CSV.
Workload load_workload(const std::string& name_or_path);
// The same trace drawn record by record: for a trace in arrival order, the requests of
// load_workload transformed as `options` says, without holding the file's requests. A record
// arriving before the one above it throws InputError naming its line (load_workload sorts; a
// stream cannot), as does a trace without a request, once drawn. A ServeGen spec is generated
// whole (its hours and scale set its size). Options out of range throw InputError.
std::unique_ptr<RequestStream> open_trace(const std::string& name_or_path,
                                          const StreamOptions& options = {});

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

// What prefix caching could save on a workload with an unbounded cache. Requests are taken in
// their order; a block of a request (Request::blocks, of `block` tokens) is reused when an earlier
// request had the same id for a block of as many tokens; a request's reused tokens are those of
// its leading run of reused blocks (matching stops at the first block that is not: a prefix cache
// finds a block through the blocks before it, as vLLM's and Mooncake's do), its last block
// counting its real tokens. The ratio is reused tokens over all prompt tokens. An engine saves at
// most this: it prefills the last token of a wholly reused prompt to produce the first output
// token, and computes again the blocks a request shares with one still prefilling them, or that
// were evicted.
struct PrefixReuse {
  int64_t prompt_tokens = 0, reused_tokens = 0;
  double ratio() const {
    return prompt_tokens ? static_cast<double>(reused_tokens) / static_cast<double>(prompt_tokens)
                         : 0;
  }
};
PrefixReuse prefix_reuse(const Workload& w, int64_t block = kMooncakeBlockTokens);  // block >= 1

// Mean arrival rate: (count - 1) / span of the arrival times; 0 with fewer than two arrivals or a
// zero span.
double mean_rate(const Workload& w);

}  // namespace seedchip::serve
