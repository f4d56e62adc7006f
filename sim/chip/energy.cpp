#include "sim/chip/energy.h"

#include <string>

namespace seedchip::sim {

Energy& Energy::operator+=(const Energy& o) {
  mxu_j += o.mxu_j;
  vpu_j += o.vpu_j;
  sram_j += o.sram_j;
  hbm_j += o.hbm_j;
  link_j += o.link_j;
  static_j += o.static_j;
  return *this;
}

Energy Energy::scaled(double f) const {
  return {mxu_j * f, vpu_j * f, sram_j * f, hbm_j * f, link_j * f, static_j * f};
}

Energy dynamic_energy(const ChipConfig& config, const StatTree& stats) {
  constexpr double kPico = 1e-12;
  const PowerConfig& p = config.power;
  double macs = 0, elements = 0, sram_bytes = 0, sent = 0;
  for (int core = 0; core < config.core_count(); ++core) {
    const std::string c = "chip.core" + std::to_string(core) + ".";
    macs += stats.get(c + "mxu.macs");
    elements += stats.get(c + "vpu.elements");
    sram_bytes += stats.get(c + "sram.bytes_read") + stats.get(c + "sram.bytes_written");
    sent += stats.get(c + "dma.bytes_sent");
  }
  Energy e;
  e.mxu_j = macs * p.mxu_pj_per_mac * kPico;
  e.vpu_j = elements * p.vpu_pj_per_op * kPico;
  e.sram_j = sram_bytes * p.sram_pj_per_byte * kPico;
  e.hbm_j = stats.get("chip.hbm.bytes") * 8 * p.hbm_pj_per_bit * kPico;
  e.link_j = link_energy_j(p, sent);
  return e;
}

double link_energy_j(const PowerConfig& power, double bytes) {
  return bytes * 8 * power.link_pj_per_bit * 1e-12;
}

double static_energy_j(const PowerConfig& power, double seconds, int chips) {
  return power.idle_w * seconds * chips;
}

}  // namespace seedchip::sim
