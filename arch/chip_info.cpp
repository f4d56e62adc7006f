#include "arch/chip_info.h"

#include <fmt/format.h>

#include "arch/chip_peaks.h"
#include "arch/chip_schema.h"
#include "arch/error.h"
#include "arch/export_control.h"

namespace seedchip {
namespace {

constexpr double kBytesPerMiB = 1024.0 * 1024.0;

std::string source_of(const LoadedChip& chip, const std::string& key) {
  auto it = chip.sources.find(key);
  return it == chip.sources.end() ? "not recorded" : it->second;
}

std::string peak_unit(const MxuFormatPeak& format) {
  return format.name.starts_with("int") ? "TOPS" : "TFLOP/s";
}

nlohmann::json typed_value(const ChipConfig& config, const ParamInfo& param) {
  std::string text = get_chip_param(config, param.key);
  if (param.type == "string") return text;
  double value = get_chip_param_number(config, param.key);
  if (param.type == "bool") return value != 0;
  if (param.type == "int") return static_cast<int64_t>(value);
  return value;
}

nlohmann::json with_unit(double value, const std::string& unit) {
  return {{"value", value}, {"unit", unit}};
}

struct PresetRow {
  std::string name;
  std::string error;
  double bf16_tflops = 0;
  double hbm_tbytes_per_s = 0;
  ExportMetrics exports;
};

std::vector<PresetRow> preset_rows() {
  std::vector<PresetRow> rows;
  ExportThresholds thresholds = load_export_thresholds(default_export_thresholds_path());
  for (const std::string& name : list_presets()) {
    PresetRow row;
    row.name = name;
    try {
      ChipConfig config = load_chip(name).config;
      row.bf16_tflops = peak_tflops(config, "bf16");
      row.hbm_tbytes_per_s = chip_peaks(config).hbm_gbytes_per_s / 1000;
      row.exports = export_metrics(config, thresholds);
    } catch (const InputError& e) {
      row.error = e.what();
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

std::string format_chip_info(const LoadedChip& chip) {
  const ChipConfig& c = chip.config;
  std::string out = fmt::format("{} ({}): {}\npreset: {}\n\nParameters (E = estimate):\n", c.name,
                                c.kind, c.description, chip.preset_file);
  for (const ParamInfo& param : chip_param_schema()) {
    std::string source = source_of(chip, param.key);
    out += fmt::format("  {:<34} {:>16} {:<16} {} {}\n", param.key, get_chip_param(c, param.key),
                       param.unit, is_estimate(source) ? "E" : " ", param.description);
    out += fmt::format("  {:<34} source: {}\n", "", source);
  }

  ChipPeaks peaks = chip_peaks(c);
  out += "\nDerived peaks (dense):\n";
  for (const MxuFormatPeak& format : peaks.formats)
    out += fmt::format("  {:<34} {:>10.1f} {}\n", format.name, format.tflops, peak_unit(format));
  out += fmt::format("  {:<34} {:>10.1f} GB/s\n", "HBM bandwidth", peaks.hbm_gbytes_per_s);
  out += fmt::format("  {:<34} {:>10.1f} GB\n", "HBM capacity", peaks.hbm_gbytes);
  out +=
      fmt::format("  {:<34} {:>10.1f} MiB\n", "SRAM, all cores", peaks.sram_bytes / kBytesPerMiB);
  out += fmt::format("  {:<34} {:>10.1f} GB/s (one direction; {:.1f} both)\n", "chip-to-chip links",
                     peaks.link_gbytes_per_s, peaks.link_gbytes_per_s_bidirectional);

  ExportThresholds thresholds = load_export_thresholds(default_export_thresholds_path());
  ExportMetrics exports = export_metrics(c, thresholds);
  out += fmt::format("\nExport control ({}):\n", thresholds.source);
  out += fmt::format("  {:<34} {:>10.0f} (2 x MAC TOPS x {} bits, {})\n", "TPP", exports.tpp,
                     exports.tpp_bits, exports.tpp_format);
  out +=
      fmt::format("  {:<34} {:>10.2f} TPP/mm^2 (die {} mm^2)\n", "PD", exports.pd, c.die.area_mm2);
  out += fmt::format(
      "  {:<34} {}{}\n", "class", exports.classification,
      exports.rule.empty() ? "" : fmt::format(" (rule {}: {})", exports.rule, exports.rule_text));
  return out;
}

nlohmann::json chip_info_json(const LoadedChip& chip) {
  const ChipConfig& c = chip.config;
  nlohmann::json info = {{"name", c.name},
                         {"description", c.description},
                         {"kind", c.kind},
                         {"preset_file", chip.preset_file}};
  nlohmann::json& params = info["parameters"] = nlohmann::json::object();
  for (const ParamInfo& param : chip_param_schema()) {
    std::string source = source_of(chip, param.key);
    nlohmann::json entry = {{"value", typed_value(c, param)},
                            {"unit", param.unit},
                            {"type", param.type},
                            {"source", source},
                            {"estimate", is_estimate(source)},
                            {"default", param.default_value},
                            {"description", param.description}};
    if (param.type == "string") {
      entry["choices"] = param.choices;
    } else {
      entry["min"] = param.min;
      entry["max"] = param.max;
    }
    params[param.key] = entry;
  }

  ChipPeaks peaks = chip_peaks(c);
  nlohmann::json& peak_json = info["peaks"];
  for (const MxuFormatPeak& format : peaks.formats)
    peak_json["mxu"][format.name] = with_unit(format.tflops, peak_unit(format));
  peak_json["hbm_bandwidth"] = with_unit(peaks.hbm_gbytes_per_s, "GB/s");
  peak_json["hbm_capacity"] = with_unit(peaks.hbm_gbytes, "GB");
  peak_json["sram_total"] = with_unit(static_cast<double>(peaks.sram_bytes), "bytes");
  peak_json["link_bandwidth"] = with_unit(peaks.link_gbytes_per_s, "GB/s one direction");
  peak_json["link_bandwidth_bidirectional"] =
      with_unit(peaks.link_gbytes_per_s_bidirectional, "GB/s");

  ExportThresholds thresholds = load_export_thresholds(default_export_thresholds_path());
  ExportMetrics exports = export_metrics(c, thresholds);
  info["export_control"] = {{"tpp", with_unit(exports.tpp, "2 x MAC TOPS x bits")},
                            {"tpp_format", exports.tpp_format},
                            {"tpp_bits", exports.tpp_bits},
                            {"pd", with_unit(exports.pd, "TPP/mm^2")},
                            {"class", exports.classification},
                            {"rule", exports.rule},
                            {"rule_text", exports.rule_text},
                            {"thresholds_source", thresholds.source}};
  return info;
}

std::string format_preset_table() {
  std::string out = fmt::format("{:<20} {:>12} {:>10} {:>8}  {}\n", "preset", "BF16 TFLOP/s",
                                "HBM TB/s", "TPP", "export class");
  for (const PresetRow& row : preset_rows()) {
    if (!row.error.empty()) {
      out += fmt::format("{:<20} error: {}\n", row.name, row.error);
      continue;
    }
    out += fmt::format("{:<20} {:>12.1f} {:>10.2f} {:>8.0f}  {}\n", row.name, row.bf16_tflops,
                       row.hbm_tbytes_per_s, row.exports.tpp, row.exports.classification);
  }
  return out;
}

nlohmann::json preset_table_json() {
  nlohmann::json table = nlohmann::json::array();
  for (const PresetRow& row : preset_rows()) {
    nlohmann::json entry = {{"name", row.name}};
    if (!row.error.empty()) {
      entry["error"] = row.error;
    } else {
      entry["bf16"] = with_unit(row.bf16_tflops, "TFLOP/s");
      entry["hbm_bandwidth"] = with_unit(row.hbm_tbytes_per_s, "TB/s");
      entry["tpp"] = with_unit(row.exports.tpp, "2 x MAC TOPS x bits");
      entry["export_class"] = row.exports.classification;
    }
    table.push_back(entry);
  }
  return table;
}

}  // namespace seedchip
