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
  for (size_t p = 0; p < pools.size(); ++p) {
    ShardResult::Pool& part = out.pools.emplace_back();
    part.instances = pools[p].instances;
    part.idle_watts = pools[p].idle_watts * static_cast<double>(pools[p].instances);
    part.total = f.pools[p].total;
    part.latencies = std::move(f.pools[p].latencies);
  }
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

nlohmann::json counters_json(ServeReport r) {
  nlohmann::json j;
  counters(r, [&](const char* key, const auto& v) { j[key] = v; });
  return j;
}

ServeReport counters_from_json(const nlohmann::json& j) {
  ServeReport r;
  counters(r, [&](const char* key, auto& v) { j.at(key).get_to(v); });
  return r;
}

nlohmann::json latencies_json(const ClassLatencies& l) {
  return {{"finished", l.finished},   {"good", l.good},         {"ttft", l.ttft.to_json()},
          {"tpot", l.tpot.to_json()}, {"e2e", l.e2e.to_json()}, {"max_tbt", l.max_tbt.to_json()}};
}

ClassLatencies latencies_from_json(const nlohmann::json& j, const std::string& what) {
  ClassLatencies l;
  l.finished = j.at("finished").get<int64_t>();
  l.good = j.at("good").get<int64_t>();
  l.ttft = LatencyDistribution::from_json(j.at("ttft"), what);
  l.tpot = LatencyDistribution::from_json(j.at("tpot"), what);
  l.e2e = LatencyDistribution::from_json(j.at("e2e"), what);
  l.max_tbt = LatencyDistribution::from_json(j.at("max_tbt"), what);
  return l;
}

// One shard's part (the shard's total or one pool) on its way into the whole fleet's figures.
struct Part {
  const ServeReport* report;
  int64_t instances;
  double idle_watts, end;
  const ClassLatencies* latencies;  // every class merged
};

// The parts summed as merge_shards documents, to the fleet's `end`.
ServeReport sum(const std::vector<Part>& parts, double end) {
  ServeReport t;
  double busy = 0, batch_seconds = 0;
  int64_t instances = 0;
  for (const Part& part : parts) {
    const ServeReport& r = *part.report;
    const double part_busy = r.busy * static_cast<double>(part.instances);  // r.busy is a mean
    instances += part.instances;
    busy += part_busy;
    batch_seconds += r.mean_batch * part_busy;
    t.requests += r.requests;
    t.finished += r.finished;
    t.rejected += r.rejected;
    t.stopped = t.stopped || r.stopped;
    t.steps += r.steps;
    t.prefill_tokens += r.prefill_tokens;
    t.output_tokens += r.output_tokens;
    t.preemptions += r.preemptions;
    t.energy_busy += r.energy_busy;
    t.energy_idle += r.energy_idle + part.idle_watts * (end - part.end);  // idle to the end
    t.kv_pages += r.kv_pages;
    t.kv_peak_pages += r.kv_peak_pages;
    t.kv_free_pages_end += r.kv_free_pages_end;
    t.kv_cached_pages_end += r.kv_cached_pages_end;
    t.kv_used_pages_end += r.kv_used_pages_end;
    t.prompt_tokens += r.prompt_tokens;
    t.prefix_hit_tokens += r.prefix_hit_tokens;
    t.prefix_evicted_blocks += r.prefix_evicted_blocks;
    t.good += r.good;
  }
  t.makespan = end;
  t.busy = instances > 0 ? busy / static_cast<double>(instances) : 0;
  t.mean_batch = busy > 0 ? batch_seconds / busy : 0;
  if (!parts.empty()) {
    ClassLatencies all(parts.front().latencies->ttft.mode());
    for (const Part& part : parts) all.merge(*part.latencies);
    t.ttft = all.ttft.percentiles();
    t.tpot = all.tpot.percentiles();
    t.e2e = all.e2e.percentiles();
    t.max_tbt = all.max_tbt.percentiles();
  }
  return t;
}

}  // namespace

