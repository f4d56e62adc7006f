#include "compiler/passes/pass.h"

#include <algorithm>

#include "arch/error.h"
#include "compiler/passes/choose_layout.h"
#include "compiler/passes/demote_f64.h"
#include "compiler/passes/fold_constants.h"
#include "compiler/passes/fuse.h"
#include "compiler/passes/infer_shapes.h"
#include "compiler/passes/unroll_loops.h"

namespace seedchip::compiler::passes {

const std::vector<Pass>& all_passes() {
  static const std::vector<Pass> passes = {
      {"infer-shapes", "infer every tensor's element type and shape from the operators",
       infer_shapes},
      // Folding makes shapes known (a Reshape target computed from Shape) and known shapes make
      // more folding possible (Shape of a tensor whose dims just became known): to a fixpoint.
      {"fold-constants", "evaluate nodes whose inputs are all constants, on the host",
       [](ir::Graph& g) {
         while (fold_constants(g)) infer_shapes(g);
       }},
      // After folding, which makes trip counts constant; the unrolled bodies fold in turn, which
      // may make the trip count of a later Loop constant for the next round.
      {"unroll-loops", "replace each Loop of constant trip count by copies of its body, and fold",
       [](ir::Graph& g) {
         while (unroll_loops(g)) {
           infer_shapes(g);
           while (fold_constants(g)) infer_shapes(g);
         }
       }},
      // After folding, so that what the host computes keeps its f64 precision.
      {"demote-f64", "store and compute f64 tensors as f32 (the chip has no FP64)", demote_f64},
      {"fuse", "replace patterns that one kernel runs by one node each (domain seedchip; fuse.h)",
       [](ir::Graph& g) { fuse(g); }},
      // After fuse, whose patterns match Transpose nodes.
      {"choose-layout",
       "leave a Transpose that keeps the last axis to readers that take strided views "
       "(seedchip::TransposeView; choose_layout.h)",
       [](ir::Graph& g) { choose_layout(g); }},
  };
  return passes;
}

const Pass* find_pass(std::string_view name) {
  for (const Pass& p : all_passes())
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<std::string> default_pipeline() {
  std::vector<std::string> names;
  for (const Pass& p : all_passes()) names.emplace_back(p.name);
  return names;
}

void run_passes(ir::Graph& graph, const std::vector<std::string>& names,
                const std::vector<std::string>& dump_after,
                const std::function<void(std::string_view, const ir::Graph&)>& dump,
                const std::vector<Pass>& bound) {
  const auto wanted = [&](std::string_view name) {
    return std::find(dump_after.begin(), dump_after.end(), "all") != dump_after.end() ||
           std::find(dump_after.begin(), dump_after.end(), name) != dump_after.end();
  };
  const auto lookup = [&](std::string_view name) -> const Pass* {
    for (const Pass& p : bound)
      if (p.name == name) return &p;
    return find_pass(name);
  };
  std::string known;
  for (const Pass& p : all_passes()) known += (known.empty() ? "" : ", ") + std::string(p.name);
  for (const Pass& p : bound) known += (known.empty() ? "" : ", ") + std::string(p.name);
  for (const std::string& d : dump_after)
    if (d != "all" && !lookup(d))
      throw InputError("--dump-ir-after: unknown pass '" + d + "' (known: " + known + ")");
  for (const std::string& name : names) {
    const Pass* pass = lookup(name);
    if (!pass) throw InputError("unknown pass '" + name + "' (known: " + known + ")");
    pass->run(graph);
    ir::verify(graph);
    if (dump && wanted(name)) dump(name, graph);
  }
}

}  // namespace seedchip::compiler::passes
