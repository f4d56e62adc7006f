#pragma once
// A discrete-event simulator of one serving instance (one model on K chips): iteration-level
// continuous batching, a paged KV cache with preemption by recompute, and a batch scheduler chosen
// by name. Every engine step is priced by a StepCostModel (serve/cost); nothing else takes time.
//
// The loop: requests join the waiting queue when they arrive; before each step the engine gives
// every running sequence that decodes a KV slot for its next token, preempting the most recently
// admitted sequences (their pages freed, their tokens to be recomputed as a prefill) while the
// cache is full; then the scheduler picks the step's prefill chunks and decodes; the step takes
// the cost model's time; its results (first tokens, generated tokens, finished requests) land at
// its end. A step's time combines its parts (serve/cost's combine()): each sequence's prefill
// chunk priced alone and the decode batch, sharing the fixed cost of one step. When nothing runs,
// the engine idles until the next arrival. Deterministic: the same inputs give the same report.
//
// Prefix caching (EngineOptions::prefix_caching, as vLLM's automatic prefix caching and
// Mooncake's KV reuse): the prompt blocks a sequence computes stay in the KV cache, keyed by the
// request's hash_ids, and a sequence admitted later that starts with the same blocks shares their
// pages instead of prefilling them (KvCache).
#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "arch/chip_config.h"
#include "llm/llama2c.h"
#include "serve/cost/cost.h"
#include "serve/engine/latency.h"
#include "serve/workload/workload.h"

namespace seedchip::serve {

// A request in the engine.
struct Sequence {
  Request request;
  int64_t cached = 0;     // positions in the KV cache
  int64_t generated = 0;  // output tokens produced
  int64_t pages = 0;      // KV pages held alone: positions past `shared`, from a fresh page
  int64_t blocks = 0;     // leading prompt blocks it shares with the prefix cache
  int64_t shared = 0;     // the prompt positions in those blocks
  int64_t hit = 0;        // prompt positions the prefix cache gave it at its first admission
  int64_t preemptions = 0;
  double first_token = -1, finish = -1;  // seconds; -1 until they happen
  double last_token = -1;                // seconds: when its latest token came out
  double max_gap = 0;                    // seconds: its longest time between two tokens so far
  bool handed_off = false;               // left for another instance after its first token
  // Positions to prefill before decoding: the prompt, and after a preemption also the tokens
  // generated so far (recomputed).
  int64_t prefill_target() const { return request.prompt + (generated > 1 ? generated - 1 : 0); }
  bool decoding() const { return generated > 0 && cached >= prefill_target(); }
};

// The KV cache in pages of page_tokens positions.
//
// With prefix caching it also keeps prompt blocks of block_tokens positions (a whole number of
// pages) under their Request::hash_ids, once a sequence has them in the cache: a full block as
// soon as its positions are prefilled, the prompt's last, partial block when the sequence releases
// it (the sequence writes its next tokens into that block's last page). A cached block holds its
// pages and is referenced by the sequences that share it; one that no sequence references stays
// cached until a sequence needs its pages, and blocks are evicted least recently used first (a
// sequence drops its blocks last first, so a prefix loses its tail before its head).
class KvCache {
 public:
  // block_tokens: 0 turns prefix caching off; otherwise a multiple of page_tokens.
  KvCache(int64_t pages, int64_t page_tokens, int64_t block_tokens = 0);
  int64_t pages_for(int64_t positions) const { return (positions + page_ - 1) / page_; }
  // Extra pages `s` needs to hold `positions` (the blocks it shares hold theirs).
  int64_t extra(const Sequence& s, int64_t positions) const {
    return std::max<int64_t>(0, pages_for(std::max<int64_t>(0, positions - s.shared)) - s.pages);
  }
  // Takes the extra pages, evicting unreferenced cached blocks when too few are free; false, with
  // nothing taken or evicted, when even evicting all of them would not free enough. (Inline for
  // the common case of a decode step, whose next position mostly fits the pages it holds.)
  bool grow(Sequence& s, int64_t positions) {
    return positions - s.shared <= s.pages * page_ || grow_pages(s, positions);
  }
  // For a sequence that holds nothing (a waiting one): shares the longest leading run of its
  // prompt blocks found cached (same id, same tokens) and starts it with their positions cached,
  // less one where they cover everything it has to prefill (its last prefilled position produces
  // its next token). The references hold the blocks until it is released, so admitting it cannot
  // evict them. Nothing without prefix caching.
  void share_prefix(Sequence& s);
  // The prompt positions share_prefix would give a waiting sequence of `q` now: its longest
  // leading run of blocks cached (not less one; 0 without prefix caching).
  int64_t cached_prefix(const Request& q) const;
  // Caches the prompt blocks of `s` that are all in the KV cache and not cached yet, in order
  // (the last, partial one only when `partial`); one whose id another sequence cached first is
  // shared instead, and the pages `s` computed it in are freed.
  void publish(Sequence& s, bool partial);
  // Everything `s` holds goes back (its computed blocks, the partial one included, stay cached),
  // and it has nothing cached any more.
  void release(Sequence& s);
  int64_t free_pages() const { return free_; }                        // neither held nor cached
  int64_t cached_pages() const { return cached_; }                    // in cached blocks
  int64_t used_pages() const { return total_ - free_ - evictable_; }  // held or shared
  int64_t evicted_blocks() const { return evicted_; }
  int64_t total_pages() const { return total_; }
  int64_t page_tokens() const { return page_; }

