// seedchip sweep (plan/sweep.h): design points evaluated in parallel by the processes of an MPI job
// (`mpirun -n N seedchip sweep SWEEP.yaml`), or all in this process when no MPI launcher started
// it. Rank r evaluates its share of the points (plan::points_of_rank) and sends rank 0 its rows as
// JSON text; rank 0 orders them by point and reports. Every process, rank 0 included, hands its
// rows through the same text, so the table and --json are the same for any number of processes.
// A sweep with a `fleet` (plan/fleet_sweep.h) is one fleet in shards: rank r runs shards s with
// s mod N == r and sends rank 0 their results, likewise as JSON text, which rank 0 merges.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <optional>
#include <stdexcept>
#include <thread>

#include "arch/error.h"
#include "plan/fleet_sweep.h"
#include "plan/sweep.h"
#include "tools/common.h"

namespace seedchip::tools {
namespace {

using nlohmann::json;

constexpr int kRowsTag = 1;

// Set by the MPI launchers in the environment of each process they start: Open MPI's mpirun
// (OMPI_COMM_WORLD_SIZE), PMIx launchers such as srun --mpi=pmix (PMIX_RANK), MPICH's Hydra and
// Slurm's PMI (PMI_SIZE). A plain run leaves MPI uninitialised, so that it needs no MPI runtime at
// all (no singleton daemon, nothing for a container to forbid).
bool launched_by_mpi() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(variable)) return true;
  return false;
}

// Waits for `request` without spinning: Open MPI's blocking calls poll at full speed, which would
// take a core from the ranks still evaluating on a machine with as many ranks as cores.
void wait_quietly(MPI_Request& request) {
  for (int done = 0; MPI_Test(&request, &done, MPI_STATUS_IGNORE), !done;)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

// The processes of this run: MPI's world when a launcher started it, else this process alone.
class Processes {
 public:
  Processes() {
    if (!launched_by_mpi()) return;
    MPI_Init(nullptr, nullptr);
    mpi_ = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &on_this_node_);
    MPI_Comm_free(&node);
  }
  ~Processes() {
    if (mpi_) MPI_Finalize();
  }
  Processes(const Processes&) = delete;
  Processes& operator=(const Processes&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int on_this_node() const { return on_this_node_; }
  // "[rank 1] " under MPI with several processes, so interleaved progress lines say whose they are.
  std::string tag() const { return size_ > 1 ? "[rank " + std::to_string(rank_) + "] " : ""; }

  // Prints `message` and ends every process of the job with `status`.
  [[noreturn]] void abort(const std::string& message, int status) const {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, status);
    std::abort();  // MPI_Abort does not return; this tells the compiler so
  }

  // The lowest rank with `failed` set, or size() when none: every process calls this together.
  int first_failing(bool failed) const {
    int mine = failed ? rank_ : size_, first = size_;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return first;
  }

  // Rank 0: the texts sent by every other rank (in arrival order); others: sends `text` to rank 0.
  std::vector<std::string> gather(const std::string& text) const {
    std::vector<std::string> texts;
    if (rank_ != 0) {
      MPI_Request request;
      MPI_Isend(text.data(), static_cast<int>(text.size()), MPI_CHAR, 0, kRowsTag, MPI_COMM_WORLD,
                &request);
      wait_quietly(request);
      return texts;
    }
    for (int received = 1; received < size_; ++received) {
      MPI_Status status;
      for (int ready = 0;
           MPI_Iprobe(MPI_ANY_SOURCE, kRowsTag, MPI_COMM_WORLD, &ready, &status), !ready;)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      int length = 0;
      MPI_Get_count(&status, MPI_CHAR, &length);
      std::string t(static_cast<size_t>(length), '\0');
      MPI_Recv(t.data(), length, MPI_CHAR, status.MPI_SOURCE, kRowsTag, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
      texts.push_back(std::move(t));
    }
    return texts;
  }

  // Every process reaches this before any finalises, so none waits inside MPI_Finalize, which may
  // poll at full speed.
  void barrier() const {
    if (!mpi_) return;
    MPI_Request request;
    MPI_Ibarrier(MPI_COMM_WORLD, &request);
    wait_quietly(request);
  }

 private:
  bool mpi_ = false;
  int rank_ = 0, size_ = 1, on_this_node_ = 1;
};

struct SweepCommand {
  std::string sweep, json, cost_cache;
  int jobs = 0;
};

// The threads each process measures steps with, and a progress line tagged with its rank.
int jobs_of(const SweepCommand& c, const Processes& world) {
  return c.jobs > 0 ? c.jobs
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) /
                                      world.on_this_node());
}
serve::CachedStepCost::Progress progress_of(const Processes& world) {
  return [tag = world.tag()](int64_t done, int64_t total, const serve::CostShape& shape) {
    std::fprintf(stderr, "%s  measuring step %lld/%lld: %s\n", tag.c_str(),
                 static_cast<long long>(done + 1), static_cast<long long>(total),
                 serve::describe(shape).c_str());
  };
}

