#pragma once
// What `seedchip info` prints: every parameter of a loaded chip with value, unit, source and
// description, its derived peaks and export metrics; and a one-line-per-preset overview. The text
// and JSON forms carry the same content, with units.
#include <nlohmann/json.hpp>
#include <string>

#include "arch/chip_loader.h"

namespace seedchip {

std::string format_chip_info(const LoadedChip& chip);
nlohmann::json chip_info_json(const LoadedChip& chip);

// Every preset in presets_dir(): name, BF16 TFLOP/s, HBM TB/s, TPP and export class. A preset
// that fails to load is listed with its error instead of hiding the others.
std::string format_preset_table();
nlohmann::json preset_table_json();

}  // namespace seedchip
