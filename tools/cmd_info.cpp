// seedchip info [PRESET]: every parameter of a chip with its unit and source, the derived peaks,
// the export-control metrics and the registered policies; --stats adds every statistic a simulation
// of the chip reports. Without a preset, one line per chip preset and per model shape preset.
#include <cstdio>
#include <iostream>

#include "arch/chip_info.h"
#include "llm/model_preset.h"
#include "serve/engine/engine.h"
#include "serve/fleet/fleet.h"
#include "sim/chip/simulation.h"
#include "sim/hbm/address_mapping.h"
#include "sim/hbm/scheduler.h"
#include "sim/link/chip_links.h"
#include "sim/noc/routing.h"
#include "tools/common.h"

namespace seedchip::tools {
namespace {

// The swappable policies, by the parameter that chooses them.
nlohmann::json policies_json() {
  nlohmann::json p;
  for (const auto& m : sim::hbm_address_mappings()) p["hbm.mapping"][m.name] = m.description;
  for (const auto& s : sim::hbm_schedulers()) p["hbm.scheduler"][s.name] = s.description;
  for (const auto& r : sim::mesh_routings()) p["noc.routing"][r.name] = r.description;
  for (const auto& [name, description] : sim::chip_link_topologies())
    p["links.topology"][name] = description;
  for (const auto& [name, info] : serve::schedulers())
    p["serve-sim --scheduler"][name] = info.description;
  for (const auto& [name, info] : serve::routers())
    p["serve-sim --router"][name] = info.description;
  return p;
}

// The model shape presets (configs/models), with their size and source.
nlohmann::json model_presets_json() {
  nlohmann::json models = nlohmann::json::array();
  for (const std::string& name : llm::list_model_presets()) {
    const llm::ModelPreset p = llm::load_model_preset(name);
    models.push_back(
        {{"name", name},
         {"parameters", figure(static_cast<double>(llm::parameter_count(p.config)), "parameters")},
         {"active_parameters",
          figure(static_cast<double>(llm::active_parameter_count(p.config)), "parameters")},
         {"source", p.source}});
  }
  return models;
}

void print_policies(const nlohmann::json& policies) {
  std::cout << "\nPolicies (chosen by the parameter named)\n";
  for (const auto& [key, choices] : policies.items())
    for (const auto& [name, description] : choices.items())
      std::cout << "  " << key << " = " << name << ": " << description.get<std::string>() << "\n";
}

// Every stat a one-chip simulation registers, from a simulation that runs nothing.
nlohmann::json stats_schema(const ChipConfig& chip) {
  sim::SimulationOptions options;
  options.functional = false;
  sim::Simulation simulation(chip, options);
  simulation.load({});
  const sim::RunResult result = simulation.run();
  simulation.stats_json(result);  // registers the run-level stats too
  return simulation.stats().schema();
}

}  // namespace

void register_info(CLI::App& app) {
  struct InfoOptions {
    std::string preset, json;
    std::vector<std::string> overrides;
    bool stats = false;
  };
  auto o = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "list presets, or describe one chip in full");
  cmd->add_option("PRESET", o->preset, "preset name or preset YAML file");
  cmd->add_option("--set", o->overrides, "override a chip parameter: key=value (repeatable)");
  cmd->add_flag("--stats", o->stats, "also list every statistic a simulation reports");
  cmd->add_option("--json", o->json, "write the same content as JSON");
  cmd->callback([o] {
    if (o->preset.empty()) {
      std::cout << format_preset_table();
      const nlohmann::json models = model_presets_json();
      std::cout << "\nModel shape presets (configs/models; seedchip generate --model NAME)\n";
      for (const auto& m : models)
        std::printf("  %-18s %8.1f B parameters, %8.1f B active  %s\n",
                    m["name"].get<std::string>().c_str(),
                    m["parameters"]["value"].get<double>() / 1e9,
                    m["active_parameters"]["value"].get<double>() / 1e9,
                    m["source"].get<std::string>().c_str());
      if (!o->json.empty()) {
        write_json(o->json, {{"chip_presets", preset_table_json()}, {"model_presets", models}},
                   nullptr);
      }
      return;
    }
    const LoadedChip chip = load_chip(o->preset, o->overrides);
    nlohmann::json json = chip_info_json(chip);
    json["policies"] = policies_json();
    std::cout << format_chip_info(chip);
    print_policies(json["policies"]);
    if (o->stats) {
      json["stats"] = stats_schema(chip.config);
      std::cout << "\nStatistics (" << json["stats"].size() << ")\n";
      for (const auto& s : json["stats"])
        std::cout << "  " << s["path"].get<std::string>() << " [" << s["unit"].get<std::string>()
                  << "]: " << s["desc"].get<std::string>() << "\n";
    }
    if (!o->json.empty()) write_json(o->json, json, &chip);
  });
}

}  // namespace seedchip::tools