// The sweep, read and checked by every process before any work (`load` reads and prepares it).
// With several processes a bad input is printed once, by the lowest rank that found it, and ends
// the job.
template <typename Load>
auto load_everywhere(const Processes& world, Load&& load) -> decltype(load()) {
  if (world.size() == 1) return load();
  std::optional<decltype(load())> sweep;
  std::string error;
  try {
    sweep = load();
  } catch (const InputError& e) {
    error = e.what();
  }
  const int first = world.first_failing(!error.empty());
  if (first < world.size()) {
    if (world.rank() == first) world.abort("seedchip: error: " + error, 2);
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // until the abort ends us
  }
  return std::move(*sweep);
}

void print_table(const plan::Sweep& sweep, const std::vector<plan::SweepRow>& rows) {
  const plan::SweepConfig& c = sweep.config;
  std::printf("Sweep: %s: %s, %zu requests of %s, SLO TTFT %g s / TPOT %g s for %g%% of requests\n",
              c.file.c_str(), c.model.c_str(), sweep.inputs.workload.requests.size(),
              sweep.inputs.workload.name.c_str(), c.slo.ttft, c.slo.tpot, c.slo.attainment * 100);
  std::printf("Cost per token at %g%% utilization of capacity (prices %s)\n\n",
              sweep.prices.utilization * 100, sweep.prices.file.c_str());
  int width = 14;  // "instance shape"
  for (const plan::SweepRow& r : rows)
    width = std::max(width, static_cast<int>(r.shape.describe().size()));
  std::printf("%4s  %-*s %11s %8s %8s %10s %11s  %s\n", "#", width, "instance shape", "tok/s @SLO",
              "x rate", "tok/s/W", "yuan/Mtok", "chip capex", "export class");
  for (const plan::SweepRow& r : rows) {
    char figures[96];
    if (!r.fits)
      std::snprintf(figures, sizeof figures, "does not fit: weights > HBM");
    else if (!r.met)
      std::snprintf(figures, sizeof figures, "SLO not met: %.1f%% good at %.3g x rate",
                    r.capacity.attainment * 100, r.capacity.rate_scale);
    else
      std::snprintf(figures, sizeof figures, "%11.0f %8.3g %8.3f %10.3f", r.capacity.tokens_per_s,
                    r.capacity.rate_scale, r.tokens_per_s_per_watt, r.yuan_per_million_tokens);
    std::printf("%4zu  %-*s %-40s %11.0f  %s\n", r.index, width, r.shape.describe().c_str(),
                figures, r.chip_capex, r.export_class.c_str());
  }
}

