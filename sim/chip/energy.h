#pragma once
// The chip's energy from its activity counters and the power.* parameters of its preset: each
// MAC, VPU element, SRAM byte, HBM bit and chip-link bit costs its configured energy, and the
// chip draws power.idle_w all the time it is on. The counters are those a Simulation registers
// (chip.coreN.mxu.macs, .vpu.elements, .sram.bytes_read/written, chip.hbm.bytes); on-chip network
// energy is not counted (no per-hop byte counter yet). FP8/INT8 MACs cost half a BF16 MAC, as
// power.mxu_pj_per_mac says; the counters do not separate formats, so every MAC is costed as BF16.
#include "arch/chip_config.h"
#include "sim/stats.h"

namespace seedchip::sim {

struct Energy {
  double mxu_j = 0, vpu_j = 0, sram_j = 0, hbm_j = 0, link_j = 0, static_j = 0;
  double dynamic_j() const { return mxu_j + vpu_j + sram_j + hbm_j + link_j; }
  double total_j() const { return dynamic_j() + static_j; }
  Energy& operator+=(const Energy& o);
  Energy scaled(double factor) const;
};

// Dynamic energy of one chip's counters in `stats` (static_j left at 0).
Energy dynamic_energy(const ChipConfig& config, const StatTree& stats);
// Energy of `bytes` sent over the chip links.
double link_energy_j(const PowerConfig& power, double bytes);
// `chips` chips switched on for `seconds`.
double static_energy_j(const PowerConfig& power, double seconds, int chips = 1);

}  // namespace seedchip::sim
