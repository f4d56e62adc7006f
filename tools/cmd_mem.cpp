// seedchip mem --trace FILE: replay a Ramulator LoadStoreTrace through one HBM stack of a chip.
#include <fstream>

#include "arch/error.h"
#include "sim/hbm/mem_trace.h"
#include "tools/common.h"
#include "tools/report.h"

namespace seedchip::tools {

void register_mem(CLI::App& app) {
  struct MemOptions {
    std::string trace, json, stats;
    ChipOptions chip;
  };
  auto o = std::make_shared<MemOptions>();
  CLI::App* cmd = app.add_subcommand("mem",
                                     "replay a memory trace (LD/ST 0x<addr> per line) "
                                     "through one HBM stack");
  cmd->add_option("--trace", o->trace, "trace file in Ramulator's LoadStoreTrace format")
      ->required();
  cmd->add_option("--json", o->json, "write the figures as JSON");
  cmd->add_option("--stats", o->stats, "write the HBM stats tree as JSON");
  o->chip.add_to(*cmd);
  cmd->callback([o] {
    const LoadedChip chip = o->chip.load();
    std::ifstream in(o->trace);
    if (!in) throw InputError(o->trace + ": cannot open the memory trace");
    sim::MemTraceResult r = sim::replay_mem_trace(in, o->trace, chip.config.hbm);
    Report report(o->trace + " through one " + chip.config.hbm.standard + " stack of " +
                  chip.config.name);
    report.add("requests", "requests", static_cast<double>(r.requests), "requests");
    report.add("reads", "reads", static_cast<double>(r.reads), "requests");
    report.add("writes", "writes", static_cast<double>(r.writes), "requests");
    report.add("bytes", "bytes moved", static_cast<double>(r.bytes), "bytes");
    report.add("cycles", "HBM cycles", static_cast<double>(r.cycles), "CK cycles");
    report.add("time", "time", r.seconds * 1e6, "us");
    report.add("bandwidth", "achieved bandwidth", r.gbytes_per_s, "GB/s");
    report.add("peak_bandwidth", "peak bandwidth (one stack)", r.peak_gbytes_per_s, "GB/s");
    report.add("bandwidth_fraction", "fraction of peak",
               r.peak_gbytes_per_s > 0 ? r.gbytes_per_s / r.peak_gbytes_per_s : 0, "ratio");
    report.print();
    if (!o->json.empty()) write_json(o->json, report.json(), &chip);
    if (!o->stats.empty()) write_json(o->stats, r.stats.to_json(), &chip);
  });
}

}  // namespace seedchip::tools