 private:
  struct Block {
    int64_t tokens = 0, pages = 0, refs = 0;
    std::list<uint64_t>::iterator lru;  // where it is in lru_ while refs is 0
  };
  bool grow_pages(Sequence& s, int64_t positions);
  void ref(Block& b);
  void unref(uint64_t id, Block& b);
  int64_t free_, total_, page_, block_;
  int64_t cached_ = 0, evictable_ = 0, evicted_ = 0;  // pages, pages, blocks
  std::unordered_map<uint64_t, Block> blocks_;
  std::list<uint64_t> lru_;  // unreferenced blocks, least recently used first
};

// The latency objectives of a class of requests: a request is good when it finishes with its
// time to first token and its mean time per output token after the first within them.
struct SloClass {
  std::string name = "default";
  double ttft = 2.0;  // seconds
  double tpot = 0.2;  // seconds
};

struct EngineOptions {
  int64_t max_batch = 256;      // sequences running at once
  int64_t token_budget = 2048;  // tokens per step: chunked's chunk budget (decodes included);
                                // continuous's prefill batch (one prompt always fits)
  int64_t page_tokens = 16;     // KV positions per page
  int64_t kv_pages = 0;         // cache size in pages (kv_pages_for gives it for a chip group)
  double slo_ttft = 2.0;        // seconds: time to first token of a good request
  double slo_tpot = 0.2;        // seconds: mean time per output token after the first
  // Per Request::slo_class, when not empty (each request's class must be listed); otherwise every
  // request is judged by slo_ttft and slo_tpot.
  std::vector<SloClass> slo_classes;
  // Prefix caching (KvCache) over blocks of prefix_block tokens: the trace's block (its hash_ids
  // name blocks of that size; 512 in the Mooncake traces), a multiple of page_tokens.
  bool prefix_caching = false;
  int64_t prefix_block = kMooncakeBlockTokens;
  // Prefill only (a disaggregated fleet's prefill pool): a sequence that has produced its first
  // token and has more to generate leaves the engine with its KV (Engine::take_handoffs), its
  // pages freed at once (the transfer's hold on them is not modelled).
  bool hand_off = false;
  // How the latencies of finished requests are kept (LatencyDistribution): every value, or in
  // logarithmic bins (percentiles within 0.5%) so that memory does not grow with the trace.
  LatencyDistribution::Mode latencies = LatencyDistribution::Mode::kExact;
  // For plots (--report): the report carries the latency distributions, and the busy share and
  // mean batch of each interval of timeline_interval seconds (0: no timeline).
  bool keep_samples = false;
  double timeline_interval = 0;
  // run_engine calls `progress` every progress_every steps with requests finished and simulated
  // seconds; return false from `keep_going` to stop (the report then covers what finished). An
  // Engine driven step by step (a fleet) leaves both to its driver.
  std::function<void(int64_t finished, double now)> progress;
  std::function<bool()> keep_going;
  int64_t progress_every = 1000;
};

// KV cache size of a model on a group of chips: HBM x chips minus the model's BF16 weights, over
// the BF16 K and V of every layer for one position.
struct KvBudget {
  double hbm_bytes = 0, weight_bytes = 0, bytes_per_token = 0;
  int64_t pages = 0;
};
KvBudget kv_pages_for(const llm::LlamaConfig& model, const ChipConfig& chip, int64_t chips,
                      int64_t page_tokens);

// What one step runs: prefill chunks (sequence, tokens) and decoding sequences.
struct StepPlan {
  std::vector<std::pair<Sequence*, int64_t>> prefill;
  std::vector<Sequence*> decode;
};

// A batch scheduler. `waiting` is in arrival order (preempted sequences first), each holding
// nothing; `running` holds the admitted sequences in admission order, each decoding one with a KV
// slot for its next token already reserved. A plan may admit waiting sequences (move them to
// running via admit()): it sizes a waiting sequence's prefill after KvCache::share_prefix (which
// may start it with positions cached) and releases one it then does not admit (KvCache::release).
// It must reserve the KV pages of every prefill chunk (KvCache::grow) and make progress when
// anything is running or waiting and the cache has room.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  struct State {
    std::deque<Sequence*>& waiting;
    std::vector<Sequence*>& running;
    KvCache& kv;
    const EngineOptions& options;
    // From waiting's front to running's back (the engine reads what the sequence took from the
    // prefix cache after the plan).
    void admit(Sequence* s) {
      waiting.pop_front();
      running.push_back(s);
    }
  };
  // Fills `plan`, which arrives empty (the engine reuses one plan's storage step after step).
  virtual void plan(State& state, StepPlan& plan) = 0;
};

