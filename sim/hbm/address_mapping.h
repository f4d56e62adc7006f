#pragma once
// Address mapping policy: turns a physical byte address into (stack, channel, pseudo-channel,
// bank group, bank, row, column). Policies are registered by name (hbm.mapping); see docs/hbm.md.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "arch/chip_config.h"

namespace seedchip::sim {

struct HbmAddress {
  int stack = 0;
  int channel = 0;
  int pseudo_channel = 0;
  int bank_group = 0;
  int bank = 0;
  int64_t row = 0;
  int64_t column = 0;  // in units of hbm.access_bytes within the row
};

class HbmAddressMapping {
 public:
  virtual ~HbmAddressMapping() = default;
  // `addr` must be below capacity_bytes().
  virtual HbmAddress decode(uint64_t addr) const = 0;
  // Bytes from `addr` until the mapping leaves its (stack, channel, PC, bank, row).
  virtual uint64_t contiguous_bytes(uint64_t addr) const = 0;
  virtual uint64_t capacity_bytes() const = 0;
};

struct HbmMappingInfo {
  std::string name;
  std::string description;
};

// Every registered mapping, for `seedchip info` and error messages.
std::vector<HbmMappingInfo> hbm_address_mappings();
// InputError naming hbm.mapping and listing the registered names when config.mapping is unknown.
std::unique_ptr<HbmAddressMapping> make_hbm_address_mapping(const HbmConfig& config);

}  // namespace seedchip::sim
