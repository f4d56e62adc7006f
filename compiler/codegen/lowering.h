#pragma once
// What an operator's lowering sees (OpContext) and the table of lowerings (lowering.cpp).
// A lowering appends kernels to the program for one node; the driver (compile.cpp) ends the node
// with a barrier. Lowerings express data movement as TensorViews and computation as stream
// kernels or GEMMs, and call unsupported() for any input they cannot handle.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arch/chip_config.h"
#include "compiler/codegen/compile.h"
#include "compiler/codegen/elementwise.h"
#include "compiler/codegen/program_builder.h"
#include "compiler/codegen/view.h"
#include "compiler/ir/graph.h"
#include "compiler/kernels/gemm.h"

namespace seedchip::compiler {

class OpContext {
 public:
  struct Hooks {
    std::function<TensorView(ir::ValueId)> view;  // the value's bytes in HBM
    std::function<int64_t(int64_t)> scratch;
    std::function<int64_t(ir::HostTensor)> add_constant;
  };
  OpContext(const ChipConfig& chip, const ir::Graph& graph, size_t index, ProgramBuilder& program,
            const CompileOptions& options, Hooks hooks)
      : chip(chip),
        graph(graph),
        node(graph.nodes.at(index)),
        index(index),
        program(program),
        options(options),
        hooks_(std::move(hooks)) {}

  const ChipConfig& chip;
  const ir::Graph& graph;
  const ir::Node& node;
  size_t index;
  ProgramBuilder& program;
  const CompileOptions& options;
  std::string mapping;  // appended to by the lowering: what it chose

  // Inputs and outputs by position; kNoValue for an omitted optional one (or beyond the list).
  ir::ValueId in(size_t i) const;
  ir::ValueId out(size_t i) const;
  size_t inputs() const { return node.inputs.size(); }
  const ir::TensorType& type(ir::ValueId v) const { return graph.value(v).type; }
  const std::vector<int64_t>& dims(ir::ValueId v) const { return *graph.value(v).type.dims; }
  // The constant behind a value, or nullptr.
  const ir::HostTensor* constant(ir::ValueId v) const;
  // A constant integer vector input (i64 or i32), e.g. Reshape's shape; unsupported() if the
  // input is not a constant.
  std::vector<int64_t> constant_ints(ir::ValueId v, const std::string& what) const;
  // Attributes with defaults.
  int64_t attr_int(const std::string& key, int64_t fallback) const;
  float attr_float(const std::string& key, float fallback) const;
  // An axis of a tensor of `rank` (negative counts from the end); unsupported() outside
  // [-rank, rank).
  size_t axis(int64_t axis, size_t rank) const;
  std::vector<int64_t> attr_ints(const std::string& key) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;

  // The dense view of a value's HBM buffer.
  TensorView view(ir::ValueId v) const;
  // HBM for this operator only.
  int64_t scratch(int64_t bytes) { return hooks_.scratch(bytes); }
  // HBM holding a tensor the program carries (written when the program is loaded).
  int64_t add_constant(ir::HostTensor t) { return hooks_.add_constant(std::move(t)); }
  // A scalar f32 constant, as a view broadcast to `dims`.
  TensorView scalar_view(float value, const std::vector<int64_t>& dims);

  // Ends a phase of this operator: every core waits until every core got here.
  void sync();
  int barriers() const { return barriers_; }
  void emit(const StreamKernel& kernel);

  [[noreturn]] void unsupported(const std::string& why) const;

