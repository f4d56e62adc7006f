#include "serve/engine/engine.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "arch/chip_peaks.h"
#include "arch/error.h"
#include "llm/model_preset.h"

namespace seedchip::serve {

KvCache::KvCache(int64_t pages, int64_t page_tokens, int64_t block_tokens)
    : free_(pages), total_(pages), page_(page_tokens), block_(block_tokens) {
  if (page_ < 1) throw InputError("KV cache: the page must be at least 1 token");
  if (block_ < 0 || block_ % page_ != 0)
    throw InputError("KV cache: the prefix block (" + std::to_string(block_) +
                     " tokens) must be a multiple of the page (" + std::to_string(page_) +
                     " tokens)");
}

bool KvCache::grow_pages(Sequence& s, int64_t positions) {
  const int64_t n = extra(s, positions);
  if (n > free_ + evictable_) return false;
  while (free_ < n) {
    Block& b = blocks_.at(lru_.front());
    free_ += b.pages;
    cached_ -= b.pages;
    evictable_ -= b.pages;
    ++evicted_;
    blocks_.erase(lru_.front());
    lru_.pop_front();
  }
  free_ -= n;
  s.pages += n;
  return true;
}

void KvCache::ref(Block& b) {
  if (b.refs++ > 0) return;
  lru_.erase(b.lru);
  evictable_ -= b.pages;
}

void KvCache::unref(uint64_t id, Block& b) {
  if (--b.refs > 0) return;
  b.lru = lru_.insert(lru_.end(), id);
  evictable_ += b.pages;
}

void KvCache::share_prefix(Sequence& s) {
  if (block_ == 0) return;
  const Request& q = s.request;
  for (const int64_t blocks = q.blocks(block_); s.blocks < blocks; ++s.blocks) {
    const auto it = blocks_.find(q.hash_ids[s.blocks]);
    const int64_t tokens = q.block_tokens(s.blocks, block_);
    if (it == blocks_.end() || it->second.tokens != tokens) break;
    ref(it->second);
    s.shared += tokens;
  }
  s.cached = std::min(s.shared, s.prefill_target() - 1);
}

int64_t KvCache::cached_prefix(const Request& q) const {
  if (block_ == 0) return 0;
  int64_t positions = 0;
  for (int64_t i = 0, blocks = q.blocks(block_); i < blocks; ++i) {
    const auto it = blocks_.find(q.hash_ids[i]);
    const int64_t tokens = q.block_tokens(i, block_);
    if (it == blocks_.end() || it->second.tokens != tokens) break;
    positions += tokens;
  }
  return positions;
}

void KvCache::publish(Sequence& s, bool partial) {
  if (block_ == 0) return;
  const Request& q = s.request;
  for (const int64_t blocks = q.blocks(block_); s.blocks < blocks; ++s.blocks) {
    const int64_t tokens = q.block_tokens(s.blocks, block_);
    if (s.shared + tokens > s.cached || (tokens < block_ && !partial)) return;
    const int64_t pages = pages_for(tokens);
    const auto [it, added] = blocks_.try_emplace(q.hash_ids[s.blocks], Block{tokens, pages, 1, {}});
    if (added) {
      cached_ += pages;
    } else {
      // Computed twice (admitted before the other copy was cached): keep the cached one. An id
      // cached with other tokens is no block of this prompt; its blocks after it stay its own.
      if (it->second.tokens != tokens) return;
      ref(it->second);
      free_ += pages;
    }
    s.pages -= pages;
    s.shared += tokens;
  }
}

void KvCache::release(Sequence& s) {
  publish(s, true);
  free_ += s.pages;
  for (int64_t i = s.blocks - 1; i >= 0; --i) {
    const uint64_t id = s.request.hash_ids[i];
    unref(id, blocks_.at(id));
  }
  s.pages = s.blocks = s.shared = s.cached = 0;
}

KvBudget kv_pages_for(const llm::LlamaConfig& model, const ChipConfig& chip, int64_t chips,
                      int64_t page_tokens) {
  if (chips < 1 || page_tokens < 1)
    throw InputError("KV cache: chips and page size must be at least 1");
  KvBudget b;
  b.hbm_bytes = chip_peaks(chip).hbm_gbytes * 1e9 * static_cast<double>(chips);
  b.weight_bytes = static_cast<double>(llm::parameter_count(model)) * 2;
  b.bytes_per_token = 2.0 * static_cast<double>(model.n_layers * model.kv_dim()) * 2;
  const double free = b.hbm_bytes - b.weight_bytes;
  if (free <= 0)
    throw InputError("KV cache: the model's " + std::to_string(b.weight_bytes / 1e9) +
                     " GB of weights do not fit the " + std::to_string(b.hbm_bytes / 1e9) +
                     " GB of HBM of " + std::to_string(chips) + " chips");
  b.pages = static_cast<int64_t>(free / (b.bytes_per_token * static_cast<double>(page_tokens)));
  return b;
}

void ClassLatencies::merge(const ClassLatencies& other) {
  finished += other.finished;
  good += other.good;
  ttft.merge(other.ttft);
  tpot.merge(other.tpot);
  e2e.merge(other.e2e);
  max_tbt.merge(other.max_tbt);
}

namespace {

EngineOptions checked(EngineOptions o) {
  if (o.max_batch < 1 || o.token_budget < 1 || o.page_tokens < 1 || o.kv_pages < 1)
    throw InputError("engine: max batch, token budget, page size and KV pages must be at least 1");
  if (o.prefix_caching && o.prefix_block < 1)
    throw InputError("engine: the prefix block must be at least 1 token");
  return o;
}

}  // namespace

Engine::Engine(const StepCostModel& cost, Scheduler& scheduler, EngineOptions options,
               int64_t max_context, double idle_watts, double start)
    : cost_(cost),
      scheduler_(scheduler),
      o_(checked(std::move(options))),
      max_context_(max_context),
      idle_watts_(idle_watts),
      start_(start),
      now_(start),
      kv_(o_.kv_pages, o_.page_tokens, o_.prefix_caching ? o_.prefix_block : 0),
      shared_(cost.decode(1, 1)),
      latencies_(std::max<size_t>(1, o_.slo_classes.size()), ClassLatencies(o_.latencies)) {
  r_.kv_pages = o_.kv_pages;
}

bool Engine::reject_unfit(const Request& q) {
  // The longest it gets: the prompt and every generated token but the last in the cache, and at
  // least one slot beyond the prompt (continuous admission reserves one); with prefix caching one
  // page more, for the positions after a shared partial block, which start a page.
  const int64_t positions = q.prompt + q.output;
  if (positions > max_context_ ||
      kv_.pages_for(positions) + (o_.prefix_caching ? 1 : 0) > kv_.total_pages()) {
    ++r_.rejected;
    return true;
  }
  if (!o_.slo_classes.empty() &&
      (q.slo_class < 0 || q.slo_class >= static_cast<int64_t>(o_.slo_classes.size())))
    throw InputError("engine: request " + std::to_string(q.id) + " is of SLO class " +
                     std::to_string(q.slo_class) + "; the classes are 0 to " +
                     std::to_string(o_.slo_classes.size() - 1));
  return false;
}

Sequence* Engine::take_slot(Sequence s) {
  if (free_.empty()) return &pool_.emplace_back(std::move(s));
  Sequence* slot = free_.back();
  free_.pop_back();
  *slot = std::move(s);
  return slot;
}

void Engine::add(Request q) {
  ++r_.requests;
  if (idle()) now_ = std::max(now_, q.arrival);
  if (reject_unfit(q)) return;
  outstanding_ += q.prompt + q.output;
  waiting_.push_back(take_slot(Sequence{std::move(q)}));
}

void Engine::add_prefilled(Sequence s, double arrival) {
  ++r_.requests;
  if (idle()) now_ = std::max(now_, arrival);
  if (reject_unfit(s.request)) return;
  s.handed_off = false;
  outstanding_ += s.request.output - s.generated;
  arrived_.push_back(take_slot(std::move(s)));
}

double Engine::next_step() const { return idle() ? std::numeric_limits<double>::infinity() : now_; }

void Engine::run_until(double t) {
  while (!idle() && now_ < t) step();
}

void Engine::finish(Sequence* s) {
  s->finish = now_;
  kv_.release(*s);
  ++r_.finished;
  r_.prompt_tokens += s->request.prompt;
  r_.prefix_hit_tokens += s->hit;
  const bool classed = !o_.slo_classes.empty();
  const auto c = classed ? static_cast<size_t>(s->request.slo_class) : 0;
  ClassLatencies& l = latencies_[c];
  const double ttft = s->first_token - s->request.arrival;
  bool good = ttft <= (classed ? o_.slo_classes[c].ttft : o_.slo_ttft);
  l.ttft.add(ttft);
  l.e2e.add(s->finish - s->request.arrival);
  if (s->request.output > 1) {
    const double tpot = (s->finish - s->first_token) / static_cast<double>(s->request.output - 1);
    l.tpot.add(tpot);
    l.max_tbt.add(s->max_gap);
    good = good && tpot <= (classed ? o_.slo_classes[c].tpot : o_.slo_tpot);
  }
  ++l.finished;
  if (good) ++l.good, ++r_.good;
  any_finished_ = true;
}

void Engine::hand_off(Sequence* s) {
  outstanding_ -= s->request.output - s->generated;  // generated elsewhere
  kv_.release(*s);
  s->handed_off = true;
  Sequence moved = *s;
  moved.cached = moved.prefill_target();  // what its KV holds
  handoffs_.push_back(std::move(moved));
  any_finished_ = true;  // it leaves the running sequences
}

void Engine::preempt(Sequence* s) {
  outstanding_ += s->cached;  // to compute again
  kv_.release(*s);
  ++s->preemptions;
  ++r_.preemptions;
  waiting_.push_front(s);
}

void Engine::produce(Sequence* s) {
  ++s->generated;
  ++r_.output_tokens;
  --outstanding_;
  if (s->generated == 1) s->first_token = now_;
  if (s->last_token >= 0) s->max_gap = std::max(s->max_gap, now_ - s->last_token);
  s->last_token = now_;
  if (s->generated == s->request.output) finish(s);
}

void Engine::step() {
  if (idle()) throw std::logic_error("serving engine: step() on an idle engine");
  // In a fleet the sequences have left the cache since this engine's last step: ask for them all
  // at once rather than miss them one at a time in the loops below.
  for (const Sequence* s : running_) {
    __builtin_prefetch(s);
    __builtin_prefetch(reinterpret_cast<const char*>(s) + 64);
    __builtin_prefetch(reinterpret_cast<const char*>(s) + 128);
  }
  // Sequences whose KV arrived from a prefill instance take their pages as soon as there is room.
  while (!arrived_.empty() && static_cast<int64_t>(running_.size()) < o_.max_batch &&
         kv_.grow(*arrived_.front(), arrived_.front()->cached)) {
    running_.push_back(arrived_.front());
    arrived_.pop_front();
  }
  // A KV slot for every decoding sequence's next token, oldest first; the newest give way.
  for (size_t i = 0; i < running_.size(); ++i) {
    Sequence* s = running_[i];
    if (!s->decoding()) continue;
    while (!kv_.grow(*s, s->cached + 1)) {
      Sequence* victim = running_.back();
      running_.pop_back();
      preempt(victim);
      if (victim == s) break;
    }
  }
  Scheduler::State state{waiting_, running_, kv_, o_};
  // The sequences a plan admits join running's back: what the prefix cache gave them is work
  // they skip.
  StepPlan& plan = plan_;
  auto replan = [&] {
    plan.prefill.clear();
    plan.decode.clear();
    const size_t before = running_.size();
    scheduler_.plan(state, plan);
    for (size_t i = before; i < running_.size(); ++i) {
      Sequence* s = running_[i];
      if (s->preemptions == 0) s->hit = s->cached;
      outstanding_ -= s->cached;
    }
  };
  replan();
  // Partly prefilled sequences can fill the cache with none of them able to go on: the newest
  // gives way until something runs.
  while (plan.prefill.empty() && plan.decode.empty() && !running_.empty()) {
    preempt(running_.back());
    running_.pop_back();
    replan();
  }
  if (plan.prefill.empty() && plan.decode.empty())
    throw std::logic_error("serving engine: the scheduler planned an empty step");

  parts_.clear();
  for (const auto& [s, n] : plan.prefill) parts_.push_back(cost_.prefill(n, s->cached + n));
  if (!plan.decode.empty()) {
    // Summed as integers (exact, as a sum of doubles below 2^53 is, and without the latency of
    // a chain of floating-point additions).
    int64_t contexts = 0;
    for (const Sequence* s : plan.decode) contexts += s->cached + 1;
    const auto batch = static_cast<int64_t>(plan.decode.size());
    parts_.push_back(
        cost_.decode(batch, static_cast<double>(contexts) / static_cast<double>(batch)));
  }
  const StepCost step = combine(parts_, shared_);
  const double sequences = static_cast<double>(plan.prefill.size() + plan.decode.size());
  if (o_.timeline_interval > 0) {
    // Spread the step over the intervals it covers.
    for (double t = now_; t < now_ + step.seconds;) {
      const auto i = static_cast<size_t>((t - start_) / o_.timeline_interval);
      const double end = std::min(now_ + step.seconds, start_ + (i + 1) * o_.timeline_interval);
      if (r_.timeline.size() <= i) r_.timeline.resize(i + 1);
      r_.timeline[i].busy += end - t;
      r_.timeline[i].batch_seconds += sequences * (end - t);
      t = end > t ? end : std::nextafter(t, now_ + step.seconds);
    }
  }
  now_ += step.seconds;
  r_.busy += step.seconds;
  r_.energy_busy += step.joules;
  ++r_.steps;
  batch_seconds_ += sequences * step.seconds;
  r_.kv_peak_pages = std::max(r_.kv_peak_pages, kv_.used_pages());

  any_finished_ = false;
  for (const auto& [s, n] : plan.prefill) {
    s->cached += n;
    r_.prefill_tokens += n;
    outstanding_ -= n;
    kv_.publish(*s, false);
    if (s->generated == 0 && s->cached == s->prefill_target()) {
      produce(s);
      if (o_.hand_off && s->finish < 0) hand_off(s);
    }
  }
  // produce() for each decode (never a first token), the counters added once: the compiler keeps
  // every update in memory otherwise, and re-reads what it just stored.
  for (Sequence* s : plan.decode) {
    const int64_t generated = s->generated + 1;
    ++s->cached;
    s->generated = generated;
    s->max_gap = std::max(s->max_gap, now_ - s->last_token);
    s->last_token = now_;
    if (generated == s->request.output) finish(s);
  }
  r_.output_tokens += static_cast<int64_t>(plan.decode.size());
  outstanding_ -= static_cast<int64_t>(plan.decode.size());
  if (any_finished_)
    std::erase_if(running_, [this](Sequence* s) {
      if (s->finish < 0 && !s->handed_off) return false;
      free_.push_back(s);
      return true;
    });
}

ServeReport Engine::report(double end) const {
  ServeReport r = r_;
  r.kv_free_pages_end = kv_.free_pages();
  r.kv_cached_pages_end = kv_.cached_pages();
  r.kv_used_pages_end = kv_.used_pages();
  r.prefix_evicted_blocks = kv_.evicted_blocks();
  r.makespan = end - start_;
  r.mean_batch = r.busy > 0 ? batch_seconds_ / r.busy : 0;
  r.energy_idle = idle_watts_ * (r.makespan - r.busy);
  ClassLatencies all(o_.latencies);
  for (const ClassLatencies& l : latencies_) all.merge(l);
  r.ttft = all.ttft.percentiles();
  r.tpot = all.tpot.percentiles();
  r.e2e = all.e2e.percentiles();
  r.max_tbt = all.max_tbt.percentiles();
  if (o_.keep_samples) {
    r.ttft_samples = std::move(all.ttft);
    r.tpot_samples = std::move(all.tpot);
    r.e2e_samples = std::move(all.e2e);
  }
  return r;
}

ServeReport run_engine(RequestStream& arrivals, const StepCostModel& cost, Scheduler& scheduler,
                       const EngineOptions& o, int64_t max_context, double idle_watts) {
  Request next;
  bool more = arrivals.next(next);
  const double start = more ? next.arrival : 0;
  Engine engine(cost, scheduler, o, max_context, idle_watts, start);
  bool stopped = false;
  for (;;) {
    for (; more && next.arrival <= engine.clock(); more = arrivals.next(next))
      engine.add(std::move(next));
    if (engine.idle()) {
      if (!more) break;
      engine.add(std::move(next));  // idle until it arrives
      more = arrivals.next(next);
      continue;
    }
    if (o.keep_going && !o.keep_going()) {
      stopped = true;
      break;
    }
    engine.step();
    if (o.progress && engine.steps() % o.progress_every == 0)
      o.progress(engine.finished(), engine.clock() - start);
  }
  ServeReport r = engine.report(engine.clock());  // requests: those read
  r.stopped = stopped;
  return r;
}

ServeReport run_engine(const Workload& workload, const StepCostModel& cost, Scheduler& scheduler,
                       const EngineOptions& o, int64_t max_context, double idle_watts) {
  WorkloadStream arrivals(workload);
  ServeReport r = run_engine(arrivals, cost, scheduler, o, max_context, idle_watts);
  r.requests = static_cast<int64_t>(workload.requests.size());  // read or not
  return r;
}

}  // namespace seedchip::serve
