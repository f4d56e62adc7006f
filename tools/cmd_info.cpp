// seedchip info [PRESET]: every parameter of a chip with its unit and source, the derived peaks and
// the export-control metrics; without a preset, one line per preset.
#include <iostream>

#include "arch/chip_info.h"
#include "tools/common.h"

namespace seedchip::tools {

void register_info(CLI::App& app) {
  struct InfoOptions {
    std::string preset, json;
    std::vector<std::string> overrides;
  };
  auto o = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "list presets, or describe one chip in full");
  cmd->add_option("PRESET", o->preset, "preset name or preset YAML file");
  cmd->add_option("--set", o->overrides, "override a chip parameter: key=value (repeatable)");
  cmd->add_option("--json", o->json, "write the same content as JSON");
  cmd->callback([o] {
    if (o->preset.empty()) {
      std::cout << format_preset_table();
      if (!o->json.empty()) write_json(o->json, preset_table_json(), nullptr);
      return;
    }
    const LoadedChip chip = load_chip(o->preset, o->overrides);
    std::cout << format_chip_info(chip);
    if (!o->json.empty()) write_json(o->json, chip_info_json(chip), &chip);
  });
}

}  // namespace seedchip::tools