 private:
  Hooks hooks_;
  int barriers_ = 0;
};

// The chip format computing a tensor type in the VPU (f32, f16, bf16), or nullopt (no VPU
// arithmetic for it). The VPU's plain i32 and i8 arithmetic saturates where ONNX wraps, so integer
// tensors only get vpu_ordering_type: for operators that compare, order or select values
// (Max, Min, Clip, comparisons, Where), which cannot overflow; integer arithmetic has its own
// lowering on the wrapping instructions (lower_elementwise.cpp).
std::optional<DataType> vpu_type(ir::ElementType t);
std::optional<DataType> vpu_ordering_type(ir::ElementType t);

using LowerFn = void (*)(OpContext&);
struct OpLowering {
  std::string_view op;
  LowerFn lower;
};

// The product of dims[from, to).
int64_t product_of(const std::vector<int64_t>& dims, size_t from, size_t to);

// Every lowering, explicitly listed (lowering.cpp); each lower_* below lives in the file
// named after its family.
const std::vector<OpLowering>& lowering_table();

// Kernels the lowerings share. emit_copy: src's elements, in row-major order of its dims, to dst's
// (same count). emit_fill: every element of dst set to one value (`element`, its bytes).
void emit_copy(OpContext& ctx, const TensorView& src, const TensorView& dst);
void emit_fill(OpContext& ctx, const TensorView& dst, std::vector<uint8_t> element);
// C (f32 m x n, row-major at HBM address c) = A x B, A an f32 view whose elements in row-major
// order are the m x k matrix, B one whose elements are the k x n matrix (lower_matmul.cpp).
void emit_matmul_2d(OpContext& ctx, const TensorView& a, int64_t m, int64_t k, const TensorView& b,
                    int64_t n, int64_t c);
// The same for `batches` pairs: A's elements are batches of m x k, B's of k x n, and C holds the
// batches of m x n one after the other.
void emit_matmul_batched(OpContext& ctx, const TensorView& a, const TensorView& b, int64_t batches,
                         int64_t m, int64_t k, int64_t n, int64_t c);

// lower_copy.cpp: data movement through views.
void lower_identity(OpContext&);
void lower_reshape(OpContext&);
void lower_transpose(OpContext&);
void lower_expand(OpContext&);
void lower_slice(OpContext&);
void lower_concat(OpContext&);
void lower_split(OpContext&);
void lower_gather(OpContext&);
void lower_tile(OpContext&);
void lower_depth_to_space(OpContext&);  // and SpaceToDepth
void lower_trilu(OpContext&);
void lower_pad(OpContext&);
void lower_constant_of_shape(OpContext&);
void lower_eye_like(OpContext&);
// lower_elementwise.cpp: VPU programs over broadcast views.
void lower_unary(OpContext&);
void lower_binary(OpContext&);
void lower_rotary_embedding(OpContext&);
void lower_swiglu(OpContext&);
void lower_variadic(OpContext&);
void lower_clip(OpContext&);
void lower_cast(OpContext&);
void lower_batchnorm(OpContext&);
void lower_compare(OpContext&);
void lower_logic(OpContext&);
void lower_classify(OpContext&);  // IsNaN, IsInf
void lower_where(OpContext&);
// lower_rows.cpp: row-wise kernels.
void lower_softmax(OpContext&);
void lower_hardmax(OpContext&);
void lower_reduce(OpContext&);
void lower_reduce_prod(OpContext&);
void lower_layernorm(OpContext&);
void lower_rms_norm(OpContext&);  // seedchip::RMSNormalization
void lower_instancenorm(OpContext&);
void lower_mvn(OpContext&);
void lower_lpnorm(OpContext&);
void lower_global_pool(OpContext&);
void lower_argmax(OpContext&);  // and ArgMin
// lower_index.cpp: run-time indices through dma.gather and dma.scatter.
void lower_gather_indexed(OpContext&);  // Gather whose indices are computed
void lower_gather_elements(OpContext&);
void lower_gather_nd(OpContext&);
void lower_scatter_nd(OpContext&);  // copy (skipped in place), then dma.scatter of the rows
void lower_one_hot(OpContext&);
void lower_nll_loss(OpContext&);
void lower_softmax_cross_entropy(OpContext&);
// lower_axis_matrix.cpp: a constant matrix along axes, on the MXU.
void lower_resize(OpContext&);
void lower_upsample(OpContext&);
void lower_cumsum(OpContext&);
// lower_einsum.cpp: Einsum as views, row sums and batched MXU products.
void lower_einsum(OpContext&);
// lower_matmul.cpp: the MXU.
// The BF16 parts of FP32 operands that a product in `precision` multiplies: pairs (part of A, part
// of B), laid side by side along K (part 0 is bf16(x), part 1 bf16 of the remainder, ...).
struct PartPair {
  int a, b;
};
std::vector<PartPair> part_pairs(MatmulPrecision precision);
void lower_matmul(OpContext&);
void lower_gemm(OpContext&);
void lower_fused_matmul(OpContext&);
// The in-place VPU steps of a fused node's "activation" attribute (none, relu, tanh, sigmoid),
// each the instruction the operator's own lowering runs; unsupported() for any other.
std::vector<GemmEpilogue::Step> activation_steps(OpContext&);
void lower_quantized_matmul(OpContext&);  // seedchip::QuantizedMatMul (passes/quantize.h)
// lower_attention.cpp: seedchip::Attention (passes/fuse.h) as one flash-attention kernel.
void lower_attention(OpContext&);
// lower_conv.cpp: convolution as im2col views into the MXU, pooling as row reductions.
void lower_conv(OpContext&);
void lower_conv_transpose(OpContext&);
void lower_pool(OpContext&);

}  // namespace seedchip::compiler
