#include "arch/chip_peaks.h"

#include <cctype>

#include "arch/chip_schema.h"

namespace seedchip {
namespace {

constexpr std::string_view kMacsPrefix = "mxu.macs_per_pe.";

// The operand width is the number a format's name ends in (bf16, fp8, int8, fp32).
int trailing_bits(const std::string& name) {
  size_t digits = name.size();
  while (digits > 0 && std::isdigit(static_cast<unsigned char>(name[digits - 1]))) --digits;
  return digits == name.size() ? 0 : std::stoi(name.substr(digits));
}

}  // namespace

ChipPeaks chip_peaks(const ChipConfig& c) {
  ChipPeaks peaks;
  const double macs_per_cycle = static_cast<double>(c.core_count()) *
                                static_cast<double>(c.mxu.rows) * static_cast<double>(c.mxu.cols);
  for (const ParamInfo& param : chip_param_schema()) {
    if (!param.key.starts_with(kMacsPrefix)) continue;
    MxuFormatPeak format;
    format.name = param.key.substr(kMacsPrefix.size());
    format.bits = trailing_bits(format.name);
    format.macs_per_pe = get_chip_param_number(c, param.key);
    format.tflops = macs_per_cycle * format.macs_per_pe * 2 * c.core.clock_mhz * 1e6 / 1e12;
    peaks.formats.push_back(format);
  }
  const HbmConfig& h = c.hbm;
  peaks.hbm_gbytes_per_s =
      static_cast<double>(h.stacks * h.channels * h.pseudo_channels * h.pc_bus_bits) *
      h.data_rate_gbps / 8;
  peaks.hbm_gbytes = static_cast<double>(h.stacks * h.stack_gbytes);
  peaks.sram_bytes = c.core_count() * c.sram.bytes;
  peaks.link_gbytes_per_s = static_cast<double>(c.links.count) * c.links.gbytes_per_s;
  peaks.link_gbytes_per_s_bidirectional = 2 * peaks.link_gbytes_per_s;
  return peaks;
}

double peak_tflops(const ChipConfig& config, const std::string& format) {
  for (const MxuFormatPeak& peak : chip_peaks(config).formats)
    if (peak.name == format) return peak.tflops;
  return 0;
}

}  // namespace seedchip
