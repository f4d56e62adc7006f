// Memory of a long trace (issue 5: "a trace with millions of rows streams without loading all of
// it into memory"): peak resident memory of a fleet run over an Azure-format trace file of N and
// of 2N rows, the trace read whole (load_workload, exact latencies) against drawn record by
// record (open_trace, binned latencies), as `seedchip serve-sim --stream` does.
//
// The trace: Poisson arrivals at 5 requests/s per instance (loaded, not overloaded: see
// bench_fleet) with the Azure 2023 conversation trace's lengths, written as CSV to a temporary
// folder. The fleet: 100 instances of llama-3.1-70b on 8 x h200 behind least-outstanding-tokens,
// steps priced by a CachedStepCost measured once before the runs. Each run is a child process
// (fork), so that its peak resident set (wait4's ru_maxrss) is its own; the cost model and the
// program are shared by all four, so the growth from N to 2N rows is what the trace costs.
//
// Prints each run's peak memory, wall time and p99 TTFT (the two modes agree to 0.5%), and the
// ratio of the streamed run's growth to the loaded run's. Arguments (optional): N (default 1 M).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "arch/chip_loader.h"
#include "llm/model_preset.h"
#include "serve/cost/cost.h"
#include "serve/fleet/fleet.h"
#include "serve/fleet/fleet_config.h"
#include "serve/workload/workload.h"

namespace {

using namespace seedchip;

constexpr int64_t kInstances = 100;
constexpr double kRatePerInstance = 5;  // requests/s

// `requests` arrivals as an Azure CSV file (timestamps from 2023-11-16 00:00:00).
void write_trace(const std::string& path, const serve::Workload& lengths, int64_t requests) {
  const serve::Workload w = serve::poisson_arrivals(
      lengths, kRatePerInstance * static_cast<double>(kInstances), requests, 1);
  std::ofstream out(path);
  out << "TIMESTAMP,ContextTokens,GeneratedTokens\n";
  char line[96];
  for (const serve::Request& q : w.requests) {
    const auto whole = static_cast<int64_t>(q.arrival);
    const auto micros = static_cast<int64_t>((q.arrival - static_cast<double>(whole)) * 1e6);
    std::snprintf(line, sizeof line, "2023-11-%02lld %02lld:%02lld:%02lld.%06lld,%lld,%lld\n",
                  static_cast<long long>(16 + whole / 86400),
                  static_cast<long long>(whole / 3600 % 24),
                  static_cast<long long>(whole / 60 % 60), static_cast<long long>(whole % 60),
                  static_cast<long long>(micros), static_cast<long long>(q.prompt),
                  static_cast<long long>(q.output));
    out << line;
  }
}

struct Run {
  double peak_mb = 0, wall = 0;
};

// Runs the fleet over `path` in a child process; its peak resident memory.
Run run_child(const std::string& path, bool stream, const serve::Pool& pool) {
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = fork();
  if (child < 0) std::perror("fork"), std::exit(1);
  if (child == 0) {
    auto router = serve::make_router("least-outstanding-tokens");
    serve::FleetOptions o;
    serve::FleetReport f;
    if (stream) {
      o.latencies = serve::LatencyDistribution::Mode::kBinned;
      const std::unique_ptr<serve::RequestStream> s = serve::open_trace(path);
      f = serve::run_fleet(*s, {pool}, *router, o);
    } else {
      f = serve::run_fleet(serve::load_workload(path), {pool}, *router, o);
    }
    std::printf("  %s: %lld requests, %lld finished, TTFT p99 %.1f ms, TPOT p99 %.1f ms\n",
                stream ? "streamed" : "loaded  ", static_cast<long long>(f.total.requests),
                static_cast<long long>(f.total.finished), f.total.ttft.p99 * 1e3,
                f.total.tpot.p99 * 1e3);
    std::fflush(stdout);
    _exit(0);
  }
  int status = 0;
  rusage usage{};
  wait4(child, &status, 0, &usage);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench_stream: the %s run failed\n", stream ? "streamed" : "loaded");
    std::exit(1);
  }
  return {static_cast<double>(usage.ru_maxrss) / 1024,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const llm::LlamaConfig model = llm::load_model_preset("llama-3.1-70b").config;
  const LoadedChip chip = load_chip("h200");
  const auto direct = serve::make_direct_cost(model, chip, 8);
  serve::CachedStepCost cost(*direct, {});
  cost.measure(1, nullptr);
  serve::PoolSpec spec;
  spec.chip = "h200";
  spec.chips = 8;
  spec.instances = kInstances;
  const serve::Pool pool = serve::make_pool(spec, model, chip, &cost, {});

  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("seedchip-bench-stream-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const serve::Workload lengths = serve::load_workload("azure-conv");
  Run loaded[2], streamed[2];
  for (int k = 0; k < 2; ++k) {
    const int64_t rows = n << k;
    const std::string path = (dir / ("trace-" + std::to_string(rows) + ".csv")).string();
    write_trace(path, lengths, rows);
    std::printf("%lld rows (%.0f MB of CSV) through %lld x (llama-3.1-70b on 8 x h200):\n",
                static_cast<long long>(rows),
                static_cast<double>(std::filesystem::file_size(path)) / 1e6,
                static_cast<long long>(kInstances));
    loaded[k] = run_child(path, false, pool);
    streamed[k] = run_child(path, true, pool);
    std::printf("  peak memory: loaded %.0f MB (%.1f s), streamed %.0f MB (%.1f s)\n",
                loaded[k].peak_mb, loaded[k].wall, streamed[k].peak_mb, streamed[k].wall);
    std::filesystem::remove(path);
  }
  std::filesystem::remove_all(dir);
  const double loaded_growth = loaded[1].peak_mb - loaded[0].peak_mb;
  const double streamed_growth = streamed[1].peak_mb - streamed[0].peak_mb;
  std::printf("memory growth from %lld to %lld rows: loaded %.0f MB, streamed %.0f MB\n",
              static_cast<long long>(n), static_cast<long long>(2 * n), loaded_growth,
              streamed_growth);
  std::printf("ratio streamed growth / loaded growth: %.3f\n", streamed_growth / loaded_growth);
  return 0;
}
