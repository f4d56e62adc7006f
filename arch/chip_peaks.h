#pragma once
// Peak figures derived from a ChipConfig alone, with no simulation: what the hardware could do if
// every unit were busy every cycle. Used by `seedchip info`, rooflines and export metrics.
#include <cstdint>
#include <string>
#include <vector>

#include "arch/chip_config.h"

namespace seedchip {

// One MXU operand format: name as in the mxu.macs_per_pe.<name> keys, bits = its operand width.
struct MxuFormatPeak {
  std::string name;
  int bits = 0;
  double macs_per_pe = 0;
  double tflops = 0;  // dense: cores x rows x cols x macs_per_pe x 2 x clock (TOPS for int8)
};

struct ChipPeaks {
  std::vector<MxuFormatPeak> formats;  // in table order, unsupported formats included with 0
  double hbm_gbytes_per_s = 0;         // stacks x channels x PCs x PC bits x data rate / 8
  double hbm_gbytes = 0;               // stacks x stack_gbytes
  int64_t sram_bytes = 0;              // all cores together
  double link_gbytes_per_s = 0;        // all links, one direction
  double link_gbytes_per_s_bidirectional = 0;
};

ChipPeaks chip_peaks(const ChipConfig& config);

// Peak dense TFLOP/s (TOPS for int8) of one format name ("bf16", "fp8", ...); 0 if unsupported or
// unknown.
double peak_tflops(const ChipConfig& config, const std::string& format);

}  // namespace seedchip
