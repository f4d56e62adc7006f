#include "sim/core/vpu_math.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "sim/numerics/numerics.h"

namespace seedchip::sim {
namespace {

using isa::Opcode;

bool is_broadcast_by_column(Opcode op) { return op == Opcode::VPU_ADDB || op == Opcode::VPU_MULB; }
bool is_broadcast_by_row(Opcode op) { return op == Opcode::VPU_SUBC || op == Opcode::VPU_MULC; }
bool has_second_operand(Opcode op) {
  switch (op) {
    case Opcode::VPU_ADD:
    case Opcode::VPU_SUB:
    case Opcode::VPU_MUL:
    case Opcode::VPU_DIV:
    case Opcode::VPU_MAX:
    case Opcode::VPU_MIN:
    case Opcode::VPU_CMPLT:
    case Opcode::VPU_CMPLE:
    case Opcode::VPU_CMPEQ:
    case Opcode::VPU_SEL:
    case Opcode::VPU_ADDW:
    case Opcode::VPU_SUBW:
    case Opcode::VPU_MULW:
      return true;
    default:
      return false;
  }
}

bool wraps(Opcode op) {
  return op == Opcode::VPU_ADDW || op == Opcode::VPU_SUBW || op == Opcode::VPU_MULW ||
         op == Opcode::VPU_DIV;
}

float apply_float(Opcode op, float x, float y, float c) {
  switch (op) {
    case Opcode::VPU_ADD:
    case Opcode::VPU_ADDB:
      return x + y;
    case Opcode::VPU_SUB:
    case Opcode::VPU_SUBC:
      return x - y;
    case Opcode::VPU_MUL:
    case Opcode::VPU_MULB:
    case Opcode::VPU_MULC:
      return x * y;
    case Opcode::VPU_DIV:
      return x / y;
    case Opcode::VPU_MAX:
      return std::fmax(x, y);
    case Opcode::VPU_MIN:
      return std::fmin(x, y);
    case Opcode::VPU_ADDS:
      return x + c;
    case Opcode::VPU_MULS:
      return x * c;
    case Opcode::VPU_EXP:
      return std::exp(x);
    case Opcode::VPU_LOG:
      return std::log(x);
    case Opcode::VPU_RSQRT:
      return 1.0f / std::sqrt(x);
    case Opcode::VPU_SQRT:
      return std::sqrt(x);
    case Opcode::VPU_RECIP:
      return 1.0f / x;
    case Opcode::VPU_TANH:
      return std::tanh(x);
    case Opcode::VPU_SILU:
      return x / (1.0f + std::exp(-x));
    case Opcode::VPU_GELU:
      return 0.5f * x * (1.0f + std::erf(x / std::sqrt(2.0f)));
    case Opcode::VPU_RELU:
      return x > 0 ? x : (std::isnan(x) ? x : 0.0f);
    case Opcode::VPU_ERF:
      return std::erf(x);
    case Opcode::VPU_SIN:
      return std::sin(x);
    case Opcode::VPU_COS:
      return std::cos(x);
    case Opcode::VPU_ATAN:
      return std::atan(x);
    case Opcode::VPU_FLOOR:
      return std::floor(x);
    case Opcode::VPU_CEIL:
      return std::ceil(x);
    case Opcode::VPU_ROUND:
      return std::nearbyint(x);  // the default rounding mode: to nearest, ties to even
    case Opcode::VPU_SIGN:
      return std::isnan(x) ? x : static_cast<float>((x > 0) - (x < 0));
    case Opcode::VPU_CMPLT:
      return x < y ? 1.0f : 0.0f;
    case Opcode::VPU_CMPLE:
      return x <= y ? 1.0f : 0.0f;
    case Opcode::VPU_CMPEQ:
      return x == y ? 1.0f : 0.0f;
    default:
      return x;
  }
}

int64_t apply_int(Opcode op, int64_t x, int64_t y) {
  switch (op) {
    case Opcode::VPU_ADD:
    case Opcode::VPU_ADDB:
    case Opcode::VPU_ADDW:
      return x + y;
    case Opcode::VPU_SUB:
    case Opcode::VPU_SUBC:
    case Opcode::VPU_SUBW:
      return x - y;
    case Opcode::VPU_MUL:
    case Opcode::VPU_MULB:
    case Opcode::VPU_MULC:
    case Opcode::VPU_MULW:
      return x * y;  // operands are at most 32 bits: the product fits int64
    case Opcode::VPU_DIV:
      return y == 0 ? 0 : x / y;  // C++ truncates toward zero
    case Opcode::VPU_MAX:
      return std::max(x, y);
    case Opcode::VPU_MIN:
      return std::min(x, y);
    case Opcode::VPU_RELU:
      return std::max<int64_t>(x, 0);
    case Opcode::VPU_SIGN:
      return (x > 0) - (x < 0);
    case Opcode::VPU_CMPLT:
      return x < y;
    case Opcode::VPU_CMPLE:
      return x <= y;
    case Opcode::VPU_CMPEQ:
      return x == y;
    default:
      return x;
  }
}

void read_float_into(DataType type, const uint8_t* src, uint64_t n, std::vector<float>& out) {
  out.resize(n);
  if (n != 0) numerics::to_fp32(type, src, out.data(), n);
}

std::vector<float> read_float(DataType type, const uint8_t* src, uint64_t n) {
  std::vector<float> out;
  read_float_into(type, src, n, out);
  return out;
}

// The operands and result of a float instruction, widened to FP32. Kept from one instruction to
// the next: the VPU runs one at a time, and allocating them per instruction cost more than the
// arithmetic of the small instructions a decode step is made of.
struct FloatScratch {
  std::vector<float> a, b, out;
};

FloatScratch& float_scratch() {
  thread_local FloatScratch scratch;
  return scratch;
}

std::vector<int64_t> read_int(DataType type, const uint8_t* src, uint64_t n) {
  std::vector<int64_t> out(n);
  for (uint64_t i = 0; i < n; ++i) {
    if (type == DataType::INT8) {
      out[i] = static_cast<int8_t>(src[i]);
    } else {
      int32_t v;
      std::memcpy(&v, src + 4 * i, 4);
      out[i] = v;
    }
  }
  return out;
}

// Two's complement modulo 2^bits of the type, for the wrapping instructions.
int64_t wrap(DataType type, int64_t v) {
  if (type == DataType::INT8) return static_cast<int8_t>(static_cast<uint8_t>(v));
  return static_cast<int32_t>(static_cast<uint32_t>(v));
}

void write_int(DataType type, const std::vector<int64_t>& values, uint8_t* dst) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (type == DataType::INT8) {
      dst[i] = static_cast<uint8_t>(static_cast<int8_t>(std::clamp<int64_t>(values[i], -128, 127)));
    } else {
      const int32_t v = static_cast<int32_t>(std::clamp<int64_t>(
          values[i], std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()));
      std::memcpy(dst + 4 * i, &v, 4);
    }
  }
}

