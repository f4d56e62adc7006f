#pragma once
// Loop unrolling. The chip's programs are straight-line code for static shapes, so an ONNX Loop
// runs only when its trip count is known at compile time: typically after specialisation and
// folding (Range's function body is a Loop over ceil((limit - start) / delta) iterations). Such
// a Loop becomes copies of its body, one per iteration, in the enclosing graph:
//
//   Loop(M, cond, v...) {body(i, cond_in, carried...) -> (cond_out, carried'..., scan...)}
//
// iteration k reads the constant k as i, the condition and the carried values of iteration k - 1
// (the v... at first); the Loop's outputs are the last carried values (Identity) and each scan
// output's values stacked along a new axis 0 (Unsqueeze, Concat).
#include <cstddef>
#include <cstdint>
#include <string>

#include "compiler/ir/graph.h"

namespace seedchip::compiler::passes {

// Unrolling stops at this many copied nodes per Loop: the program grows with every copy.
inline constexpr int64_t kMaxUnrolledNodes = int64_t{1} << 16;

// Why the Loop at graph.nodes[node_index] is not unrolled, naming the node and the tensor; empty
// when it can be. Unrolled: M a constant, cond omitted or a constant, the body's condition output
// a constant or its condition input passed through Identity nodes, no subgraphs in the body
// (their names would need renaming), at most kMaxUnrolledNodes copies, and known scan output
// types where there are no iterations.
std::string unroll_blocker(const ir::Graph& graph, size_t node_index);

// Unrolls every Loop of `graph` (not of nested graphs) that unroll_blocker allows; returns whether
// any was. New values take their body names (made unique); their types are the body's, for
// infer-shapes to complete. Throws InputError naming the Loop when its body is malformed (input
// or output counts, a name no enclosing graph defines).
bool unroll_loops(ir::Graph& graph);

}  // namespace seedchip::compiler::passes
