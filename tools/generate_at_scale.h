#pragma once
// `seedchip generate --model PRESET` (or a model file with --timing-only): the timing-only report
// of the model's shapes on a group of chips (runtime/llm_timing.h), printed as a table and written
// with --json.
#include <string>

#include "runtime/llm_timing.h"
#include "tools/common.h"

namespace seedchip::tools {

struct ScaleCommand {
  std::string model, json, stats;
  runtime::ScaleOptions options;
  int64_t chips = 0;  // 0: tp x pp
};

void run_generate_at_scale(const ScaleCommand& command, const ChipOptions& chip);

}  // namespace seedchip::tools