// Rows x cols results of an elementwise or broadcast op, computed in T. The operand's shape is
// chosen outside the loops, so that each shape's loop over a simple `apply` vectorises.
template <typename T, typename Apply>
void elementwise(const std::vector<T>& a, const std::vector<T>& b, Opcode op, uint64_t rows,
                 uint64_t cols, Apply apply, std::vector<T>& out) {
  out.resize(rows * cols);
  const uint64_t n = rows * cols;
  if (is_broadcast_by_column(op)) {
    for (uint64_t r = 0; r < rows; ++r)
      for (uint64_t col = 0; col < cols; ++col)
        out[r * cols + col] = apply(a[r * cols + col], b[col]);
  } else if (is_broadcast_by_row(op)) {
    for (uint64_t r = 0; r < rows; ++r)
      for (uint64_t col = 0; col < cols; ++col)
        out[r * cols + col] = apply(a[r * cols + col], b[r]);
  } else if (has_second_operand(op)) {
    for (uint64_t i = 0; i < n; ++i) out[i] = apply(a[i], b[i]);
  } else {
    for (uint64_t i = 0; i < n; ++i) out[i] = apply(a[i], T{});
  }
}

// elementwise() in FP32, the common arithmetic with its operation fixed at compile time.
void elementwise_float(const VpuOperands& o, const std::vector<float>& a,
                       const std::vector<float>& b, std::vector<float>& out) {
  const auto run = [&](auto apply) { elementwise(a, b, o.op, o.rows, o.cols, apply, out); };
  const float c = o.c;
  switch (o.op) {
    case Opcode::VPU_ADD:
    case Opcode::VPU_ADDB:
      return run([](float x, float y) { return x + y; });
    case Opcode::VPU_SUB:
    case Opcode::VPU_SUBC:
      return run([](float x, float y) { return x - y; });
    case Opcode::VPU_MUL:
    case Opcode::VPU_MULB:
    case Opcode::VPU_MULC:
      return run([](float x, float y) { return x * y; });
    case Opcode::VPU_ADDS:
      return run([c](float x, float) { return x + c; });
    case Opcode::VPU_MULS:
      return run([c](float x, float) { return x * c; });
    default:
      return run([op = o.op, c](float x, float y) { return apply_float(op, x, y, c); });
  }
}

template <typename T>
void reduce(const std::vector<T>& a, Opcode op, uint64_t rows, uint64_t cols, std::vector<T>& out) {
  out.resize(rows);
  for (uint64_t r = 0; r < rows; ++r) {
    T acc = op == Opcode::VPU_RSUM ? T{} : a[r * cols];
    for (uint64_t col = 0; col < cols; ++col) {
      const T x = a[r * cols + col];
      if (op == Opcode::VPU_RSUM) {
        acc += x;
      } else if constexpr (std::is_floating_point_v<T>) {
        acc = std::fmax(acc, x);
      } else {
        acc = std::max(acc, x);
      }
    }
    out[r] = acc;
  }
}

