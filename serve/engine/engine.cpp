#include "serve/engine/engine.h"

#include <cmath>
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

bool KvCache::grow(Sequence& s, int64_t positions) {
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

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    const double x = q * static_cast<double>(v.size() - 1);
    const size_t i = static_cast<size_t>(x);
    return i + 1 < v.size() ? v[i] + (v[i + 1] - v[i]) * (x - static_cast<double>(i)) : v[i];
  };
  p.p50 = at(0.5);
  p.p90 = at(0.9);
  p.p99 = at(0.99);
  for (double x : v) p.mean += x;
  p.mean /= static_cast<double>(v.size());
  return p;
}

ServeReport run_engine(const Workload& workload, const StepCostModel& cost, Scheduler& scheduler,
                       const EngineOptions& o, int64_t max_context, double idle_watts) {
  if (o.max_batch < 1 || o.token_budget < 1 || o.page_tokens < 1 || o.kv_pages < 1)
    throw InputError("engine: max batch, token budget, page size and KV pages must be at least 1");
  if (o.prefix_caching && o.prefix_block < 1)
    throw InputError("engine: the prefix block must be at least 1 token");
  ServeReport r;
  r.requests = static_cast<int64_t>(workload.requests.size());
  r.kv_pages = o.kv_pages;
  KvCache kv(o.kv_pages, o.page_tokens, o.prefix_caching ? o.prefix_block : 0);
  std::vector<Sequence> seqs;
  seqs.reserve(workload.requests.size());
  for (const Request& q : workload.requests) seqs.push_back({q});
  std::deque<Sequence*> waiting;
  std::vector<Sequence*> running;
  Scheduler::State state{waiting, running, kv, o, [&](Sequence* s) {
                           waiting.pop_front();
                           running.push_back(s);
                           if (s->preemptions == 0) s->hit = s->cached;
                         }};

  const StepCost shared = cost.decode(1, 1);
  const double start = seqs.empty() ? 0 : seqs.front().request.arrival;
  double now = start, batch_seconds = 0;
  size_t next = 0;
  std::vector<double> ttft, tpot, e2e;
  auto finish = [&](Sequence* s) {
    s->finish = now;
    kv.release(*s);
    ++r.finished;
    r.prompt_tokens += s->request.prompt;
    r.prefix_hit_tokens += s->hit;
    const double first = s->first_token - s->request.arrival;
    ttft.push_back(first);
    e2e.push_back(s->finish - s->request.arrival);
    bool good = first <= o.slo_ttft;
    if (s->request.output > 1) {
      const double t = (s->finish - s->first_token) / static_cast<double>(s->request.output - 1);
      tpot.push_back(t);
      good = good && t <= o.slo_tpot;
    }
    if (good) ++r.good;
  };
  auto preempt = [&](Sequence* s) {
    kv.release(*s);
    ++s->preemptions;
    ++r.preemptions;
    waiting.push_front(s);
  };

  while (true) {
    for (; next < seqs.size() && seqs[next].request.arrival <= now; ++next) {
      Sequence& s = seqs[next];
      // The longest it gets: the prompt and every generated token but the last in the cache,
      // and at least one slot beyond the prompt (continuous admission reserves one); with prefix
      // caching one page more, for the positions after a shared partial block, which start a page.
      const int64_t positions = s.request.prompt + s.request.output;
      if (positions > max_context ||
          kv.pages_for(positions) + (o.prefix_caching ? 1 : 0) > kv.total_pages())
        ++r.rejected;
      else
        waiting.push_back(&s);
    }
    if (running.empty() && waiting.empty()) {
      if (next == seqs.size()) break;
      now = seqs[next].request.arrival;  // idle until the next arrival
      continue;
    }
    if (o.keep_going && !o.keep_going()) {
      r.stopped = true;
      break;
    }
    // A KV slot for every decoding sequence's next token, oldest first; the newest give way.
    for (size_t i = 0; i < running.size(); ++i) {
      Sequence* s = running[i];
      if (!s->decoding()) continue;
      while (!kv.grow(*s, s->cached + 1)) {
        Sequence* victim = running.back();
        running.pop_back();
        preempt(victim);
        if (victim == s) break;
      }
    }
    StepPlan plan = scheduler.plan(state);
    // Partly prefilled sequences can fill the cache with none of them able to go on: the newest
    // gives way until something runs.
    while (plan.prefill.empty() && plan.decode.empty() && !running.empty()) {
      preempt(running.back());
      running.pop_back();
      plan = scheduler.plan(state);
    }
    if (plan.prefill.empty() && plan.decode.empty())
      throw std::logic_error("serving engine: the scheduler planned an empty step");

    std::vector<StepCost> parts;
    for (const auto& [s, n] : plan.prefill) parts.push_back(cost.prefill(n, s->cached + n));
    if (!plan.decode.empty()) {
      double contexts = 0;
      for (const Sequence* s : plan.decode) contexts += static_cast<double>(s->cached + 1);
      const auto batch = static_cast<int64_t>(plan.decode.size());
      parts.push_back(cost.decode(batch, contexts / static_cast<double>(batch)));
    }
    const StepCost step = combine(parts, shared);
    const double sequences = static_cast<double>(plan.prefill.size() + plan.decode.size());
    if (o.timeline_interval > 0) {
      // Spread the step over the intervals it covers.
      for (double t = now; t < now + step.seconds;) {
        const auto i = static_cast<size_t>((t - start) / o.timeline_interval);
        const double end = std::min(now + step.seconds, start + (i + 1) * o.timeline_interval);
        if (r.timeline.size() <= i) r.timeline.resize(i + 1);
        r.timeline[i].busy += end - t;
        r.timeline[i].batch_seconds += sequences * (end - t);
        t = end > t ? end : std::nextafter(t, now + step.seconds);
      }
    }
    now += step.seconds;
    r.busy += step.seconds;
    r.energy_busy += step.joules;
    ++r.steps;
    batch_seconds += sequences * step.seconds;
    r.kv_peak_pages = std::max(r.kv_peak_pages, kv.used_pages());

    bool any_finished = false;
    auto produce = [&](Sequence* s) {
      ++s->generated;
      ++r.output_tokens;
      if (s->generated == 1) s->first_token = now;
      if (s->generated == s->request.output) {
        finish(s);
        any_finished = true;
      }
    };
    for (const auto& [s, n] : plan.prefill) {
      s->cached += n;
      r.prefill_tokens += n;
      kv.publish(*s, false);
      if (s->generated == 0 && s->cached == s->prefill_target()) produce(s);
    }
    for (Sequence* s : plan.decode) {
      ++s->cached;
      produce(s);
    }
    if (any_finished) std::erase_if(running, [](const Sequence* s) { return s->finish >= 0; });
    if (o.progress && r.steps % o.progress_every == 0) o.progress(r.finished, now - start);
  }

  r.kv_free_pages_end = kv.free_pages();
  r.kv_cached_pages_end = kv.cached_pages();
  r.kv_used_pages_end = kv.used_pages();
  r.prefix_evicted_blocks = kv.evicted_blocks();
  r.makespan = now - start;
  r.mean_batch = r.busy > 0 ? batch_seconds / r.busy : 0;
  r.energy_idle = idle_watts * (r.makespan - r.busy);
  if (o.keep_samples) r.ttft_samples = ttft, r.tpot_samples = tpot, r.e2e_samples = e2e;
  r.ttft = percentiles(std::move(ttft));
  r.tpot = percentiles(std::move(tpot));
  r.e2e = percentiles(std::move(e2e));
  return r;
}

}  // namespace seedchip::serve
