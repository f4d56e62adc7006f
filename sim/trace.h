#pragma once
// Chrome trace-event JSON (opens in the Perfetto UI and chrome://tracing). One process per chip or
// core, one thread (track) per unit: MXU, VPU, DMA, HBM channel. Components hold a TraceWriter*
// that is null when no trace was asked for, so tracing off costs one pointer test.
#include <cstdint>
#include <fstream>
#include <string>

namespace seedchip::sim {

class TraceWriter {
 public:
  // Opens `path` for writing; throws InputError when it cannot. `ns_per_tick` converts tick times.
  TraceWriter(const std::string& path, double ns_per_tick);
  ~TraceWriter();  // closes the JSON array so even an interrupted run leaves a valid file
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  void name_process(int pid, const std::string& name);
  void name_track(int pid, int tid, const std::string& name);
  // A complete ("X") event: `name` on track (pid, tid) from tick `start` for `duration` ticks.
  void span(int pid, int tid, const std::string& name, uint64_t start, uint64_t duration);
  // Closes the file; events after it (HBM refreshes brought into the counts when the stats are
  // read, say) are dropped.
  void finish();

 private:
  bool begin_event();  // false once finished
  std::ofstream out_;
  double ns_per_tick_;
  bool first_ = true;
  bool finished_ = false;
};

}  // namespace seedchip::sim
