#pragma once
// The quantize pass: matrix products with constant f32 weights (MatMul with a 2-D constant B,
// Gemm with a constant B, transA = 0, alpha = 1 and beta = 1) become one node of SeedChip's
// domain whose weights are stored in the chosen format:
//
//   seedchip::QuantizedMatMul(a, w_q[, w_scale]) {weights, activations}   y = a x dequant(w_q)
//
//   a        f32 [..., M, K], the activations, as the original node read them
//   w_q      [K, N]: bf16 (weights "bf16"), i8 (weights "int8") or u8 holding OCP FP8 E4M3 bits
//            (weights "fp8e4m3"; the IR has no FP8 element type)
//   w_scale  f32 [N] (per output channel) or [1] (per tensor); absent for bf16 weights
//   y        f32 [..., M, N]; a Gemm's bias C is added by an Add node after it
//
// A weight that is a graph input with an initializer (ONNX IR < 4 lists initializers as inputs)
// counts as a constant, as the f32 matmul lowering also splits it at compile time: a value bound
// to that input at run time is not read.
//
// Weights are quantized symmetrically: scale = max |w| / Q over the output channel (or the whole
// tensor), Q = 127 for INT8 and 448 (the largest finite E4M3) for FP8, a channel of zeros taking
// scale 1; w_q = w / scale rounded to nearest even (saturating), as the chip's vpu.cvt rounds.
//
// Activations (attribute `activations`) are quantized by the code generator on every run, per row
// (one token of an LLM): scale_r = max |a[r, :]| / Q + 1e-30 (the constant keeps a row of zeros
// finite: it quantizes to zeros), a_q = a / scale_r; the MXU then multiplies a_q with w_q (INT8 x
// INT8 with INT32 accumulation, or E4M3 x E4M3 with FP32 accumulation) and y = acc x scale_r x
// w_scale. The MXU multiplies two operands of one format, so 8-bit activations need weights in the
// same format; bf16 activations with 8-bit weights widen the weights to BF16 on the chip (exactly:
// every INT8 and E4M3 value is a BF16 value), which saves HBM capacity but not weight traffic.
#include <cstdint>
#include <string_view>

#include "compiler/ir/graph.h"
#include "compiler/passes/pass.h"

namespace seedchip::compiler::passes {

enum class QuantFormat : uint8_t { kBf16, kFp8E4m3, kInt8 };
enum class ScaleGranularity : uint8_t { kPerTensor, kPerOutputChannel };

// "bf16", "fp8" or "int8" (the command line's names).
std::string_view quant_format_name(QuantFormat f);
// Throws InputError naming the accepted values.
QuantFormat quant_format_from_name(std::string_view name);

struct QuantizationOptions {
  QuantFormat weights = QuantFormat::kBf16;
  QuantFormat activations = QuantFormat::kBf16;
  ScaleGranularity granularity = ScaleGranularity::kPerOutputChannel;  // of the weight scales
};

// Throws InputError when the MXU cannot run the combination (8-bit activations with weights in
// another format).
void check_quantization(const QuantizationOptions& options);

// Rewrites every product described above; returns how many. Runs after shape inference and
// constant folding (weights must be constants, types known). Throws as check_quantization.
int quantize(ir::Graph& graph, const QuantizationOptions& options);

// The pass as the pipeline runs it ("quantize"), bound to `options`. It is not in the default
// pipeline: compile_graph appends it when CompileOptions::quantization is set.
Pass quantize_pass(const QuantizationOptions& options);

}  // namespace seedchip::compiler::passes
