// Matrix products on the MXU. FP32 operands are split on the VPU into sums of BF16 parts (see
// MatmulPrecision); the partial products are laid side by side along K, so one BF16 GEMM with
// K' = pairs x K accumulates all of them in FP32:
//   A' = [A_i(0) | A_i(1) | ...]  (M x K'),   B' = [B_j(0) ; B_j(1) ; ...]  (K' x N)
// where pair p multiplies part i(p) of A with part j(p) of B. B' stays row-major and the GEMM
// kernel reads its weight tiles with 2D DMAs. A constant B (weights) is split at compile time, so a
// program that runs many times (an LLM decode step) does not split its weights on every run. A
// dense BF16 B (weights or a KV cache stored in BF16) is the GEMM's B as it is, in bf16 precision:
// its products with A's first BF16 part are then the whole product. A MatMul whose attribute
// b_layout is "mxu_tiles" (a SeedChip extension) reads a BF16 graph input B that the caller has
// stored in the GEMM's tile-major layout (pack_gemm_weights): each weight tile is then one
// contiguous DMA, which streams HBM rows instead of touching one DRAM row per tile row. The
// layout applies when K and N are whole tiles; otherwise B is read row-major.
#include <algorithm>
#include <cstring>
#include <optional>

#include "compiler/codegen/lowering.h"
#include "compiler/kernels/gemm.h"
#include "sim/numerics/numerics.h"

