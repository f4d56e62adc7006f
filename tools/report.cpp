#include "tools/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "arch/chip_peaks.h"

namespace seedchip::tools {
namespace {

// The mxu.macs_per_pe.<format> name a data type's peak is listed under.
std::string mxu_format(DataType type) {
  switch (type) {
    case DataType::FP8_E4M3:
    case DataType::FP8_E5M2:
      return "fp8";
    default:
      return std::string(dtype_name(type));
  }
}

std::string format_value(double v) {
  char buf[64];
  if (v != 0 && (std::abs(v) >= 1e7 || std::abs(v) < 1e-3))
    std::snprintf(buf, sizeof buf, "%.4g", v);
  else if (v == static_cast<double>(static_cast<int64_t>(v)))
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  else
    std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

Report::Report(std::string title) : title_(std::move(title)) { json_["title"] = title_; }

void Report::add(const std::string& key, const std::string& label, double value,
                 const std::string& unit) {
  lines_.push_back({label, format_value(value), unit});
  json_[nlohmann::json::json_pointer("/" + [&] {
    std::string p = key;
    std::replace(p.begin(), p.end(), '.', '/');
    return p;
  }())] = {{"value", value}, {"unit", unit}};
}

void Report::text(const std::string& key, const std::string& value) {
  lines_.push_back({key, value, ""});
  json_[key] = value;
}

void Report::verdict(bool ok, const std::string& what) {
  lines_.push_back({"check", ok ? "PASS" : "FAIL", what});
  json_["check"]["pass"] = ok;
  json_["check"]["what"] = what;
  if (!ok) failed_ = true;
}

void Report::print() const {
  size_t width = 0;
  for (const auto& l : lines_) width = std::max(width, l.label.size());
  std::printf("%s\n", title_.c_str());
  for (const auto& l : lines_)
    std::printf("  %-*s  %s%s%s\n", static_cast<int>(width), l.label.c_str(), l.value.c_str(),
                l.unit.empty() ? "" : " ", l.unit.c_str());
}

void add_run_figures(Report& report, sim::Simulation& simulation, const sim::RunResult& result,
                     double flops, DataType type) {
  const ChipConfig& chip = simulation.config();
  const double seconds = result.seconds;
  report.add("cycles", "core cycles", static_cast<double>(result.core_cycles), "cycles");
  report.add("time", "time", seconds * 1e6, "us");
  const ChipPeaks peaks = chip_peaks(chip);
  const double hbm_bytes = simulation.stats().contains("chip.hbm.bytes")
                               ? simulation.stats().get("chip.hbm.bytes")
                               : 0.0;
  const double hbm_seconds = hbm_bytes / (peaks.hbm_gbytes_per_s * 1e9);
  double compute_seconds = 0;
  if (flops > 0) {
    const double peak = peak_tflops(chip, mxu_format(type)) * 1e12;
    compute_seconds = flops / peak;
    const double achieved = seconds > 0 ? flops / seconds : 0;
    report.add("tflops", "achieved", achieved / 1e12, "TFLOP/s");
    report.add("peak_tflops", "peak (" + std::string(dtype_name(type)) + ")", peak / 1e12,
               "TFLOP/s");
    report.add("mxu_utilization", "MXU utilization", achieved / peak, "ratio");
  }
  report.add("hbm.bytes", "HBM traffic", hbm_bytes, "bytes");
  report.add("hbm.gbytes_per_s", "HBM bandwidth", seconds > 0 ? hbm_bytes / seconds / 1e9 : 0,
             "GB/s");
  report.add("hbm.fraction_of_peak", "HBM bandwidth / peak",
             seconds > 0 ? hbm_bytes / seconds / 1e9 / peaks.hbm_gbytes_per_s : 0, "ratio");
  const double roofline = std::max(compute_seconds, hbm_seconds);
  report.add("roofline.seconds", "analytic roofline time", roofline * 1e6, "us");
  report.text("bound", compute_seconds >= hbm_seconds ? "compute (MXU)" : "bandwidth (HBM)");
  report.add("roofline.ratio", "simulated / roofline time", roofline > 0 ? seconds / roofline : 0,
             "ratio");
  report.add("events", "simulator events", static_cast<double>(result.events), "events");
}

}  // namespace seedchip::tools