struct SchedulerInfo {
  std::string description;
  std::function<std::unique_ptr<Scheduler>()> make;
};
// Name -> scheduler: "continuous" (whole prompts, prefill first, as vLLM's default) and "chunked"
// (decodes first, then prefill chunks within the token budget, as Sarathi-Serve / vLLM's chunked
// prefill).
const std::map<std::string, SchedulerInfo>& schedulers();
std::unique_ptr<Scheduler> make_scheduler(const std::string& name);  // InputError listing names

struct ServeReport {
  int64_t requests = 0;  // in the workload (read from a stream: read before the run ended)
  int64_t finished = 0;
  int64_t rejected = 0;  // prompt + output beyond the model's context or the whole KV cache
  bool stopped = false;  // keep_going said stop
  double makespan = 0;   // seconds from the first arrival to the last finish
  double busy = 0;       // seconds running steps
  int64_t steps = 0, prefill_tokens = 0, output_tokens = 0, preemptions = 0;
  double mean_batch = 0;  // sequences per step (prefilling or decoding), time-weighted
  double energy_busy = 0, energy_idle = 0;  // joules
  int64_t kv_pages = 0;
  int64_t kv_peak_pages =
      0;  // held or shared by sequences (unreferenced cached blocks not counted)
  // When the run ended: pages free, in cached blocks, and held or shared by sequences (once every
  // request finished, none is held or shared: free + cached = kv_pages).
  int64_t kv_free_pages_end = 0, kv_cached_pages_end = 0, kv_used_pages_end = 0;
  // Prefix caching: prompt tokens of the finished requests, those of them the prefix cache served
  // at their first admission (what a readmission after a preemption takes from it again is not
  // counted: that is recomputation saved, and shows in prefill_tokens), and blocks evicted.
  int64_t prompt_tokens = 0, prefix_hit_tokens = 0, prefix_evicted_blocks = 0;
  Percentiles ttft, tpot, e2e;  // seconds; TPOT over requests with more than one output token
  // Seconds: each such request's longest time between two of its tokens (its worst stall: what a
  // prefill run in its way costs it, which a mean TPOT hides; Sarathi-Serve's interference).
  Percentiles max_tbt;
  // With EngineOptions::keep_samples: the distributions behind ttft, tpot and e2e.
  LatencyDistribution ttft_samples, tpot_samples, e2e_samples;
  // With EngineOptions::timeline_interval: per interval from the first arrival, the share of it
  // spent running steps and the mean sequences per step over that time.
  struct Interval {
    double busy = 0, batch_seconds = 0;  // seconds; sequence-seconds
  };
  std::vector<Interval> timeline;
  int64_t good = 0;  // finished within both SLOs
  double requests_per_s() const { return makespan > 0 ? finished / makespan : 0; }
  double output_tokens_per_s() const { return makespan > 0 ? output_tokens / makespan : 0; }
  double goodput() const { return makespan > 0 ? good / makespan : 0; }
  double prefix_hit_ratio() const {
    return prompt_tokens
               ? static_cast<double>(prefix_hit_tokens) / static_cast<double>(prompt_tokens)
               : 0;
  }
  double utilization() const { return makespan > 0 ? busy / makespan : 0; }
  double joules_per_output_token() const {
    return output_tokens ? (energy_busy + energy_idle) / static_cast<double>(output_tokens) : 0;
  }
};

// The finished requests of one SLO class (all of them without classes): their count, those within
// the class's SLO, and their latencies in seconds from arrival. TPOT and the longest time between
// tokens count only requests of more than one output token.
struct ClassLatencies {
  explicit ClassLatencies(LatencyDistribution::Mode mode = LatencyDistribution::Mode::kExact)
      : ttft(mode), tpot(mode), e2e(mode), max_tbt(mode) {}
  int64_t finished = 0, good = 0;
  LatencyDistribution ttft, tpot, e2e, max_tbt;
  void merge(const ClassLatencies& other);
};

