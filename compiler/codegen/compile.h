#pragma once
// Lowering of a graph onto one chip: passes, a static HBM plan, one kernel sequence per operator
// (each ending at a chip-wide barrier), and the result as a CompiledModel that the runtime loads.
//
// HBM layout: [constants and graph inputs/outputs | intermediates, reusing space once a tensor's
// last reader has run | constants the lowering adds] ... [per-operator scratch at the top of HBM].
// Operators run one at a time over every core, so scratch is reused by each operator.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "compiler/codegen/program_builder.h"
#include "compiler/ir/graph.h"
#include "compiler/passes/quantize.h"
#include "isa/isa.h"

namespace seedchip::compiler {

// How an FP32 matrix product runs on an MXU that multiplies BF16: each operand is split into a
// sum of BF16 parts and the partial products that matter are accumulated in FP32 (as TPUs do):
// kBf16 rounds the operands once (1 product), kBf16x3 keeps ~16 significant bits (3 products),
// kBf16x6 ~24 bits, FP32-grade (6 products).
enum class MatmulPrecision : uint8_t { kBf16, kBf16x3, kBf16x6 };
std::string_view precision_name(MatmulPrecision p);
// Throws InputError naming the accepted values.
MatmulPrecision precision_from_name(std::string_view name);

struct CompileOptions {
  MatmulPrecision matmul_precision = MatmulPrecision::kBf16x3;
  std::vector<std::string> passes;  // empty: the default pipeline
  std::vector<std::string> dump_ir_after;
  std::function<void(std::string_view pass, const ir::Graph&)> dump;
  // Graph output name -> graph input name: the output is stored over the input's HBM bytes (a
  // state updated in place, such as a KV cache pool). Both need the same type, the node producing
  // the output must be the last reader of the input (reading it there only as ScatterND's data,
  // whose copy is then skipped: only the scattered rows are written), and no node may read the
  // input after it; otherwise InputError naming the tensors (and the node).
  std::map<std::string, std::string> in_place;
  // Set: the quantize pass (passes/quantize.h) runs after the pipeline, storing constant matrix
  // product weights in the chosen formats. Unset: products keep f32 weights (matmul_precision).
  std::optional<passes::QuantizationOptions> quantization;
};

// An operator the code generator cannot lower (the op, or this use of it). The conformance run
// counts these as unsupported rather than failed.
class UnsupportedError : public InputError {
 public:
  UnsupportedError(std::string op, const std::string& message)
      : InputError(message), op_(std::move(op)) {}
  const std::string& op() const { return op_; }

 private:
  std::string op_;
};

enum class TensorRole : uint8_t { kInput, kOutput, kConstant, kIntermediate };

struct TensorSlot {
  std::string name;
  TensorRole role = TensorRole::kIntermediate;
  ir::TensorType type;  // fully known; a container type for CompiledModel::passed_through
  uint64_t hbm = 0;
  uint64_t bytes = 0;
  ir::HostTensorPtr data;  // constants; an input's default value (an initializer) if any
  // The element type callers bind or read, which the runtime converts to and from type.element:
  // f64 for a graph input or output that demote-f64 stores as f32; string for a graph input that
  // only Cast/CastLike read, parsed into their f32, or a graph output that a Cast/CastLike to
  // string makes, formatted from its f32 input (ONNX's Cast semantics; the chip holds no strings);
  // else type.element.
  ir::ElementType host_element = ir::ElementType::Undefined;
  // An input whose bytes no operator reads (CastLike's second operand gives only its element
  // type): the runtime checks the element type of its data and ignores the dims.
  bool unread = false;
};

struct OpRecord {
  std::string label;  // the node as messages name it
  std::string op;
  std::string mapping;  // what the lowering chose (kernels, tiling, split over cores)
  int barriers = 0;     // barriers the operator's code contains (the last one ends it); 0: an alias
                        // (Reshape and friends of an intermediate or input), which has no code
  InstructionCounts instructions;  // the operator's code, over every core
};

struct CompiledModel {
  std::string chip_name;
  std::string chip_config;  // the resolved chip config YAML the code was generated for
  std::string graph_name;
  isa::Program program;
  std::vector<TensorSlot> tensors;
  std::vector<size_t> inputs, outputs;  // indices into tensors, in the graph's order
  std::vector<OpRecord> ops;
  uint64_t hbm_bytes = 0;  // everything the program touches, scratch included
  // Output name -> input name whose HBM bytes it is stored over (CompileOptions::in_place): after
  // a run, the input holds the output's value.
  std::map<std::string, std::string> in_place;
  // Set: the quantize pass (passes/quantize.h) runs after the pipeline, storing constant matrix
  // product weights in the chosen formats. Unset: products keep f32 weights (matmul_precision).
  std::optional<passes::QuantizationOptions> quantization;
  // Output name -> input name: an Identity of a sequence or optional graph input (the chip holds
  // neither) as a graph output. The runtime passes the value through on the host; both slots have
  // the container type (ir::Container) and no HBM bytes.
  std::map<std::string, std::string> passed_through;
};

// Runs the passes, then lowers every node. Throws UnsupportedError for the first node that cannot
// be lowered (after checking that every op has a lowering at all, so the message can list every
// missing op), and InputError for graphs whose shapes are not fully known after inference or that
// do not fit the chip's HBM (with the numbers). Strings, sequences and optionals stay at the
// graph's boundary (TensorSlot::host_element, CompiledModel::passed_through): any other use of one
// is an UnsupportedError naming the tensor.
CompiledModel compile_graph(ir::Graph graph, const LoadedChip& chip,
                            const CompileOptions& options = {});

// Ops the code generator lowers (for docs and the conformance report).
std::vector<std::string> lowered_ops();

}  // namespace seedchip::compiler
