#pragma once
// A command's figures: printed as an aligned table for people and kept as JSON (each figure with
// its unit) for --json, so both always show the same numbers.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "arch/dtype.h"
#include "sim/chip/simulation.h"

namespace seedchip::tools {

class Report {
 public:
  explicit Report(std::string title);
  // `key` is the JSON path ("time.seconds"); `label` what the table prints.
  void add(const std::string& key, const std::string& label, double value, const std::string& unit);
  void text(const std::string& key, const std::string& value);
  void verdict(bool ok, const std::string& what);
  bool failed() const { return failed_; }
  void print() const;
  const nlohmann::json& json() const { return json_; }

 private:
  struct Line {
    std::string label, value, unit;
  };
  std::string title_;
  std::vector<Line> lines_;
  nlohmann::json json_;
  bool failed_ = false;
};

// Cycles, time, achieved vs peak TFLOP/s (MXU utilisation), HBM traffic and bandwidth, and the
// analytic roofline (max of compute and HBM time) with its bound and the timing/roofline ratio.
void add_run_figures(Report& report, sim::Simulation& simulation, const sim::RunResult& result,
                     double flops, DataType type);

}  // namespace seedchip::tools