namespace seedchip::compiler {

namespace {

using isa::Opcode;

// A in FP32 is read in place (GemmLayout::a_fp32) when a core's rows of it are at most this
// fraction of the weight bytes the core streams.
constexpr int64_t kAFp32WeightRatio = 8;

int parts_for(MatmulPrecision p) {
  return p == MatmulPrecision::kBf16 ? 1 : p == MatmulPrecision::kBf16x3 ? 2 : 3;
}

// Splits `src` (f32; its elements in row-major order are `batches` matrices of rows x cols) into
// BF16 parts and stores part i into every pair slot that uses it. A' (`for_a`) is laid out
// [batches x rows, pairs, cols]: each row holds its pairs side by side along K. B' is
// [batches, pairs, rows, cols]: the pairs stacked along K.
void emit_split(OpContext& ctx, const TensorView& src, int64_t batches, int64_t rows, int64_t cols,
                int64_t dst, int parts, const std::vector<PartPair>& pairs, bool for_a) {
  StreamKernel k;
  k.rows = src.element_count();
  k.slots = {{4, SlotShape::kWide}};
  k.loads = {{0, src}};
  auto add = [&](int64_t bytes) {
    k.slots.push_back({bytes, SlotShape::kWide});
    return static_cast<int>(k.slots.size()) - 1;
  };
  std::vector<int> part_slot;
  int rest = 0;  // f32 remainder still to represent
  for (int i = 0; i < parts; ++i) {
    const int bf = add(2);
    k.steps.push_back({Opcode::VPU_CVT, bf, rest, -1, 0, DataType::FP32, DataType::BF16});
    part_slot.push_back(bf);
    if (i + 1 < parts) {
      const int back = add(4);
      k.steps.push_back({Opcode::VPU_CVT, back, bf, -1, 0, DataType::BF16, DataType::FP32});
      const int next = add(4);
      k.steps.push_back({Opcode::VPU_SUB, next, rest, back, 0, DataType::FP32, DataType::FP32});
      rest = next;
    }
  }
  const auto npairs = static_cast<int64_t>(pairs.size());
  const TensorView all = for_a ? TensorView::contiguous(dst, 2, {batches * rows, npairs, cols})
                               : TensorView::contiguous(dst, 2, {batches, npairs, rows, cols});
  for (size_t p = 0; p < pairs.size(); ++p) {
    const int part = for_a ? pairs[p].a : pairs[p].b;
    k.stores.push_back(
        {part_slot[static_cast<size_t>(part)], all.sliced(1, static_cast<int64_t>(p), 1, 1)});
  }
  ctx.emit(k);
}

// B when it is a constant (weights): its values, and the HBM address its dense buffer starts at
// (the view B is read through addresses that buffer).
struct ConstantOperand {
  const ir::HostTensor* data = nullptr;
  int64_t base = 0;
};

// The split of a constant B, done at compile time in the layout and the arithmetic of emit_split
// (round to nearest even, subtract in FP32), so that weights are not re-split on every run.
int64_t split_on_host(OpContext& ctx, const TensorView& src, const ConstantOperand& b,
                      int64_t batches, int64_t rows, int64_t cols, int parts,
                      const std::vector<PartPair>& pairs) {
  const int64_t count = src.element_count();
  const auto available = static_cast<int64_t>(b.data->bytes.size() / 4);
  std::vector<std::vector<uint16_t>> part(static_cast<size_t>(parts),
                                          std::vector<uint16_t>(static_cast<size_t>(count)));
  std::vector<int64_t> index(src.dims.size(), 0);
  for (int64_t e = 0; e < count; ++e) {
    int64_t at = (src.base - b.base) / 4;
    for (size_t d = 0; d < index.size(); ++d) at += index[d] * src.strides[d];
    if (at < 0 || at >= available)
      throw std::logic_error("split_on_host: the view leaves its constant");
    float rest;
    std::memcpy(&rest, b.data->bytes.data() + at * 4, 4);
    for (int i = 0; i < parts; ++i) {
      const uint16_t bf = numerics::fp32_to_bf16(rest);
      part[static_cast<size_t>(i)][static_cast<size_t>(e)] = bf;
      rest -= numerics::bf16_to_fp32(bf);
    }
    for (size_t d = index.size(); d-- > 0;) {
      if (++index[d] < src.dims[d]) break;
      index[d] = 0;
    }
  }
  // [batches, pairs, rows, cols], as emit_split lays out B'.
  ir::HostTensor split;
  split.element = ir::ElementType::BF16;
  const auto npairs = static_cast<int64_t>(pairs.size());
  split.dims = {batches, npairs, rows, cols};
  split.bytes.resize(static_cast<size_t>(batches * npairs * rows * cols) * 2);
  const int64_t matrix = rows * cols;
  for (int64_t q = 0; q < batches; ++q)
    for (int64_t p = 0; p < npairs; ++p)
      std::memcpy(split.bytes.data() + ((q * npairs + p) * matrix) * 2,
                  part[static_cast<size_t>(pairs[static_cast<size_t>(p)].b)].data() + q * matrix,
                  static_cast<size_t>(matrix) * 2);
  return ctx.add_constant(std::move(split));
}

// Row-major strides of `dims` in elements.
std::vector<int64_t> strides_of(const std::vector<int64_t>& dims) {
  return TensorView::contiguous(0, 1, dims).strides;
}

// The flat index, in `own` (right-aligned to `out`, size-1 dims broadcast), of batch index q.
int64_t broadcast_index(int64_t q, const std::vector<int64_t>& out,
                        const std::vector<int64_t>& own) {
  const std::vector<int64_t> own_strides = strides_of(own);
  int64_t idx = 0;
  for (size_t d = out.size(); d-- > 0;) {
    const int64_t i = q % out[d];
    q /= out[d];
    const size_t lead = out.size() - own.size();
    if (d >= lead && own[d - lead] != 1) idx += i * own_strides[d - lead];
  }
  return idx;
}

// The shape of a (batched) product: batch dims of A, B and the result (numpy broadcasting), and
// the matrices' m, k, n.
struct ProductShape {
  std::vector<int64_t> batch_a, batch_b, batch_out;
  int64_t m = 0, k = 0, n = 0;
};

int64_t count_of(const std::vector<int64_t>& dims) {
  int64_t c = 1;
  for (int64_t d : dims) c *= d;
  return c;
}

// One product as `splits` GEMMs over consecutive K slices (plan_k_splits), slice s on cores
// [s G, (s + 1) G) with G = cores / splits, each writing its partial C to scratch; then the
// partials are summed on the VPU into `out` (in the accumulator's format). A' and B' are as
// emit_product lays them out, or row-major in shape.type (quantized products).
void emit_split_k(OpContext& ctx, const GemmShape& shape, int64_t splits, int64_t a, int64_t b,
                  bool b_in_tiles, int64_t out, bool a_fp32, const GemmEpilogue* epilogue) {
  const int64_t m = shape.m, n = shape.n, k = shape.k / splits;
  const int64_t group = ctx.chip.core_count() / splits;
  ChipConfig group_chip = ctx.chip;
  group_chip.core.mesh_x = group;
  group_chip.core.mesh_y = 1;
  const GemmShape slice{m, n, k, shape.type};
  const GemmPlan plan = plan_gemm(group_chip, slice);
  const bool tiles = b_in_tiles && shape.k % plan.tile_k == 0 && n % plan.tile_n == 0;
  const int64_t partial_bytes = m * n * 4;
  const int64_t partials = ctx.scratch(splits * partial_bytes);
  std::vector<Emitter>& emitters = ctx.program.emitters();
  for (int64_t s = 0; s < splits; ++s) {
    GemmLayout layout;
    const int64_t operand_bytes = dtype_bytes(shape.type);
    const int64_t a_bytes = a_fp32 ? 4 : operand_bytes;
    layout.a = static_cast<uint64_t>(a + s * k * a_bytes);
    layout.a_row_pitch = static_cast<uint64_t>(shape.k * a_bytes);
    layout.a_fp32 = a_fp32;
    if (tiles) {
      layout.b = static_cast<uint64_t>(b + s * (k / plan.tile_k) * plan.tile_k * plan.tile_n *
                                               operand_bytes);
      layout.b_column_tiles = shape.k / plan.tile_k;
    } else {
      layout.b = static_cast<uint64_t>(b + s * k * n * operand_bytes);
      layout.b_row_pitch = static_cast<uint64_t>(n * operand_bytes);
    }
    layout.c = static_cast<uint64_t>(partials + s * partial_bytes);
    // The emitters remember the registers they set: the copies' state goes back with the code.
    const auto first = emitters.begin() + s * group;
    std::vector<Emitter> cores(first, first + group);
    emit_gemm(group_chip, slice, plan, layout, cores);
    std::copy(cores.begin(), cores.end(), first);
  }
  ctx.sync();
  // The sum runs the epilogue on its way out: the bias as a row of the rows of C.
  const bool bias = epilogue && epilogue->bias;
  StreamKernel sum;
  sum.rows = bias ? m : m * n;
  sum.width = bias ? n : 1;
  const std::vector<int64_t> dims = bias ? std::vector<int64_t>{m, n} : std::vector<int64_t>{m * n};
  for (int64_t s = 0; s < splits; ++s) {
    sum.slots.push_back({4, SlotShape::kWide});
    sum.loads.push_back(
        {static_cast<int>(s), TensorView::contiguous(partials + s * partial_bytes, 4, dims)});
    if (s > 0)
      sum.steps.push_back(
          {Opcode::VPU_ADD, 0, 0, static_cast<int>(s), 0, gemm_accumulator(shape.type)});
  }
  if (bias) {
    sum.slots.push_back({4, SlotShape::kRow});
    const int row = static_cast<int>(sum.slots.size()) - 1;
    sum.loads.push_back(
        {row, TensorView::contiguous(static_cast<int64_t>(*epilogue->bias), 4, {n})});
    sum.steps.push_back({Opcode::VPU_ADDB, 0, 0, row});
  }
  if (epilogue)
    for (const GemmEpilogue::Step& a : epilogue->activation)
      sum.steps.push_back({a.op, 0, 0, -1, a.c});
  sum.stores = {{0, TensorView::contiguous(out, 4, dims)}};
  ctx.emit(sum);
}

// out (f32, row-major [batch_out..., m, n] at `out`) = A x B, where A's and B's elements in
// row-major order are their batches of m x k and k x n matrices.
void emit_product(OpContext& ctx, const TensorView& a, const TensorView& b, int64_t out,
                  const ProductShape& s, const ConstantOperand& b_constant = {},
                  bool b_is_bf16 = false, bool b_in_tiles = false,
                  const GemmEpilogue* epilogue = nullptr) {
  const int64_t batches = count_of(s.batch_out), count_a = count_of(s.batch_a),
                count_b = count_of(s.batch_b);
  const int64_t m = s.m, k = s.k, n = s.n;
  if (m == 0 || n == 0 || batches == 0) return;
  if (k == 0) ctx.unsupported("a matrix product with K = 0");
  const MatmulPrecision precision = ctx.options.matmul_precision;
  const std::vector<PartPair> pairs = part_pairs(precision);
  const auto npairs = static_cast<int64_t>(pairs.size());
  const int64_t kk = npairs * k;
  const GemmShape shape{m, n, kk, DataType::BF16, epilogue != nullptr};
  const int64_t cores = ctx.chip.core_count();
  const bool one_per_core = batches >= cores && cores > 1;
  const int64_t splits =
      batches == 1 && !one_per_core ? plan_k_splits(ctx.chip, shape) : int64_t{1};
  // A dense FP32 A of one product in BF16 precision is read as it is: each core converts its rows
  // in SRAM (GemmLayout::a_fp32), where a separate pass would write a BF16 copy to HBM and end at a
  // barrier. This is the decode step's case (a few rows of activations against streamed weights).
  bool a_fp32 = false;
  if (npairs == 1 && batches == 1 && count_a == 1 && a.element_bytes == 4 && a.is_contiguous()) {
    ChipConfig group_chip = ctx.chip;
    group_chip.core.mesh_x = cores / splits;
    group_chip.core.mesh_y = 1;
    // Split-K slices leave the epilogue to the sum of their partials.
    const GemmShape slice{m, n, kk / splits, DataType::BF16, epilogue != nullptr && splits == 1};
    const ChipConfig& chip = splits > 1 ? group_chip : ctx.chip;
    const GemmPlan plan = plan_gemm(chip, slice);
    // Only where A is small beside the weights a core streams: each core then reads its rows of
    // A in FP32 (twice the bytes of the BF16 copy) and its first product waits for all of them.
    a_fp32 = plan.block_m * slice.k * 4 * kAFp32WeightRatio <= plan.block_n * slice.k * 2 &&
             gemm_a_fp32_fits(chip, slice, plan);
  }
  int64_t a_split = a.base;
  if (!a_fp32) {
    a_split = ctx.scratch(count_a * m * kk * 2);
    emit_split(ctx, a, count_a, m, k, a_split, parts_for(precision), pairs, true);
  }
  int64_t b_split = 0;
  if (b_is_bf16) {
    b_split = b.base;
  } else if (b_constant.data) {
    b_split = split_on_host(ctx, b, b_constant, count_b, k, n, parts_for(precision), pairs);
  } else {
    b_split = ctx.scratch(count_b * kk * n * 2);
    emit_split(ctx, b, count_b, k, n, b_split, parts_for(precision), pairs, false);
  }
  if (!a_fp32 || !(b_is_bf16 || b_constant.data)) ctx.sync();
  // With at least one product per core, each core takes whole products (batch q on core
  // q mod cores, planned as on a one-core chip), so small products (attention over a KV cache)
  // run side by side instead of one after another across all cores.
  if (batches == 1 && !one_per_core) {
    if (splits > 1) {
      emit_split_k(ctx, shape, splits, a_split, b_split, b_in_tiles, out, a_fp32, epilogue);
      ctx.mapping += (ctx.mapping.empty() ? "" : "; ") + std::string("split-K ") +
                     std::to_string(splits) + " x GEMM " + std::to_string(m) + "x" +
                     std::to_string(n) + "x" + std::to_string(k / splits) + " in " +
                     std::string(precision_name(precision)) + ", partials summed on the VPU" +
                     (a_fp32 ? ", A converted in SRAM" : "");
      return;
    }
  }
  ChipConfig one_core = ctx.chip;
  one_core.core.mesh_x = one_core.core.mesh_y = 1;
  const GemmPlan plan = plan_gemm(one_per_core ? one_core : ctx.chip, shape);
  for (int64_t q = 0; q < batches; ++q) {
    GemmLayout layout;
    layout.a =
        static_cast<uint64_t>(a_split + broadcast_index(q, s.batch_out, s.batch_a) * m * kk * 2);
    layout.b =
        static_cast<uint64_t>(b_split + broadcast_index(q, s.batch_out, s.batch_b) * kk * n * 2);
    layout.c = static_cast<uint64_t>(out + q * m * n * 4);
    const bool whole_tiles = kk % plan.tile_k == 0 && n % plan.tile_n == 0;
    layout.b_row_pitch = b_in_tiles && whole_tiles ? 0 : static_cast<uint64_t>(n * 2);
    layout.a_fp32 = a_fp32;
    if (one_per_core) {
      // The emitter remembers the registers it set: its copy's state goes back with the code.
      Emitter& own = ctx.program.emitters()[static_cast<size_t>(q % cores)];
      std::vector<Emitter> core{own};
      emit_gemm(one_core, shape, plan, layout, core, epilogue);
      own = core.front();
    } else {
      emit_gemm(ctx.chip, shape, plan, layout, ctx.program.emitters(), epilogue);
    }
  }
  ctx.mapping +=
      (ctx.mapping.empty() ? "" : "; ") + std::to_string(batches) + " x GEMM " + std::to_string(m) +
      "x" + std::to_string(n) + "x" + std::to_string(k) + " in " +
      std::string(precision_name(precision)) + " (" +
      (one_per_core ? "one product per core: " : "") + plan.describe() +
      (b_in_tiles && kk % plan.tile_k == 0 && n % plan.tile_n == 0 ? ", B in MXU tiles" : "") +
      (a_fp32 ? ", A converted in SRAM" : "") + ")";
}

// out (f32 view [batch..., M, N]) = A (f32 view [batchA..., M, K]) x B (f32 view [batchB..., K,
// N]).
void emit_matmul(OpContext& ctx, const TensorView& a, const TensorView& b, const TensorView& out,
                 const ConstantOperand& b_constant, bool b_is_bf16 = false, bool b_in_tiles = false,
                 const GemmEpilogue* epilogue = nullptr) {
  const size_t ra = a.dims.size(), rb = b.dims.size();
  ProductShape s;
  s.m = a.dims[ra - 2];
  s.k = a.dims[ra - 1];
  s.n = b.dims[rb - 1];
  s.batch_a.assign(a.dims.begin(), a.dims.end() - 2);
  s.batch_b.assign(b.dims.begin(), b.dims.end() - 2);
  s.batch_out.assign(out.dims.begin(), out.dims.end() - 2);
  emit_product(ctx, a, b, out.base, s, b_constant, b_is_bf16, b_in_tiles, epilogue);
}

// Input 1 as a ConstantOperand when it is a constant, so its split happens at compile time.
ConstantOperand constant_b(OpContext& ctx) {
  const ir::HostTensor* data = ctx.constant(ctx.in(1));
  if (!data || data->element != ir::ElementType::F32) return {};
  return {data, ctx.view(ctx.in(1)).base};
}

// f32 operands; B may also be BF16 where `bf16_b_allowed` (MatMul).
void require_f32(OpContext& ctx, bool bf16_b_allowed = false) {
  for (size_t i = 0; i < ctx.inputs(); ++i) {
    if (ctx.in(i) == ir::kNoValue) continue;
    const ir::ElementType e = ctx.type(ctx.in(i)).element;
    if (e != ir::ElementType::F32 && !(i == 1 && bf16_b_allowed && e == ir::ElementType::BF16))
      ctx.unsupported("matrix products are lowered for f32 operands (and MatMul's B in bf16)");
  }
}

// B in BF16 is used in place: it must be dense ([batch..., K, N] row-major) and the precision
// bf16, whose one pair multiplies A's first part with B.
bool bf16_b(OpContext& ctx, const TensorView& b) {
  if (ctx.type(ctx.in(1)).element != ir::ElementType::BF16) return false;
  if (ctx.options.matmul_precision != MatmulPrecision::kBf16)
    ctx.unsupported("a bf16 B operand needs --matmul-precision bf16");
  if (!b.is_contiguous()) ctx.unsupported("a bf16 B operand that is not dense row-major");
  return true;
}

}  // namespace

std::vector<PartPair> part_pairs(MatmulPrecision p) {
  switch (p) {
    case MatmulPrecision::kBf16:
      return {{0, 0}};
    case MatmulPrecision::kBf16x3:
      return {{0, 0}, {0, 1}, {1, 0}};
    case MatmulPrecision::kBf16x6:
      return {{0, 0}, {0, 1}, {1, 0}, {0, 2}, {1, 1}, {2, 0}};
  }
  return {};
}

void emit_matmul_2d(OpContext& ctx, const TensorView& a, int64_t m, int64_t k, const TensorView& b,
                    int64_t n, int64_t c) {
  emit_matmul_batched(ctx, a, b, 1, m, k, n, c);
}

void emit_matmul_batched(OpContext& ctx, const TensorView& a, const TensorView& b, int64_t batches,
                         int64_t m, int64_t k, int64_t n, int64_t c) {
  ProductShape s;
  s.m = m;
  s.k = k;
  s.n = n;
  s.batch_a = s.batch_b = s.batch_out = {batches};
  emit_product(ctx, a, b, c, s);
}

namespace {

// MatMul, or seedchip::FusedMatMul with its B transposed by `transB` and its epilogue.
void lower_product(OpContext& ctx, const GemmEpilogue* epilogue) {
  require_f32(ctx, true);
  TensorView a = ctx.view(ctx.in(0)), b = ctx.view(ctx.in(1));
  if (ctx.attr_int("transB", 0)) b = b.permuted({1, 0});
  if (a.dims.size() == 1) a = a.reshaped({1, a.dims[0]});
  if (b.dims.size() == 1) b = b.reshaped({b.dims[0], 1});
  const bool b_is_bf16 = bf16_b(ctx, b);
  const std::string b_layout = ctx.attr_string("b_layout", "row_major");
  if (b_layout != "row_major" && b_layout != "mxu_tiles")
    ctx.unsupported("b_layout '" + b_layout + "' (expected row_major or mxu_tiles)");
  const auto& graph_inputs = ctx.graph.inputs;
  const bool b_is_input =
      std::find(graph_inputs.begin(), graph_inputs.end(), ctx.in(1)) != graph_inputs.end();
  if (b_layout == "mxu_tiles" && (!b_is_bf16 || !b_is_input))
    ctx.unsupported("b_layout mxu_tiles for a B that is not a bf16 graph input");
  // The output with the 1-D promotions put back: [batch..., M, N].
  std::vector<int64_t> batch;
  const size_t ra = a.dims.size(), rb = b.dims.size(), r = std::max(ra, rb);
  for (size_t d = 0; d + 2 < r; ++d) {
    const int64_t da = d + ra >= r ? a.dims[d + ra - r] : 1;
    const int64_t db = d + rb >= r ? b.dims[d + rb - r] : 1;
    batch.push_back(std::max(da, db));
  }
  std::vector<int64_t> out_dims = batch;
  out_dims.push_back(a.dims[ra - 2]);
  out_dims.push_back(b.dims[rb - 1]);
  emit_matmul(ctx, a, b, ctx.view(ctx.out(0)).reshaped(out_dims),
              b_is_bf16 ? ConstantOperand{} : constant_b(ctx), b_is_bf16, b_layout == "mxu_tiles",
              epilogue);
  if (epilogue) ctx.mapping += ", bias and activation on C in SRAM";
}

}  // namespace

void lower_matmul(OpContext& ctx) { lower_product(ctx, nullptr); }

std::vector<GemmEpilogue::Step> activation_steps(OpContext& ctx) {
  const std::string name = ctx.attr_string("activation", "none");
  if (name == "none") return {};
  if (name == "relu") return {{Opcode::VPU_RELU}};
  if (name == "tanh") return {{Opcode::VPU_TANH}};
  if (name == "sigmoid")  // as lower_unary's Sigmoid: 1 / (1 + exp(-x))
    return {{Opcode::VPU_MULS, -1}, {Opcode::VPU_EXP}, {Opcode::VPU_ADDS, 1}, {Opcode::VPU_RECIP}};
  ctx.unsupported("activation '" + name + "' (expected none, relu, tanh or sigmoid)");
}

void lower_fused_matmul(OpContext& ctx) {
  GemmEpilogue epilogue;
  epilogue.activation = activation_steps(ctx);
  if (ctx.inputs() > 2 && ctx.in(2) != ir::kNoValue) {
    const TensorView bias = ctx.view(ctx.in(2));
    const std::vector<int64_t>& out = ctx.dims(ctx.out(0));
    if (ctx.type(ctx.in(2)).element != ir::ElementType::F32 || !bias.is_contiguous() ||
        out.empty() || bias.element_count() != out.back() ||
        ctx.dims(ctx.in(2)).back() != out.back())
      ctx.unsupported("a bias that is not a dense f32 row of the product's columns");
    epilogue.bias = static_cast<uint64_t>(bias.base);
  }
  lower_product(ctx, &epilogue);
}

void lower_gemm(OpContext& ctx) {
  require_f32(ctx);
  TensorView a = ctx.view(ctx.in(0)), b = ctx.view(ctx.in(1));
  if (ctx.attr_int("transA", 0)) a = a.permuted({1, 0});
  if (ctx.attr_int("transB", 0)) b = b.permuted({1, 0});
  const TensorView y = ctx.view(ctx.out(0));
  emit_matmul(ctx, a, b, y, constant_b(ctx));
  const float alpha = ctx.attr_float("alpha", 1.0f), beta = ctx.attr_float("beta", 1.0f);
  const bool with_c = ctx.in(2) != ir::kNoValue && beta != 0;
  if (alpha == 1 && !with_c) return;
  ctx.sync();
  // Y = alpha Y + beta C, in place: each chunk is loaded before it is stored.
  StreamKernel k;
  k.rows = y.element_count();
  k.slots = {{4, SlotShape::kWide}, {4, SlotShape::kWide}};
  k.loads = {{0, y}};
  k.steps = {{Opcode::VPU_MULS, 1, 0, -1, alpha}};
  if (with_c) {
    k.slots.push_back({4, SlotShape::kWide});
    k.slots.push_back({4, SlotShape::kWide});
    k.loads.push_back({2, ctx.view(ctx.in(2)).broadcast_to(y.dims)});
    k.steps.push_back({Opcode::VPU_MULS, 3, 2, -1, beta});
    k.steps.push_back({Opcode::VPU_ADD, 1, 1, 3});
  }
  k.stores = {{1, y}};
  ctx.emit(k);
  ctx.mapping += ", then alpha/beta on the VPU";
}

namespace {

// The format named by a seedchip::QuantizedMatMul attribute (passes/quantize.h).
DataType quantized_format(OpContext& ctx, const std::string& key) {
  const std::string name = ctx.attr_string(key, "bf16");
  const std::optional<DataType> t = dtype_from_name(name);
  if (!t || (*t != DataType::BF16 && *t != DataType::FP8_E4M3 && *t != DataType::INT8))
    ctx.unsupported(key + " '" + name + "' (expected bf16, fp8e4m3 or int8)");
  return *t;
}

// The largest magnitude of a quantized activation (passes/quantize.h's Q).
float largest_code(DataType t) { return t == DataType::INT8 ? 127.0f : 448.0f; }

// Each row of `a` (f32 [rows, k]) to `type` at `a_q` ([rows, k] dense). 8-bit formats are
// scaled per row first: scale = max |row| / Q + 1e-30 goes to `scale` (f32 [rows]) and the row
// is multiplied by 1 / scale before the saturating conversion.
void emit_quantize_rows(OpContext& ctx, const TensorView& a, int64_t rows, int64_t k, DataType type,
                        int64_t a_q, int64_t scale) {
  StreamKernel q;
  q.rows = rows;
  q.width = k;
  q.loads = {{0, a}};
  q.slots = {{4, SlotShape::kWide}};
  if (type == DataType::BF16) {
    q.slots.push_back({2, SlotShape::kWide});
    q.steps = {{Opcode::VPU_CVT, 1, 0, -1, 0, DataType::FP32, DataType::BF16}};
    q.stores = {{1, TensorView::contiguous(a_q, 2, {rows, k})}};
    ctx.emit(q);
    return;
  }
  q.slots.insert(q.slots.end(), {{4, SlotShape::kWide},
                                 {4, SlotShape::kWide},
                                 {4, SlotShape::kNarrow},
                                 {4, SlotShape::kNarrow},
                                 {4, SlotShape::kNarrow},
                                 {4, SlotShape::kWide},
                                 {1, SlotShape::kWide}});
  q.steps = {{Opcode::VPU_MULS, 1, 0, -1, -1.0f},
             {Opcode::VPU_MAX, 2, 0, 1},
             {Opcode::VPU_RMAX, 3, 2},
             {Opcode::VPU_MULS, 4, 3, -1, 1.0f / largest_code(type)},
             {Opcode::VPU_ADDS, 4, 4, -1, 1e-30f},
             {Opcode::VPU_RECIP, 5, 4},
             {Opcode::VPU_MULC, 6, 0, 5},
             {Opcode::VPU_CVT, 7, 6, -1, 0, DataType::FP32, type}};
  q.stores = {{7, TensorView::contiguous(a_q, 1, {rows, k})},
              {4, TensorView::contiguous(scale, 4, {rows})}};
  ctx.emit(q);
}

}  // namespace

// seedchip::QuantizedMatMul(a, w_q[, w_scale]) {weights, activations} (passes/quantize.h): the
// activations quantized per row, one GEMM in the operand format (INT8 accumulates in INT32,
// E4M3 and BF16 in FP32), then the accumulator scaled by the row and weight scales.
void lower_quantized_matmul(OpContext& ctx) {
  const DataType weights = quantized_format(ctx, "weights");
  const DataType operand = quantized_format(ctx, "activations");
  if (operand != DataType::BF16 && operand != weights)
    ctx.unsupported("activations in " + std::string(dtype_name(operand)) + " with weights in " +
                    std::string(dtype_name(weights)) + " (the MXU multiplies one format)");
  const ir::HostTensor* w = ctx.constant(ctx.in(1));
  if (!w || w->dims.size() != 2) ctx.unsupported("weights that are not a 2-D constant");
  if (ctx.type(ctx.in(0)).element != ir::ElementType::F32 || ctx.dims(ctx.in(0)).size() < 2)
    ctx.unsupported("activations that are not f32 of rank 2 or more");
  const int64_t k = w->dims[0], n = w->dims[1];
  const int64_t rows = ctx.type(ctx.in(0)).element_count() / k;
  const TensorView a = ctx.view(ctx.in(0)).reshaped({rows, k});
  const bool scaled = weights != DataType::BF16;
  if (scaled != (ctx.in(2) != ir::kNoValue))
    ctx.unsupported("8-bit weights need a scale input, bf16 weights none");
  const int64_t operand_bytes = dtype_bytes(operand);
  const int64_t a_q = ctx.scratch(rows * k * operand_bytes);
  const int64_t a_scale = operand == DataType::BF16 ? 0 : ctx.scratch(rows * 4);
  emit_quantize_rows(ctx, a, rows, k, operand, a_q, a_scale);
  int64_t b = ctx.view(ctx.in(1)).base;
  if (weights != operand) {
    // 8-bit weights under bf16 activations: widened to BF16 (exact), unscaled; the weight scale
    // is applied to the product below.
    const int64_t widened = ctx.scratch(k * n * 2);
    StreamKernel widen;
    widen.rows = k * n;
    widen.slots = {{1, SlotShape::kWide}, {2, SlotShape::kWide}};
    widen.loads = {{0, TensorView::contiguous(b, 1, {k * n})}};
    widen.steps = {{Opcode::VPU_CVT, 1, 0, -1, 0, weights, DataType::BF16}};
    widen.stores = {{1, TensorView::contiguous(widened, 2, {k * n})}};
    ctx.emit(widen);
    b = widened;
  }
  ctx.sync();
  const TensorView y = ctx.view(ctx.out(0)).reshaped({rows, n});
  const DataType accumulator = gemm_accumulator(operand);
  const int64_t c = scaled ? ctx.scratch(rows * n * 4) : y.base;
  const GemmShape shape{rows, n, k, operand};
  const int64_t splits = plan_k_splits(ctx.chip, shape);
  const std::string product = "GEMM " + std::to_string(rows) + "x" + std::to_string(n) + "x" +
                              std::to_string(k) + " in " + std::string(dtype_name(operand)) +
                              " (weights stored in " + std::string(dtype_name(weights)) + ")";
  if (splits > 1) {
    emit_split_k(ctx, shape, splits, a_q, b, false, c, false, nullptr);
    ctx.mapping = "split-K " + std::to_string(splits) + " x " + product;
  } else {
    const GemmPlan plan = plan_gemm(ctx.chip, shape);
    GemmLayout layout;
    layout.a = static_cast<uint64_t>(a_q);
    layout.b = static_cast<uint64_t>(b);
    layout.c = static_cast<uint64_t>(c);
    layout.b_row_pitch = static_cast<uint64_t>(n * operand_bytes);
    emit_gemm(ctx.chip, shape, plan, layout, ctx.program.emitters());
    ctx.mapping = product + " (" + plan.describe() + ")";
  }
  if (!scaled) return;
  ctx.sync();
  // y = acc x row scale x weight scale (per output channel, or one per tensor).
  StreamKernel dequant;
  dequant.rows = rows;
  dequant.width = n;
  dequant.slots = {{4, SlotShape::kWide}, {4, SlotShape::kWide}};
  dequant.loads = {{0, TensorView::contiguous(c, 4, {rows, n})}};
  int current = 0;  // the slot holding the result so far; the steps write slot 1
  if (accumulator != DataType::FP32) {
    dequant.steps = {{Opcode::VPU_CVT, 1, 0, -1, 0, accumulator, DataType::FP32}};
    current = 1;
  }
  if (operand != DataType::BF16) {
    dequant.slots.push_back({4, SlotShape::kNarrow});
    dequant.loads.push_back({2, TensorView::contiguous(a_scale, 4, {rows})});
    dequant.steps.push_back({Opcode::VPU_MULC, 1, current, 2});
    current = 1;
  }
  const ir::HostTensor* w_scale = ctx.constant(ctx.in(2));
  if (w_scale && w_scale->element_count() == 1) {
    float s;
    std::memcpy(&s, w_scale->bytes.data(), 4);
    dequant.steps.push_back({Opcode::VPU_MULS, 1, current, -1, s});
  } else {
    const auto row = static_cast<int>(dequant.slots.size());
    dequant.slots.push_back({4, SlotShape::kRow});
    dequant.loads.push_back({row, ctx.view(ctx.in(2)).reshaped({n})});
    dequant.steps.push_back({Opcode::VPU_MULB, 1, current, row});
  }
  dequant.stores = {{1, y}};
  ctx.emit(dequant);
  ctx.mapping += ", activations scaled per row, product scaled on the VPU";
}

}  // namespace seedchip::compiler
