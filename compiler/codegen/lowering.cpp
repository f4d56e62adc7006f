#include "compiler/codegen/lowering.h"

#include <cstring>

namespace seedchip::compiler {

ir::ValueId OpContext::in(size_t i) const {
  return i < node.inputs.size() ? node.inputs[i] : ir::kNoValue;
}

ir::ValueId OpContext::out(size_t i) const {
  return i < node.outputs.size() ? node.outputs[i] : ir::kNoValue;
}

const ir::HostTensor* OpContext::constant(ir::ValueId v) const {
  if (v == ir::kNoValue) return nullptr;
  return graph.value(v).constant.get();
}

std::vector<int64_t> OpContext::constant_ints(ir::ValueId v, const std::string& what) const {
  const ir::HostTensor* t = constant(v);
  if (!t) unsupported(what + " is computed at run time; only a constant is supported");
  std::vector<int64_t> out;
  const int64_t n = t->element_count();
  for (int64_t i = 0; i < n; ++i) {
    if (t->element == ir::ElementType::I64) {
      int64_t x;
      std::memcpy(&x, t->bytes.data() + i * 8, 8);
      out.push_back(x);
    } else if (t->element == ir::ElementType::I32) {
      int32_t x;
      std::memcpy(&x, t->bytes.data() + i * 4, 4);
      out.push_back(x);
    } else {
      unsupported(what + " must be i32 or i64");
    }
  }
  return out;
}

int64_t OpContext::attr_int(const std::string& key, int64_t fallback) const {
  const int64_t* v = node.attribute<int64_t>(key);
  return v ? *v : fallback;
}

size_t OpContext::axis(int64_t axis, size_t rank) const {
  const auto r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    unsupported("axis " + std::to_string(axis) + " is outside [-" + std::to_string(r) + ", " +
                std::to_string(r) + ")");
  return static_cast<size_t>(axis < 0 ? axis + r : axis);
}

int64_t product_of(const std::vector<int64_t>& dims, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= dims[i];
  return p;
}

float OpContext::attr_float(const std::string& key, float fallback) const {
  const float* v = node.attribute<float>(key);
  return v ? *v : fallback;
}

std::vector<int64_t> OpContext::attr_ints(const std::string& key) const {
  const auto* v = node.attribute<std::vector<int64_t>>(key);
  return v ? *v : std::vector<int64_t>{};
}

std::string OpContext::attr_string(const std::string& key, const std::string& fallback) const {
  const std::string* v = node.attribute<std::string>(key);
  return v ? *v : fallback;
}

TensorView OpContext::view(ir::ValueId v) const { return hooks_.view(v); }

TensorView OpContext::scalar_view(float value, const std::vector<int64_t>& dims) {
  ir::HostTensor t;
  t.element = ir::ElementType::F32;
  t.bytes.resize(4);
  std::memcpy(t.bytes.data(), &value, 4);
  const int64_t at = add_constant(std::move(t));
  return TensorView{at, 4, dims, std::vector<int64_t>(dims.size(), 0)};
}

void OpContext::sync() {
  program.end_op();
  ++barriers_;
}

void OpContext::emit(const StreamKernel& kernel) { emit_stream(chip, program, kernel); }

void OpContext::unsupported(const std::string& why) const {
  throw UnsupportedError(node.op, "graph '" + graph.name + "': " + node.label(index) + ": " + why);
}

std::optional<DataType> vpu_type(ir::ElementType t) {
  switch (t) {
    case ir::ElementType::F32:
      return DataType::FP32;
    case ir::ElementType::F16:
      return DataType::FP16;
    case ir::ElementType::BF16:
      return DataType::BF16;
    default:
      return std::nullopt;
  }
}

std::optional<DataType> vpu_ordering_type(ir::ElementType t) {
  if (t == ir::ElementType::I32) return DataType::INT32;
  if (t == ir::ElementType::I8) return DataType::INT8;
  return vpu_type(t);
}

const std::vector<OpLowering>& lowering_table() {
  static const std::vector<OpLowering> table = {
      // Data movement.
      {"Identity", lower_identity},
      {"Dropout", lower_identity},
      {"Reshape", lower_reshape},
      {"Flatten", lower_reshape},
      {"Squeeze", lower_reshape},
      {"Unsqueeze", lower_reshape},
      {"Transpose", lower_transpose},
      {"Expand", lower_expand},
      {"Slice", lower_slice},
      {"Concat", lower_concat},
      {"Split", lower_split},
      {"Gather", lower_gather},
      {"Tile", lower_tile},
      {"DepthToSpace", lower_depth_to_space},
      {"SpaceToDepth", lower_depth_to_space},
      {"Trilu", lower_trilu},
      {"Pad", lower_pad},
      {"ConstantOfShape", lower_constant_of_shape},
      {"EyeLike", lower_eye_like},
      // Elementwise.
      {"Relu", lower_unary},
      {"Exp", lower_unary},
      {"Log", lower_unary},
      {"Sqrt", lower_unary},
      {"Reciprocal", lower_unary},
      {"Tanh", lower_unary},
      {"Neg", lower_unary},
      {"Abs", lower_unary},
      {"Sigmoid", lower_unary},
      {"Softplus", lower_unary},
      {"Softsign", lower_unary},
      {"LeakyRelu", lower_unary},
      {"Elu", lower_unary},
      {"Selu", lower_unary},
      {"Celu", lower_unary},
      {"HardSigmoid", lower_unary},
      {"HardSwish", lower_unary},
      {"Mish", lower_unary},
      {"Erf", lower_unary},
      {"Sin", lower_unary},
      {"Cos", lower_unary},
      {"Floor", lower_unary},
      {"Ceil", lower_unary},
      {"Round", lower_unary},
      {"Sign", lower_unary},
      {"Tan", lower_unary},
      {"Sinh", lower_unary},
      {"Cosh", lower_unary},
      {"Asin", lower_unary},
      {"Acos", lower_unary},
      {"Atan", lower_unary},
      {"Asinh", lower_unary},
      {"Acosh", lower_unary},
      {"Atanh", lower_unary},
      {"ThresholdedRelu", lower_unary},
      {"Shrink", lower_unary},
      {"IsNaN", lower_classify},
      {"IsInf", lower_classify},
      {"Equal", lower_compare},
      {"Less", lower_compare},
      {"LessOrEqual", lower_compare},
      {"Greater", lower_compare},
      {"GreaterOrEqual", lower_compare},
      {"And", lower_logic},
      {"Or", lower_logic},
      {"Xor", lower_logic},
      {"Not", lower_logic},
      {"Where", lower_where},
      {"Add", lower_binary},
      {"Sub", lower_binary},
      {"Mul", lower_binary},
      {"Div", lower_binary},
      {"Pow", lower_binary},
      {"PRelu", lower_binary},
      {"Mod", lower_binary},
      {"Max", lower_variadic},
      {"Min", lower_variadic},
      {"Sum", lower_variadic},
      {"Mean", lower_variadic},
      {"Clip", lower_clip},
      {"Cast", lower_cast},
      {"CastLike", lower_cast},
      {"BatchNormalization", lower_batchnorm},
      // Fused by the fuse pass.
      // Aliases without code, but a graph output or an in-place target needs its bytes stored.
      {"seedchip::TransposeView", lower_transpose},
      {"seedchip::RMSNormalization", lower_rms_norm},
      {"seedchip::Silu", lower_unary},
      {"seedchip::RotaryEmbedding", lower_rotary_embedding},
      {"seedchip::SwiGLU", lower_swiglu},
      // Written by the quantize pass.
      {"seedchip::QuantizedMatMul", lower_quantized_matmul},
      {"seedchip::Attention", lower_attention},
      // Row-wise.
      {"Softmax", lower_softmax},
      {"LogSoftmax", lower_softmax},
      {"Hardmax", lower_hardmax},
      {"ReduceSum", lower_reduce},
      {"ReduceMean", lower_reduce},
      {"ReduceMax", lower_reduce},
      {"ReduceMin", lower_reduce},
      {"ReduceSumSquare", lower_reduce},
      {"ReduceL1", lower_reduce},
      {"ReduceL2", lower_reduce},
      {"ReduceLogSum", lower_reduce},
      {"ReduceLogSumExp", lower_reduce},
      {"ReduceProd", lower_reduce_prod},
      {"LayerNormalization", lower_layernorm},
      {"InstanceNormalization", lower_instancenorm},
      {"MeanVarianceNormalization", lower_mvn},
      {"LpNormalization", lower_lpnorm},
      {"GlobalAveragePool", lower_global_pool},
      {"GlobalMaxPool", lower_global_pool},
      {"ArgMax", lower_argmax},
      {"ArgMin", lower_argmax},
      // Run-time indices.
      {"GatherElements", lower_gather_elements},
      {"GatherND", lower_gather_nd},
      {"ScatterND", lower_scatter_nd},
      {"OneHot", lower_one_hot},
      {"NegativeLogLikelihoodLoss", lower_nll_loss},
      {"SoftmaxCrossEntropyLoss", lower_softmax_cross_entropy},
      // Constant matrices along axes.
      {"Resize", lower_resize},
      {"Upsample", lower_upsample},
      {"CumSum", lower_cumsum},
      {"Einsum", lower_einsum},
      // MXU.
      {"MatMul", lower_matmul},
      {"Gemm", lower_gemm},
      {"seedchip::FusedMatMul", lower_fused_matmul},
      {"Conv", lower_conv},
      {"seedchip::FusedConv", lower_conv},
      {"ConvTranspose", lower_conv_transpose},
      {"MaxPool", lower_pool},
      {"AveragePool", lower_pool},
  };
  return table;
}

}  // namespace seedchip::compiler