void run_sweep(const SweepCommand& c, const Processes& world) {
  const auto start = std::chrono::steady_clock::now();
  const plan::Sweep sweep = load_everywhere(world, [&] {
    return plan::prepare_sweep(plan::load_sweep(c.sweep), c.cost_cache, jobs_of(c, world),
                               progress_of(world));
  });
  const std::vector<size_t> mine = plan::points_of_rank(sweep.config, world.rank(), world.size());
  const size_t total = sweep.config.points.size();
  if (world.rank() == 0)
    std::fprintf(stderr, "sweep %s: %zu design points on %d process%s\n", sweep.config.file.c_str(),
                 total, world.size(), world.size() > 1 ? "es" : "");

  plan::StepCostMemo memo;
  json rows_json = json::array();
  for (const size_t i : mine) {
    std::fprintf(stderr, "%spoint %zu/%zu: %s\n", world.tag().c_str(), i + 1, total,
                 sweep.config.points[i].describe().c_str());
    rows_json.push_back(plan::row_to_json(plan::evaluate_point(sweep, i, &memo)));
  }
  std::vector<std::string> texts = world.gather(rows_json.dump());
  if (world.rank() == 0) {
    texts.push_back(rows_json.dump());
    std::vector<plan::SweepRow> rows;
    for (const std::string& text : texts)
      for (const json& j : json::parse(text))
        rows.push_back(plan::row_from_json(j, "a result row from another process"));
    std::sort(rows.begin(), rows.end(),
              [](const plan::SweepRow& a, const plan::SweepRow& b) { return a.index < b.index; });
    bool every_point_once = rows.size() == total;
    for (size_t i = 0; every_point_once && i < total; ++i) every_point_once = rows[i].index == i;
    if (!every_point_once)
      throw std::logic_error("sweep: the processes' rows do not cover every point once");
    print_table(sweep, rows);
    if (!c.json.empty()) write_json(c.json, plan::sweep_json(sweep, rows), nullptr);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("\nwall time %.1f s on %d process%s\n", wall, world.size(),
                world.size() > 1 ? "es" : "");
  }
  world.barrier();
}

void print_fleet(const plan::FleetSweep& sweep, const serve::MergedShards& m, int processes) {
  const plan::FleetSweepConfig& c = sweep.config;
  const serve::ServeReport& t = m.total;
  std::printf("Fleet sweep: %s: %s serving %s at %g x its rate, router %s in each of %lld shards\n",
              c.file.c_str(), c.model.c_str(), c.trace.c_str(), c.rate_scale, c.router.c_str(),
              static_cast<long long>(c.shards));
  for (size_t i = 0; i < c.pools.size(); ++i) {
    const serve::PoolSpec& p = c.pools[i];
    const serve::ServeReport& r = m.pools.at(i);
    std::printf(
        "  pool %zu: %lld x (%lld x %s, %s, batch <= %lld)%s: %lld requests taken, %lld "
        "finished; TTFT p99 %.1f ms, TPOT p50 %.1f ms, %.1f output tokens/s, busy %.3f\n",
        i, static_cast<long long>(p.instances), static_cast<long long>(p.chips), p.chip.c_str(),
        p.scheduler.c_str(), static_cast<long long>(p.max_batch),
        p.role == serve::PoolRole::kPrefill  ? ", prefill"
        : p.role == serve::PoolRole::kDecode ? ", decode"
                                             : "",
        static_cast<long long>(r.requests), static_cast<long long>(r.finished), r.ttft.p99 * 1e3,
        r.tpot.p50 * 1e3, r.output_tokens_per_s(), r.utilization());
  }
  std::printf(
      "\n%lld requests, %lld finished, %lld rejected; %.1f s simulated on %lld instances "
      "(%d process%s)\n",
      static_cast<long long>(t.requests), static_cast<long long>(t.finished),
      static_cast<long long>(t.rejected), t.makespan, static_cast<long long>(m.instances),
      processes, processes > 1 ? "es" : "");
  const auto line = [](const char* name, const serve::Percentiles& p, double scale,
                       const char* unit) {
    std::printf("  %-28s p50 %9.1f  p90 %9.1f  p99 %9.1f  mean %9.1f %s\n", name, p.p50 * scale,
                p.p90 * scale, p.p99 * scale, p.mean * scale, unit);
  };
  line("TTFT", t.ttft, 1e3, "ms");
  line("TPOT", t.tpot, 1e3, "ms");
  line("longest time between tokens", t.max_tbt, 1e3, "ms");
  line("end-to-end", t.e2e, 1, "s");
  std::printf(
      "  output tokens/s %.1f, goodput %.3f requests/s (%.1f%% of requests within TTFT %g s "
      "and TPOT %g s; target %g%%)\n",
      t.output_tokens_per_s(), t.goodput(),
      t.requests ? 100.0 * static_cast<double>(t.good) / static_cast<double>(t.requests) : 0,
      c.slo.ttft, c.slo.tpot, c.slo.attainment * 100);
  std::printf("  busy %.3f, mean batch %.1f, energy %.3f J per output token%s\n", t.utilization(),
              t.mean_batch, t.joules_per_output_token(),
              c.latencies == serve::LatencyDistribution::Mode::kBinned
                  ? "; percentiles from logarithmic bins (within 0.5%)"
                  : "");
}

