// seedchip: the command-line front end. Each subcommand lives in its own file (tools/cmd_*.cpp).
#include <cstdio>
#include <exception>
#include <new>

#include "arch/error.h"
#include "tools/common.h"

namespace seedchip::tools {
void register_convert(CLI::App& app);  // tools/cmd_convert.cpp
}  // namespace seedchip::tools

int main(int argc, char** argv) {
  CLI::App app{"SeedChip: an LLM inference accelerator as software (chip model, ISA, simulator)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "seedchip 0.1.0");
  seedchip::tools::register_info(app);
  seedchip::tools::register_asm(app);
  seedchip::tools::register_sim(app);
  seedchip::tools::register_gemm(app);
  seedchip::tools::register_mem(app);
  seedchip::tools::register_model(app);
  seedchip::tools::register_generate(app);
  seedchip::tools::register_convert(app);
  seedchip::tools::register_serve(app);
  seedchip::tools::register_plan(app);
  seedchip::tools::register_sensitivity(app);
  seedchip::tools::register_sweep(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const seedchip::InputError& e) {
    std::fprintf(stderr, "seedchip: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "seedchip: error: out of host memory\n");
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seedchip: internal error: %s\n", e.what());
    return 4;
  }
  return seedchip::tools::InterruptGuard::interrupted() ? 130 : 0;
}
