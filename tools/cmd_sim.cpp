// seedchip sim PROGRAM: run an assembly or binary program on a chip and report what it did.
#include <cstdio>

#include "isa/isa.h"
#include "sim/chip/simulation.h"
#include "tools/common.h"
#include "tools/report.h"

namespace seedchip::tools {
namespace {

struct SimOptions {
  std::string program;
  bool timing_only = false;
  int chips = 1;
  std::string json, stats, trace;
  ChipOptions chip;
};

void run_sim(const SimOptions& o) {
  const LoadedChip chip = o.chip.load();
  const isa::Program program = isa::load_program_file(o.program);
  sim::SimulationOptions options;
  options.functional = !o.timing_only;
  options.trace_path = o.trace;
  options.chips = o.chips;
  sim::Simulation simulation(chip.config, options);
  simulation.load(program);
  InterruptGuard guard([&] { simulation.request_stop(); });
  const sim::RunResult result = simulation.run(progress_printer("sim"));
  end_progress();

  Report report(o.program + " on " + chip.config.name);
  add_run_figures(report, simulation, result, 0.0, DataType::BF16);
  report.print();
  if (!o.json.empty()) write_json(o.json, report.json(), &chip);
  if (!o.stats.empty()) write_json(o.stats, simulation.stats_json(result), &chip);
  if (!result.completed)
    std::fprintf(stderr, "sim: interrupted at %.3f us simulated; stats cover the run so far\n",
                 result.seconds * 1e6);
}

}  // namespace

void register_sim(CLI::App& app) {
  auto options = std::make_shared<SimOptions>();
  CLI::App* cmd = app.add_subcommand("sim", "run a program (assembly or binary) on a chip");
  cmd->add_option("PROGRAM", options->program, "program file")->required();
  cmd->add_flag("--timing-only", options->timing_only, "shapes only, no data");
  cmd->add_option("--chips", options->chips, "chips in the system (1-64), joined by links.*")
      ->default_val(1);
  cmd->add_option("--json", options->json, "write the figures as JSON");
  cmd->add_option("--stats", options->stats, "write the full stats tree as JSON");
  cmd->add_option("--trace", options->trace, "write a Chrome/Perfetto trace");
  options->chip.add_to(*cmd);
  cmd->callback([options] { run_sim(*options); });
}

}  // namespace seedchip::tools