// One serving instance, driven step by step (run_engine drives one through a whole workload; a
// fleet interleaves many). Its clock is the time its next step starts: a step runs at once, and
// its results (first tokens, generated tokens, finished requests) are there as soon as step()
// returns, though they land at the step's end, the new clock. An idle engine (nothing running or
// waiting) stays idle until a request is added.
//
// The engine keeps `cost` and `scheduler` by reference: they must outlive it. Deterministic: the
// same calls give the same results.
class Engine {
 public:
  // `start`: the clock at first, from which the report's makespan counts (the first arrival).
  // `idle_watts` is the instance's power when no step runs (power.idle_w x chips); `max_context`
  // the model's longest sequence. Throws InputError for options out of range.
  Engine(const StepCostModel& cost, Scheduler& scheduler, EngineOptions options,
         int64_t max_context, double idle_watts, double start);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // `q` arrives: it joins the waiting queue, or is rejected (counted in the report) when it can
  // never fit (prompt + output beyond max_context or the whole KV cache). An idle engine's clock
  // moves on to q.arrival first; a busy one's clock may be past it (q arrived during the step that
  // ends then), and q waits for the next step.
  void add(Request q);
  // A sequence handed off by a prefill instance (take_handoffs) arrives at `arrival` with the KV
  // of its cached positions: it joins the running sequences, ahead of the waiting ones, at the
  // first step with room for it in the batch and the KV cache, and decodes from there. Rejected
  // as add() rejects. Its TTFT is from the prefill instance.
  void add_prefilled(Sequence s, double arrival);
  // The sequences handed off (EngineOptions::hand_off) since the last call, in order.
  std::vector<Sequence> take_handoffs() { return std::exchange(handoffs_, {}); }
  bool idle() const { return running_.empty() && waiting_.empty() && arrived_.empty(); }
  double clock() const { return now_; }
  // When the next step starts: the clock, or infinity when idle (the next add() wakes it).
  double next_step() const;
  // Runs one step (not idle()): KV slots for the decoding sequences (preempting the newest while
  // the cache is full), the scheduler's plan, its cost, its results; the clock moves to its end.
  void step();
  // Runs the steps that start before `t` (those starting at `t` wait: a request arriving at `t`
  // joins them).
  void run_until(double t);

  // Tokens still to compute for the requests here: to prefill (or recompute) and to generate.
  // Kept up to date step by step (constant time), for routers.
  int64_t outstanding_tokens() const { return outstanding_; }
  // Prompt positions of `q` this engine's prefix cache holds (KvCache::cached_prefix).
  int64_t cached_prefix(const Request& q) const { return kv_.cached_prefix(q); }
  int64_t steps() const { return r_.steps; }
  int64_t finished() const { return r_.finished; }
  // The finished requests by SLO class (one entry without EngineOptions::slo_classes); each
  // class's exact latencies are in finishing order.
  const std::vector<ClassLatencies>& latencies() const { return latencies_; }
  // The report for the time from `start` to `end` (>= clock(); idle after the clock). `stopped`
  // is left false: whoever stops the engine says so.
  ServeReport report(double end) const;

 private:
  // Counts `q` as rejected, and says so, when it can never fit here.
  bool reject_unfit(const Request& q);
  Sequence* take_slot(Sequence s);
  void finish(Sequence* s);
  void hand_off(Sequence* s);
  void preempt(Sequence* s);
  void produce(Sequence* s);
  const StepCostModel& cost_;
  Scheduler& scheduler_;
  EngineOptions o_;
  int64_t max_context_;
  double idle_watts_, start_, now_;
  KvCache kv_;
  StepCost shared_;              // what every part of a step shares (combine())
  std::deque<Sequence> pool_;    // every sequence in the engine (stable addresses)
  std::vector<Sequence*> free_;  // finished or handed off: slots for add() to reuse
  std::deque<Sequence*> waiting_;
  std::deque<Sequence*> arrived_;  // add_prefilled's, not admitted yet
  std::vector<Sequence*> running_;
  std::vector<Sequence> handoffs_;
  // The current step's plan and parts, kept to reuse their storage.
  StepPlan plan_;
  std::vector<StepCost> parts_;
  bool any_finished_ = false;  // in the current step
  int64_t outstanding_ = 0;
  double batch_seconds_ = 0;
  std::vector<ClassLatencies> latencies_;
  ServeReport r_;  // the running totals
};

// Runs the requests of `arrivals` through one instance (an Engine fed them as its clock passes
// their arrival), calling options.progress and options.keep_going as they document. Reads the
// stream as the run goes: only the requests the engine holds are in memory.
ServeReport run_engine(RequestStream& arrivals, const StepCostModel& cost, Scheduler& scheduler,
                       const EngineOptions& options, int64_t max_context, double idle_watts);
ServeReport run_engine(const Workload& workload, const StepCostModel& cost, Scheduler& scheduler,
                       const EngineOptions& options, int64_t max_context, double idle_watts);

}  // namespace seedchip::serve
