#pragma once
// The graph IR as text, so a pass is tested "text in, text out" and `--dump-ir` shows a graph.
//
//   graph "chain" opset ""=13 "com.microsoft"=1 {
//     input %x: f32[2,3]
//     input %n: i64[?,4]                          # ? is a dim of unknown size
//     input %u: f32[*]                            # [*]: unknown rank; [] is a scalar
//     input %k: i64[1] = [2]                      # a graph input that is also a constant
//     const %w: f32[3] = [1.5, -2, 0.25]
//     const %s: string[2] = ["a", "b\"q"]
//     const %big: f32[64,64] = <4096 elements>    # elided by PrintOptions; not parseable
//     %y: f32[2,3] = Relu(%x) @"relu_0"
//     %q: f32[?], %idx: i64[?] = TopK(%y, %k) {axis = 1, largest = 1, sorted = 1}
//     %o: f32[2] = com.microsoft::Foo(%w, _, %q) {alpha = 0.5, t = tensor f32[2] [1, 2]}
//     %p = Bar(%o)                                # a value of entirely unknown type
//     () = Print(%p)                              # a node without outputs
//     output %y
//   }
//
// Statements, one per line, in the order printed: graph inputs, constants (in value order), nodes
// (in graph order), graph outputs. Every name is defined before it is used. Blanks within a line
// do not matter; `#` starts a comment that runs to the end of the line.
//
// Value names: `%` then the name when it matches [A-Za-z0-9_.:/-]+ and does not end with ':'
// (that colon would read as the type separator, so `%x:f32[2]` names "x:f32"; write `%x: f32[2]`),
// else `%"..."`. Quoted text (names, node names after `@`, strings, the graph name, opset domains)
// escapes \" \\ \n \t and other control bytes as \xHH. Operator names, domains and attribute keys
// are bare when they match [A-Za-z_][A-Za-z0-9_.]*, else quoted.
//
// Types: an element type from element_name() ("f32", "bf16", "i64", "string", "c64", ...) and
// dims, inside `seq(...)` and `optional(...)` for ONNX's containers (`optional(seq(f32[5]))`); a
// tensor whose element type and rank are both unknown has no `: type`.
//
// Node: outputs (`_` for an omitted one, `()` for none) ` = ` [domain`::`]op`(`inputs`)` (`_` for
// an omitted input), then ` {key = value, ...}` sorted by key, then ` @"node name"`.
//
// Attribute values: int `5`; float always with a point, an exponent or as inf/nan (`0.5`, `1.0`,
// `1e-05`, `-inf`, `nan`); string `"..."`; lists `[1, 0]`, `[1.0, 2.5]`, `["a", "b"]` whose kind is
// that of the first element, or with the kind spelled out: `ints []`, `floats [1, 2.5]`,
// `strings []`; tensor `tensor f32[2] [1, 2]`; tensors `tensors [tensor f32[1] [1], ...]`; graph
// `graph {` + the nested graph's statements, indented + `}` and graphs `graphs [graph {...}, ...]`.
// A nested graph may read names of the graphs around it (a Loop body reading an outer tensor); it
// prints without a name or opset and parses with the top-level graph's opset.
//
// Tensor data: every element in row-major order between brackets. Floats (f16 and bf16 through
// their value) print in the shortest form that reads back to the same bits; NaNs read back as the
// quiet NaN of their sign, whatever their payload. Integers print as integers, bool as 0/1,
// strings quoted, c64/c128 as `(re, im)`. Tensors with more than max_inline_elements elements
// print as `<N elements>`.
#include <cstddef>
#include <string>
#include <string_view>

#include "compiler/ir/graph.h"

namespace seedchip::compiler::ir {

struct PrintOptions {
  size_t max_inline_elements = 16;  // tensors with more elements print as <N elements>
};

std::string print(const Graph& graph, const PrintOptions& options = {});

// Reads what print() writes with every tensor inline. Throws InputError
// "<source>:<line>:<column>: <what was expected>" on malformed input; the result passes verify().
Graph parse(std::string_view text, std::string_view source = "<ir>");

}  // namespace seedchip::compiler::ir
