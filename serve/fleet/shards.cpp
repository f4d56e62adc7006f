#include "serve/fleet/shards.h"

#include <algorithm>
#include <stdexcept>

#include "arch/error.h"

namespace seedchip::serve {

bool ShardStream::next(Request& r) {
  while (trace_.next(r))
    if (r.id % shards_ == shard_) return true;
  return false;
}

std::vector<Pool> shard_pools(const std::vector<Pool>& pools, int64_t shards) {
  if (shards < 1)
    throw InputError("fleet shards: at least one shard, got " + std::to_string(shards));
  std::vector<Pool> out = pools;
  for (Pool& p : out) {
    if (p.instances % shards != 0)
      throw InputError("fleet shards: pool '" + p.name + "' has " + std::to_string(p.instances) +
                       " instances, not a multiple of the " + std::to_string(shards) + " shards");
    p.instances /= shards;
  }
  return out;
}

ShardResult run_shard(RequestStream& trace, const std::vector<Pool>& pools,
                      const std::string& router, FleetOptions options, int64_t shard,
                      int64_t shards) {
  ShardStream requests(trace, shard, shards);
  options.keep_samples = true;
  options.start = 0;
  const std::unique_ptr<Router> r = make_router(router);
  FleetReport f = run_fleet(requests, pools, *r, options);
  ShardResult out;
  out.shard = shard;
  out.instances = static_cast<int64_t>(f.instances.size());
  out.end = f.total.makespan;
  for (const Pool& p : pools) out.idle_watts += p.idle_watts * static_cast<double>(p.instances);
  out.total = f.total;
  out.total.ttft_samples = out.total.tpot_samples = out.total.e2e_samples =
      LatencyDistribution();  // the per-class latencies below hold them
  for (const ClassReport& c : f.classes) out.class_requests.push_back(c.requests);
  out.latencies = std::move(f.latencies);
  return out;
}

namespace {

// The counters and sums of a report, by name: to JSON and back alike.
template <typename Visit>
void counters(ServeReport& r, Visit&& visit) {
  visit("requests", r.requests);
  visit("finished", r.finished);
  visit("rejected", r.rejected);
  visit("stopped", r.stopped);
  visit("makespan", r.makespan);
  visit("busy", r.busy);
  visit("steps", r.steps);
  visit("prefill_tokens", r.prefill_tokens);
  visit("output_tokens", r.output_tokens);
  visit("preemptions", r.preemptions);
  visit("mean_batch", r.mean_batch);
  visit("energy_busy", r.energy_busy);
  visit("energy_idle", r.energy_idle);
  visit("kv_pages", r.kv_pages);
  visit("kv_peak_pages", r.kv_peak_pages);
  visit("kv_free_pages_end", r.kv_free_pages_end);
  visit("kv_cached_pages_end", r.kv_cached_pages_end);
  visit("kv_used_pages_end", r.kv_used_pages_end);
  visit("prompt_tokens", r.prompt_tokens);
  visit("prefix_hit_tokens", r.prefix_hit_tokens);
  visit("prefix_evicted_blocks", r.prefix_evicted_blocks);
  visit("good", r.good);
}

}  // namespace

nlohmann::json shard_to_json(const ShardResult& r) {
  nlohmann::json total;
  ServeReport t = r.total;
  counters(t, [&](const char* key, const auto& v) { total[key] = v; });
  nlohmann::json classes = nlohmann::json::array();
  for (size_t c = 0; c < r.latencies.size(); ++c) {
    const ClassLatencies& l = r.latencies[c];
    classes.push_back({{"requests", r.class_requests.at(c)},
                       {"finished", l.finished},
                       {"good", l.good},
                       {"ttft", l.ttft.to_json()},
                       {"tpot", l.tpot.to_json()},
                       {"e2e", l.e2e.to_json()},
                       {"max_tbt", l.max_tbt.to_json()}});
  }
  return {{"shard", r.shard},           {"instances", r.instances}, {"end", r.end},
          {"idle_watts", r.idle_watts}, {"total", total},           {"classes", classes}};
}

ShardResult shard_from_json(const nlohmann::json& j, const std::string& what) {
  try {
    ShardResult r;
    r.shard = j.at("shard").get<int64_t>();
    r.instances = j.at("instances").get<int64_t>();
    r.end = j.at("end").get<double>();
    r.idle_watts = j.at("idle_watts").get<double>();
    const nlohmann::json& total = j.at("total");
    counters(r.total, [&](const char* key, auto& v) { total.at(key).get_to(v); });
    for (const nlohmann::json& c : j.at("classes")) {
      r.class_requests.push_back(c.at("requests").get<int64_t>());
      ClassLatencies l;
      l.finished = c.at("finished").get<int64_t>();
      l.good = c.at("good").get<int64_t>();
      l.ttft = LatencyDistribution::from_json(c.at("ttft"), what);
      l.tpot = LatencyDistribution::from_json(c.at("tpot"), what);
      l.e2e = LatencyDistribution::from_json(c.at("e2e"), what);
      l.max_tbt = LatencyDistribution::from_json(c.at("max_tbt"), what);
      r.latencies.push_back(std::move(l));
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(what + ": not a shard's result: " + e.what());
  }
}

MergedShards merge_shards(std::vector<ShardResult> shards, const std::vector<SloClass>& classes) {
  std::sort(shards.begin(), shards.end(),
            [](const ShardResult& a, const ShardResult& b) { return a.shard < b.shard; });
  for (size_t s = 0; s < shards.size(); ++s)
    if (shards[s].shard != static_cast<int64_t>(s) || shards[s].latencies.size() != classes.size())
      throw std::logic_error("fleet shards: the results do not cover every shard once");
  MergedShards m;
  ServeReport& t = m.total;
  double end = 0, busy = 0, batch_seconds = 0;
  for (const ShardResult& s : shards) end = std::max(end, s.end);
  std::vector<int64_t> requests(classes.size(), 0);
  std::vector<ClassLatencies> merged;
  for (const ShardResult& s : shards) {
    const ServeReport& r = s.total;
    const double shard_busy = r.busy * static_cast<double>(s.instances);  // r.busy is a mean
    m.instances += s.instances;
    busy += shard_busy;
    batch_seconds += r.mean_batch * shard_busy;
    t.requests += r.requests;
    t.finished += r.finished;
    t.rejected += r.rejected;
    t.stopped = t.stopped || r.stopped;
    t.steps += r.steps;
    t.prefill_tokens += r.prefill_tokens;
    t.output_tokens += r.output_tokens;
    t.preemptions += r.preemptions;
    t.energy_busy += r.energy_busy;
    t.energy_idle += r.energy_idle + s.idle_watts * (end - s.end);  // idle until the fleet's end
    t.kv_pages += r.kv_pages;
    t.kv_peak_pages += r.kv_peak_pages;
    t.kv_free_pages_end += r.kv_free_pages_end;
    t.kv_cached_pages_end += r.kv_cached_pages_end;
    t.kv_used_pages_end += r.kv_used_pages_end;
    t.prompt_tokens += r.prompt_tokens;
    t.prefix_hit_tokens += r.prefix_hit_tokens;
    t.prefix_evicted_blocks += r.prefix_evicted_blocks;
    t.good += r.good;
    for (size_t c = 0; c < classes.size(); ++c) {
      requests[c] += s.class_requests[c];
      if (merged.size() <= c) merged.push_back(ClassLatencies(s.latencies[c].ttft.mode()));
      merged[c].merge(s.latencies[c]);
    }
  }
  t.makespan = end;
  t.busy = m.instances > 0 ? busy / static_cast<double>(m.instances) : 0;
  t.mean_batch = busy > 0 ? batch_seconds / busy : 0;
  if (!merged.empty()) {
    ClassLatencies all(merged.front().ttft.mode());
    for (const ClassLatencies& l : merged) all.merge(l);
    t.ttft = all.ttft.percentiles();
    t.tpot = all.tpot.percentiles();
    t.e2e = all.e2e.percentiles();
    t.max_tbt = all.max_tbt.percentiles();
  }
  m.classes = class_reports(requests, merged, classes, end);
  return m;
}

}  // namespace seedchip::serve
