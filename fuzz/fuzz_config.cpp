// libFuzzer target for the chip config loader: any bytes must either load or raise InputError;
// every other exception, crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "arch/chip_loader.h"
#include "arch/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  try {
    seedchip::LoadedChip chip = seedchip::load_chip_yaml(yaml, "fuzz.yaml");
    seedchip::load_chip_yaml(seedchip::resolved_config_yaml(chip), "fuzz-resolved.yaml");
  } catch (const seedchip::InputError&) {
  }
  return 0;
}
