#pragma once
// The fold-constants pass: evaluates on the host what needs no model input, so that the chip runs
// only real work and later passes see constants (a Reshape target, a transposed weight) instead
// of the subgraphs that computed them.
#include "compiler/ir/graph.h"
#include "compiler/passes/host_eval.h"

namespace seedchip::compiler::passes {

// Replaces every node whose inputs are all constants (or, for Shape and Size, whose input's dims
// are fully known) by constants computed with evaluate_on_host, in one topological sweep; outputs
// that are graph outputs stay, as constants. Nodes whose op the host evaluator does not implement
// are left alone, and so are nodes whose results would exceed kMaxFoldedElements (they run on the
// chip). A graph input's default value (an initializer that is also an input) is not a constant:
// the caller may override it. Then removes constants that no node, no graph output and no nested
// graph uses (dead constants), never graph inputs. Returns whether anything changed; throws
// InputError naming the node when a foldable node's inputs are invalid for its op.
bool fold_constants(ir::Graph& graph);

}  // namespace seedchip::compiler::passes