nlohmann::json shard_to_json(const ShardResult& r) {
  nlohmann::json classes = nlohmann::json::array(), pools = nlohmann::json::array();
  for (size_t c = 0; c < r.latencies.size(); ++c) {
    nlohmann::json j = latencies_json(r.latencies[c]);
    j["requests"] = r.class_requests.at(c);
    classes.push_back(std::move(j));
  }
  for (const ShardResult::Pool& p : r.pools)
    pools.push_back({{"instances", p.instances},
                     {"idle_watts", p.idle_watts},
                     {"total", counters_json(p.total)},
                     {"latencies", latencies_json(p.latencies)}});
  return {{"shard", r.shard},
          {"instances", r.instances},
          {"end", r.end},
          {"idle_watts", r.idle_watts},
          {"total", counters_json(r.total)},
          {"classes", classes},
          {"pools", pools}};
}

ShardResult shard_from_json(const nlohmann::json& j, const std::string& what) {
  try {
    ShardResult r;
    r.shard = j.at("shard").get<int64_t>();
    r.instances = j.at("instances").get<int64_t>();
    r.end = j.at("end").get<double>();
    r.idle_watts = j.at("idle_watts").get<double>();
    r.total = counters_from_json(j.at("total"));
    for (const nlohmann::json& c : j.at("classes")) {
      r.class_requests.push_back(c.at("requests").get<int64_t>());
      r.latencies.push_back(latencies_from_json(c, what));
    }
    for (const nlohmann::json& p : j.at("pools")) {
      ShardResult::Pool& pool = r.pools.emplace_back();
      pool.instances = p.at("instances").get<int64_t>();
      pool.idle_watts = p.at("idle_watts").get<double>();
      pool.total = counters_from_json(p.at("total"));
      pool.latencies = latencies_from_json(p.at("latencies"), what);
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
    if (shards[s].shard != static_cast<int64_t>(s) ||
        shards[s].latencies.size() != classes.size() ||
        shards[s].pools.size() != shards.front().pools.size())
      throw std::logic_error("fleet shards: the results do not cover every shard once");
  MergedShards m;
  double end = 0;
  for (const ShardResult& s : shards) end = std::max(end, s.end);
  // Each shard's classes merged, for its total's percentiles.
  std::vector<ClassLatencies> shard_all;
  for (const ShardResult& s : shards) {
    ClassLatencies& all = shard_all.emplace_back(
        s.latencies.empty() ? LatencyDistribution::Mode::kExact : s.latencies.front().ttft.mode());
    for (const ClassLatencies& l : s.latencies) all.merge(l);
  }
  std::vector<Part> totals;
  for (size_t s = 0; s < shards.size(); ++s) {
    const ShardResult& r = shards[s];
    totals.push_back({&r.total, r.instances, r.idle_watts, r.end, &shard_all[s]});
    m.instances += r.instances;
  }
  m.total = sum(totals, end);
  for (size_t p = 0; !shards.empty() && p < shards.front().pools.size(); ++p) {
    std::vector<Part> parts;
    for (const ShardResult& r : shards) {
      const ShardResult::Pool& pool = r.pools[p];
      parts.push_back({&pool.total, pool.instances, pool.idle_watts, r.end, &pool.latencies});
    }
    m.pools.push_back(sum(parts, end));
  }
  std::vector<int64_t> requests(classes.size(), 0);
  std::vector<ClassLatencies> merged;
  for (size_t c = 0; c < classes.size(); ++c) {
    for (const ShardResult& s : shards) {
      requests[c] += s.class_requests[c];
      if (merged.size() <= c) merged.push_back(ClassLatencies(s.latencies[c].ttft.mode()));
      merged[c].merge(s.latencies[c]);
    }
  }
  m.classes = class_reports(requests, merged, classes, end);
  return m;
}

}  // namespace seedchip::serve
