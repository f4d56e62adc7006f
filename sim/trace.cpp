#include "sim/trace.h"

#include <nlohmann/json.hpp>

#include "arch/error.h"

namespace seedchip::sim {

TraceWriter::TraceWriter(const std::string& path, double ns_per_tick)
    : out_(path), ns_per_tick_(ns_per_tick) {
  if (!out_) throw InputError(path + ": cannot open the trace file for writing");
  out_ << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
}

TraceWriter::~TraceWriter() { finish(); }

void TraceWriter::finish() {
  if (finished_) return;
  finished_ = true;
  out_ << "\n]}\n";
  out_.flush();
}

bool TraceWriter::begin_event() {
  if (finished_) return false;  // the run is over: the trace covers the run only
  if (!first_) out_ << ",\n";
  first_ = false;
  return true;
}

void TraceWriter::name_process(int pid, const std::string& name) {
  if (!begin_event()) return;
  out_ << nlohmann::json{{"ph", "M"},
                         {"name", "process_name"},
                         {"pid", pid},
                         {"tid", 0},
                         {"args", {{"name", name}}}}
              .dump();
}

void TraceWriter::name_track(int pid, int tid, const std::string& name) {
  if (!begin_event()) return;
  out_ << nlohmann::json{{"ph", "M"},
                         {"name", "thread_name"},
                         {"pid", pid},
                         {"tid", tid},
                         {"args", {{"name", name}}}}
              .dump();
}

void TraceWriter::span(int pid, int tid, const std::string& name, uint64_t start,
                       uint64_t duration) {
  if (!begin_event()) return;
  // Trace-event timestamps are microseconds.
  const double ts_us = static_cast<double>(start) * ns_per_tick_ / 1000.0;
  const double dur_us = static_cast<double>(duration) * ns_per_tick_ / 1000.0;
  out_ << nlohmann::json{{"ph", "X"},  {"name", name}, {"pid", pid},
                         {"tid", tid}, {"ts", ts_us},  {"dur", dur_us}}
              .dump();
}

}  // namespace seedchip::sim