uint64_t second_operand_count(const VpuOperands& o) {
  if (is_broadcast_by_column(o.op)) return o.cols;
  if (is_broadcast_by_row(o.op)) return o.rows;
  return has_second_operand(o.op) ? o.rows * o.cols : 0;
}

}  // namespace

bool vpu_supports(Opcode op, DataType type) {
  if (op == Opcode::VPU_CVT) return true;
  if (!dtype_is_integer(type)) return !wraps(op) || op == Opcode::VPU_DIV;
  switch (op) {
    case Opcode::VPU_ADDW:
    case Opcode::VPU_SUBW:
    case Opcode::VPU_MULW:
    case Opcode::VPU_DIV:
    case Opcode::VPU_ADD:
    case Opcode::VPU_SUB:
    case Opcode::VPU_MUL:
    case Opcode::VPU_MAX:
    case Opcode::VPU_MIN:
    case Opcode::VPU_MOV:
    case Opcode::VPU_RELU:
    case Opcode::VPU_ADDB:
    case Opcode::VPU_MULB:
    case Opcode::VPU_SUBC:
    case Opcode::VPU_MULC:
    case Opcode::VPU_RSUM:
    case Opcode::VPU_RMAX:
    case Opcode::VPU_SIGN:
    case Opcode::VPU_CMPLT:
    case Opcode::VPU_CMPLE:
    case Opcode::VPU_CMPEQ:
    case Opcode::VPU_SEL:
      return true;
    default:
      return false;
  }
}

void vpu_execute(const VpuOperands& o, uint8_t* sram) {
  const uint64_t n = o.rows * o.cols;
  const size_t elem = static_cast<size_t>(dtype_bytes(o.type));
  if (o.op == Opcode::VPU_MOV || (o.op == Opcode::VPU_CVT && o.type == o.to)) {
    std::memmove(sram + o.d, sram + o.a, n * elem);
    return;
  }
  FloatScratch& scratch = float_scratch();
  if (o.op == Opcode::VPU_CVT) {
    read_float_into(o.type, sram + o.a, n, scratch.a);
    if (n != 0) numerics::from_fp32(o.to, scratch.a.data(), sram + o.d, n);
    return;
  }
  if (o.op == Opcode::VPU_SEL) {
    // Bytes are chosen whole, so any format (integer or float, NaNs included) selects exactly.
    std::vector<uint8_t> out(n * elem);
    const bool integer = dtype_is_integer(o.type);
    const std::vector<float> mf =
        integer ? std::vector<float>{} : read_float(o.type, sram + o.m, n);
    const std::vector<int64_t> mi =
        integer ? read_int(o.type, sram + o.m, n) : std::vector<int64_t>{};
    for (uint64_t i = 0; i < n; ++i) {
      const bool take_a = integer ? mi[i] != 0 : mf[i] != 0.0f;
      std::memcpy(out.data() + i * elem, sram + (take_a ? o.a : o.b) + i * elem, elem);
    }
    std::memcpy(sram + o.d, out.data(), out.size());
    return;
  }
  const bool is_reduce = o.op == Opcode::VPU_RSUM || o.op == Opcode::VPU_RMAX;
  if (is_reduce && o.cols == 0) return;  // an empty row has no sum or max to write
  const uint64_t b_count = second_operand_count(o);
  if (dtype_is_integer(o.type)) {
    const std::vector<int64_t> a = read_int(o.type, sram + o.a, n);
    const std::vector<int64_t> b = read_int(o.type, sram + o.b, b_count);
    std::vector<int64_t> out;
    if (is_reduce) {
      reduce(a, o.op, o.rows, o.cols, out);
    } else {
      elementwise(
          a, b, o.op, o.rows, o.cols,
          [&](int64_t x, int64_t y) {
            const int64_t r = apply_int(o.op, x, y);
            return wraps(o.op) ? wrap(o.type, r) : r;
          },
          out);
    }
    write_int(o.type, out, sram + o.d);
    return;
  }
  read_float_into(o.type, sram + o.a, n, scratch.a);
  read_float_into(o.type, sram + o.b, b_count, scratch.b);
  if (is_reduce) {
    reduce(scratch.a, o.op, o.rows, o.cols, scratch.out);
  } else {
    elementwise_float(o, scratch.a, scratch.b, scratch.out);
  }
  if (!scratch.out.empty())
    numerics::from_fp32(o.type, scratch.out.data(), sram + o.d, scratch.out.size());
}

}  // namespace seedchip::sim
