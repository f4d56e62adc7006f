#pragma once
// Graph passes: named rewrites of the IR, each runnable and testable alone (text in, text out),
// registered explicitly in one table (pass.cpp) so `seedchip compile --list-passes` and
// `--dump-ir-after NAME` know them all. The pipeline verifies the graph after every pass.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/ir/graph.h"

namespace seedchip::compiler::passes {

struct Pass {
  std::string_view name;         // kebab-case, e.g. "infer-shapes"
  std::string_view description;  // one line for --list-passes
  // Rewrites `graph` in place. Throws InputError naming the node and tensor when the graph is
  // inconsistent in a way the pass detects (e.g. a shape mismatch).
  std::function<void(ir::Graph&)> run;
};

// Every pass, in the default pipeline's order.
const std::vector<Pass>& all_passes();
// The pass of that name, or nullptr.
const Pass* find_pass(std::string_view name);

// Runs the named passes in order, verifying after each; after a pass named in `dump_after` (or
// every pass when it holds "all"), calls dump(pass name, graph). A name is looked up in `bound`
// (passes bound to options, such as quantize_pass, outside the table) before the table. Unknown
// names: InputError listing the known ones.
void run_passes(ir::Graph& graph, const std::vector<std::string>& names,
                const std::vector<std::string>& dump_after = {},
                const std::function<void(std::string_view, const ir::Graph&)>& dump = {},
                const std::vector<Pass>& bound = {});

// The default pipeline: every registered pass in order.
std::vector<std::string> default_pipeline();

}  // namespace seedchip::compiler::passes