void run_fleet_sweep(const SweepCommand& c, const Processes& world) {
  const auto start = std::chrono::steady_clock::now();
  const plan::FleetSweep sweep = load_everywhere(world, [&] {
    return plan::prepare_fleet_sweep(plan::load_fleet_sweep(c.sweep), c.cost_cache,
                                     jobs_of(c, world), progress_of(world));
  });
  const int64_t shards = sweep.config.shards;
  if (world.rank() == 0)
    std::fprintf(stderr, "sweep %s: a fleet in %lld shards on %d process%s\n",
                 sweep.config.file.c_str(), static_cast<long long>(shards), world.size(),
                 world.size() > 1 ? "es" : "");
  json results = json::array();
  for (const int64_t s : plan::shards_of_rank(sweep.config, world.rank(), world.size())) {
    std::fprintf(stderr, "%sshard %lld/%lld\n", world.tag().c_str(), static_cast<long long>(s + 1),
                 static_cast<long long>(shards));
    results.push_back(serve::shard_to_json(plan::run_fleet_shard(sweep, s)));
  }
  std::vector<std::string> texts = world.gather(results.dump());
  if (world.rank() == 0) {
    texts.push_back(results.dump());
    std::vector<serve::ShardResult> all;
    for (const std::string& text : texts)
      for (const json& j : json::parse(text))
        all.push_back(serve::shard_from_json(j, "a shard's result from another process"));
    const serve::MergedShards merged =
        serve::merge_shards(std::move(all), sweep.options.slo_classes);
    print_fleet(sweep, merged, world.size());
    if (!c.json.empty()) write_json(c.json, plan::fleet_sweep_json(sweep, merged), nullptr);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("\nwall time %.1f s on %d process%s\n", wall, world.size(),
                world.size() > 1 ? "es" : "");
  }
  world.barrier();
}

void run_sweep_command(const SweepCommand& c) {
  const Processes world;
  // A sweep of design points, or of one fleet's shards.
  const auto run = [&] {
    if (plan::is_fleet_sweep(c.sweep))
      run_fleet_sweep(c, world);
    else
      run_sweep(c, world);
  };
  // One process: errors reach main, which prints them and sets the exit status.
  if (world.size() == 1) return run();
  // Several: an error on one rank must end them all (the others would wait for its rows forever).
  try {
    run();
  } catch (const InputError& e) {
    world.abort(world.tag() + "seedchip: error: " + e.what(), 2);
  } catch (const std::bad_alloc&) {
    world.abort(world.tag() + "seedchip: error: out of host memory", 3);
  } catch (const std::exception& e) {
    world.abort(world.tag() + "seedchip: internal error: " + e.what(), 4);
  }
}

}  // namespace

void register_sweep(CLI::App& app) {
  auto c = std::make_shared<SweepCommand>();
  CLI::App* cmd = app.add_subcommand(
      "sweep",
      "evaluate a product of design points at an SLO (tokens/s, yuan per million tokens, tokens/s "
      "per watt, export class), or simulate one fleet as independent shards, in parallel under "
      "mpirun");
  cmd->add_option("sweep", c->sweep,
                  "SWEEP.yaml (keys in plan/sweep.h; with a `fleet` key, plan/fleet_sweep.h)")
      ->required();
  cmd->add_option("--cost-cache", c->cost_cache,
                  "folder of measured step tables, reused when the chip, model and TP match");
  cmd->add_option("--jobs", c->jobs,
                  "threads measuring steps per process (0: the cores over the processes on the "
                  "machine)")
      ->default_val(0);
  cmd->add_option("--json", c->json, "write every figure with its unit as JSON (rank 0)");
  cmd->callback([c] { run_sweep_command(*c); });
}

}  // namespace seedchip::tools
