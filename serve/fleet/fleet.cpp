#include "serve/fleet/fleet.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <tuple>

#include "arch/error.h"

namespace seedchip::serve {

namespace {

// One instance's reports summed as FleetReport::total documents; the percentiles over the
// engines' finished requests.
// With `keep`, the latencies behind the percentiles land there.
ServeReport combined(const std::vector<const ServeReport*>& reports,
                     const std::vector<const Engine*>& engines, double makespan,
                     LatencyDistribution::Mode mode, bool keep_samples = false,
                     ClassLatencies* keep = nullptr) {
  ServeReport t;
  t.makespan = makespan;
  double batch_seconds = 0;
  for (const ServeReport* r : reports) {
    t.requests += r->requests;
    t.finished += r->finished;
    t.rejected += r->rejected;
    t.busy += r->busy;
    t.steps += r->steps;
    t.prefill_tokens += r->prefill_tokens;
    t.output_tokens += r->output_tokens;
    t.preemptions += r->preemptions;
    batch_seconds += r->mean_batch * r->busy;
    t.energy_busy += r->energy_busy;
    t.energy_idle += r->energy_idle;
    t.kv_pages += r->kv_pages;
    t.kv_peak_pages += r->kv_peak_pages;
    t.kv_free_pages_end += r->kv_free_pages_end;
    t.kv_cached_pages_end += r->kv_cached_pages_end;
    t.kv_used_pages_end += r->kv_used_pages_end;
    t.prompt_tokens += r->prompt_tokens;
    t.prefix_hit_tokens += r->prefix_hit_tokens;
    t.prefix_evicted_blocks += r->prefix_evicted_blocks;
    t.good += r->good;
  }
  t.mean_batch = t.busy > 0 ? batch_seconds / t.busy : 0;
  if (!reports.empty()) t.busy /= static_cast<double>(reports.size());
  ClassLatencies all(mode);
  for (const Engine* e : engines)
    for (const ClassLatencies& l : e->latencies()) all.merge(l);
  t.ttft = all.ttft.percentiles();
  t.tpot = all.tpot.percentiles();
  t.e2e = all.e2e.percentiles();
  t.max_tbt = all.max_tbt.percentiles();
  if (keep) *keep = all;
  if (keep_samples) {
    t.ttft_samples = std::move(all.ttft);
    t.tpot_samples = std::move(all.tpot);
    t.e2e_samples = std::move(all.e2e);
  }
  return t;
}

}  // namespace

std::vector<ClassReport> class_reports(const std::vector<int64_t>& requests,
                                       const std::vector<ClassLatencies>& merged,
                                       const std::vector<SloClass>& classes, double makespan) {
  std::vector<ClassReport> out(classes.size());
  for (size_t c = 0; c < classes.size(); ++c) {
    out[c].slo = classes[c];
    out[c].requests = requests[c];
    out[c].finished = merged[c].finished;
    out[c].good = merged[c].good;
    out[c].goodput = makespan > 0 ? static_cast<double>(out[c].good) / makespan : 0;
    out[c].ttft = merged[c].ttft.percentiles();
    out[c].tpot = merged[c].tpot.percentiles();
    out[c].e2e = merged[c].e2e.percentiles();
  }
  return out;
}

FleetReport run_fleet(RequestStream& arrivals, const std::vector<Pool>& pools, Router& router,
                      const FleetOptions& o) {
  if (pools.empty()) throw InputError("fleet: no pool of instances");
  for (const Pool& p : pools)
    if (p.instances < 1 || p.cost == nullptr)
      throw InputError("fleet: pool '" + p.name + "' needs at least one instance and a cost model");
  const auto has = [&](PoolRole role) {
    return std::any_of(pools.begin(), pools.end(), [&](const Pool& p) { return p.role == role; });
  };
  if (has(PoolRole::kPrefill) != has(PoolRole::kDecode))
    throw InputError(
        "fleet: prefill pools need decode pools to hand their sequences to, and the other way "
        "round");
  for (const Pool& p : pools)
    if (p.role == PoolRole::kPrefill && !(p.kv_bytes_per_token > 0 && p.link_bytes_per_s > 0))
      throw InputError("fleet: prefill pool '" + p.name +
                       "' needs its KV bytes per token and link bandwidth for the transfers");
  if (o.slo_classes.empty()) throw InputError("fleet: no SLO class");
  std::vector<int64_t> class_requests(o.slo_classes.size(), 0);
  // The next arrival, its class checked.
  Request next;
  auto draw = [&] {
    if (!arrivals.next(next)) return false;
    if (next.slo_class < 0 || next.slo_class >= static_cast<int64_t>(o.slo_classes.size()))
      throw InputError("fleet: request " + std::to_string(next.id) + " is of SLO class " +
                       std::to_string(next.slo_class) + "; the classes are 0 to " +
                       std::to_string(o.slo_classes.size() - 1));
    ++class_requests[static_cast<size_t>(next.slo_class)];
    return true;
  };
  bool more = draw();
  const double start = !std::isnan(o.start) ? o.start : more ? next.arrival : 0;
  std::vector<std::unique_ptr<Scheduler>> schedulers;
  std::vector<std::unique_ptr<Engine>> instances;
  std::vector<const Engine*> engines;
  std::vector<size_t> pool_of;
  for (size_t p = 0; p < pools.size(); ++p) {
    EngineOptions e = pools[p].engine;
    e.slo_classes = o.slo_classes;
    e.progress = nullptr;
    e.keep_going = nullptr;
    e.keep_samples = false;
    e.timeline_interval = 0;
    e.latencies = o.latencies;
    e.hand_off = pools[p].role == PoolRole::kPrefill;
    for (int64_t k = 0; k < pools[p].instances; ++k) {
      schedulers.push_back(make_scheduler(pools[p].scheduler));
      instances.push_back(std::make_unique<Engine>(
          *pools[p].cost, *schedulers.back(), e, pools[p].max_context, pools[p].idle_watts, start));
      engines.push_back(instances.back().get());
      pool_of.push_back(p);
    }
  }
  const size_t n = instances.size();
  // The instances that take arrivals (the router's view, numbered apart) and the decode ones.
  std::vector<size_t> front, decoders;
  std::vector<size_t> front_number(n, n);
  std::vector<const Engine*> front_engines;
  for (size_t i = 0; i < n; ++i) {
    if (pools[pool_of[i]].role == PoolRole::kDecode) {
      decoders.push_back(i);
      continue;
    }
    front_number[i] = front.size();
    front.push_back(i);
    front_engines.push_back(engines[i]);
  }
  std::vector<int64_t> outstanding(front.size(), 0);
  const FleetView view(outstanding, front_engines);

  // The instances with work, by the start of their next step, then by number: a min-heap.
  using Event = std::pair<double, size_t>;
  std::vector<Event> heap;
  heap.reserve(n);
  const auto later = std::greater<Event>();
  auto schedule = [&](size_t i) {
    heap.emplace_back(instances[i]->clock(), i);
    std::push_heap(heap.begin(), heap.end(), later);
  };

  // Sequences on their way from a prefill to a decode instance, by arrival (then handing off
  // order): a min-heap.
  struct Transfer {
    double at = 0;
    int64_t order = 0;
    Sequence sequence;
  };
  std::vector<Transfer> transfers;
  const auto arrives_later = [](const Transfer& a, const Transfer& b) {
    return std::tie(a.at, a.order) > std::tie(b.at, b.order);
  };
  int64_t transfers_started = 0;
  std::vector<double> transfer_seconds;

  FleetReport report;
  bool stopped = false;
  int64_t steps = 0, finished = 0, requests = 0;
  constexpr double kNever = std::numeric_limits<double>::infinity();
  for (;;) {
    const double step_at = heap.empty() ? kNever : heap.front().first;
    const double transfer_at = transfers.empty() ? kNever : transfers.front().at;
    // An arrival goes first when no step starts before it (as in run_engine, a request arriving
    // when a step starts joins that step); then a transfer that ends by then.
    if (more && next.arrival <= std::min(step_at, transfer_at)) {
      const size_t f = router.route(next, view);
      if (f >= front.size()) throw std::logic_error("fleet: the router chose no instance");
      const size_t i = front[f];
      Engine& e = *instances[i];
      const bool idle = e.idle();
      e.add(std::move(next));
      outstanding[f] = e.outstanding_tokens();
      if (idle && !e.idle()) schedule(i);
      if (o.record_routes) report.routed_to.push_back(static_cast<int64_t>(i));
      ++requests;
      more = draw();
      continue;
    }
    if (!transfers.empty() && transfer_at <= step_at) {
      std::pop_heap(transfers.begin(), transfers.end(), arrives_later);
      Transfer t = std::move(transfers.back());
      transfers.pop_back();
      size_t i = decoders.front();
      for (const size_t d : decoders)
        if (instances[d]->outstanding_tokens() < instances[i]->outstanding_tokens()) i = d;
      Engine& e = *instances[i];
      const bool idle = e.idle();
      e.add_prefilled(std::move(t.sequence), t.at);
      if (idle && !e.idle()) schedule(i);
      continue;
    }
    if (heap.empty()) break;
    if (o.keep_going && !o.keep_going()) {
      stopped = true;
      break;
    }
    std::pop_heap(heap.begin(), heap.end(), later);
    const auto [now, i] = heap.back();
    heap.pop_back();
    Engine& e = *instances[i];
    const int64_t before = e.finished();
    e.step();
    finished += e.finished() - before;
    if (front_number[i] < n) outstanding[front_number[i]] = e.outstanding_tokens();
    if (const Pool& p = pools[pool_of[i]]; p.role == PoolRole::kPrefill)
      for (Sequence& s : e.take_handoffs()) {
        const double seconds =
            static_cast<double>(s.cached) * p.kv_bytes_per_token / p.link_bytes_per_s;
        transfer_seconds.push_back(seconds);
        transfers.push_back({e.clock() + seconds, transfers_started++, std::move(s)});
        std::push_heap(transfers.begin(), transfers.end(), arrives_later);
      }
    if (!e.idle()) schedule(i);
    if (o.progress && ++steps % o.progress_every == 0) o.progress(finished, now - start);
  }

  double end = start;
  for (const Engine* e : engines) end = std::max(end, e->clock());
  report.instances.reserve(n);
  for (const Engine* e : engines) report.instances.push_back(e->report(end));
  std::vector<const ServeReport*> all;
  for (const ServeReport& r : report.instances) all.push_back(&r);
  report.total = combined(all, engines, end - start, o.latencies, o.keep_samples);
  report.total.requests = requests;
  report.total.stopped = stopped;
  for (size_t p = 0; p < pools.size(); ++p) {
    std::vector<const ServeReport*> reports;
    std::vector<const Engine*> members;
    for (size_t i = 0; i < n; ++i)
      if (pool_of[i] == p) {
        reports.push_back(&report.instances[i]);
        members.push_back(engines[i]);
      }
    PoolReport& pool = report.pools.emplace_back();
    pool.name = pools[p].name;
    pool.instances = pools[p].instances;
    pool.chips = pools[p].chips;
    pool.role = pools[p].role;
    pool.total = combined(reports, members, end - start, o.latencies, false,
                          o.keep_samples ? &pool.latencies : nullptr);
  }
  std::vector<ClassLatencies> merged(o.slo_classes.size(), ClassLatencies(o.latencies));
  for (const Engine* e : engines)
    for (size_t c = 0; c < merged.size(); ++c) merged[c].merge(e->latencies()[c]);
  report.classes = class_reports(class_requests, merged, o.slo_classes, end - start);
  if (o.keep_samples) report.latencies = std::move(merged);
  report.kv_transfers = static_cast<int64_t>(transfer_seconds.size());
  report.kv_transfer_seconds = percentiles(std::move(transfer_seconds));
  return report;
}

FleetReport run_fleet(const Workload& workload, const std::vector<Pool>& pools, Router& router,
                      const FleetOptions& options) {
  WorkloadStream arrivals(workload);
  FleetReport r = run_fleet(arrivals, pools, router, options);
  r.total.requests = static_cast<int64_t>(workload.requests.size());  // read or not
  return r;
}

}  // namespace seedchip::serve
