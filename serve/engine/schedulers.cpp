// The batch schedulers, registered by name.
#include "arch/error.h"
#include "serve/engine/engine.h"

namespace seedchip::serve {

namespace {

bool room(const Scheduler::State& s) {
  return static_cast<int64_t>(s.running.size()) < s.options.max_batch;
}

// vLLM's default: waiting prompts are prefilled whole, several per step up to the token budget
// (one prompt always), and a step that prefills decodes nothing.
class ContinuousScheduler : public Scheduler {
 public:
  void plan(State& s, StepPlan& p) override {
    int64_t tokens = 0;
    while (!s.waiting.empty() && room(s)) {
      Sequence* q = s.waiting.front();
      s.kv.share_prefix(*q);
      const int64_t n = q->prefill_target() - q->cached;
      // With the slot of its first decode: a prompt that fits only without it would be
      // preempted at that decode and readmitted, over and over, while nothing else decodes.
      if ((!p.prefill.empty() && tokens + n > s.options.token_budget) ||
          !s.kv.grow(*q, q->prefill_target() + 1)) {
        s.kv.release(*q);
        break;
      }
      s.admit(q);
      p.prefill.push_back({q, n});
      tokens += n;
    }
    if (!p.prefill.empty()) return;
    for (Sequence* q : s.running)
      if (q->decoding()) p.decode.push_back(q);
  }
};

// Chunked prefill (Sarathi-Serve, vLLM's chunked prefill): every decoding sequence takes one token
// of the step's budget, the rest goes to prompt chunks, first of admitted sequences, then of new
// ones in arrival order.
class ChunkedScheduler : public Scheduler {
 public:
  void plan(State& s, StepPlan& p) override {
    int64_t budget = s.options.token_budget;
    for (Sequence* q : s.running)
      if (q->decoding() && budget > 0) {
        p.decode.push_back(q);
        --budget;
      }
    for (Sequence* q : s.running) {
      if (q->decoding() || budget == 0) continue;
      const int64_t n = std::min(budget, q->prefill_target() - q->cached);
      if (!s.kv.grow(*q, q->cached + n)) continue;
      p.prefill.push_back({q, n});
      budget -= n;
    }
    while (budget > 0 && !s.waiting.empty() && room(s)) {
      Sequence* q = s.waiting.front();
      s.kv.share_prefix(*q);
      const int64_t n = std::min(budget, q->prefill_target() - q->cached);
      if (!s.kv.grow(*q, q->cached + n)) {
        s.kv.release(*q);
        break;
      }
      s.admit(q);
      p.prefill.push_back({q, n});
      budget -= n;
    }
  }
};

}  // namespace

const std::map<std::string, SchedulerInfo>& schedulers() {
  static const std::map<std::string, SchedulerInfo> table = {
      {"continuous",
       {"iteration-level batching; waiting prompts prefilled whole and first (vLLM's default)",
        [] { return std::make_unique<ContinuousScheduler>(); }}},
      {"chunked",
       {"decodes first, then prompt chunks within the step's token budget (Sarathi-Serve)",
        [] { return std::make_unique<ChunkedScheduler>(); }}}};
  return table;
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name) {
  const auto it = schedulers().find(name);
  if (it == schedulers().end()) {
    std::string known;
    for (const auto& [n, info] : schedulers()) known += (known.empty() ? "" : ", ") + n;
    throw InputError("unknown scheduler '" + name + "' (known: " + known + ")");
  }
  return it->second.make();
}

}  // namespace seedchip::serve
