#pragma once
// Numeric formats and the functional kernels the simulated units compute with. Conversions round
// to nearest, ties to even, with subnormals. FP8 follows the OCP 8-bit floating point spec v1.0:
// E4M3 has no infinities (bias 7, max 448, S.1111.111 is NaN) and E5M2 is IEEE-like (bias 15,
// max 57344, infinities). Narrowing overflow: BF16 and FP16 go to inf as IEEE does; FP8 saturates
// finite values to the largest finite value, and +-inf becomes +-448 in E4M3 (it has no inf) but
// stays +-inf in E5M2. NaN stays NaN (sign and leading payload bits kept, made quiet). To integers:
// saturating, NaN -> 0.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "arch/dtype.h"

namespace seedchip::numerics {

uint16_t fp32_to_bf16(float x);
float bf16_to_fp32(uint16_t x);
uint16_t fp32_to_fp16(float x);
float fp16_to_fp32(uint16_t x);
uint8_t fp32_to_fp8_e4m3(float x);
float fp8_e4m3_to_fp32(uint8_t x);
uint8_t fp32_to_fp8_e5m2(float x);
float fp8_e5m2_to_fp32(uint8_t x);
int8_t fp32_to_int8(float x);
int32_t fp32_to_int32(float x);

// Bulk conversions between a packed array of `type` and FP32 (integers convert by value).
void to_fp32(DataType type, const void* src, float* dst, size_t n);
void from_fp32(DataType type, const float* src, void* dst, size_t n);

// C (m x n, `acc` = FP32 or INT32, row pitch c_pitch bytes) = or += A (m x k of `in`, row pitch
// a_pitch bytes) x B (k x n of `in`, packed row-major). FP formats: products are exact in FP32
// (for BF16, while they stay within the FP32 range) and summed in FP32 through the host BLAS
// (summation order may differ from a scalar loop). INT8: exact INT32 sums, wrapping modulo 2^32
// like a hardware accumulator (reachable only for k > 2^17). Throws std::invalid_argument for an
// unsupported (in, acc) pair or a row pitch shorter than a row. Thread-safe; GEMMs up to 128^3
// multiply-adds run single-threaded, larger ones use the OpenBLAS thread pool.
void matmul(DataType in, DataType acc, const void* a, size_t a_pitch, const void* b, void* c,
            size_t c_pitch, size_t m, size_t k, size_t n, bool accumulate);

// Three kernels, one result definition each. matmul: fast, BLAS summation order (NMSE-bounded).
// matmul_exact: the MXU's defined k order, bit for bit: every C element is the FP32 sum, in k
// order, of FP32 products (one rounding per multiply and per add, no FMA), starting from +0 or
// from C when accumulating. A NaN result is stored as the canonical quiet NaN 0x7FC00000: x86 NaN
// sign and payload depend on operand order, so only NaN-ness is defined. Same arguments,
// exceptions and INT8 result as matmul; vectorised (AVX-512 or AVX2 where the host has it), with
// large calls' rows split over a persistent worker pool. matmul_reference: scalar loop for tests,
// bit-identical to matmul_exact.
void matmul_exact(DataType in, DataType acc, const void* a, size_t a_pitch, const void* b, void* c,
                  size_t c_pitch, size_t m, size_t k, size_t n, bool accumulate);

// A weight tile B (k x n of `in`, packed row-major) prepared for products with it, as the MXU
// holds a loaded tile. FP formats are converted to FP32: `packed`, laid out in the panels of
// matmul_exact's kernel (for a tile many products use); otherwise kept as rows, cheaper to make,
// which products of a few input rows read as they are. INT8 is kept as is. The object keeps its
// own copy: later changes to B do not reach it. Throws std::invalid_argument for a type
// matmul_exact does not take as input.
class ExactWeights {
 public:
  ExactWeights(DataType in, const void* b, size_t k, size_t n, bool packed = true);
  DataType type() const { return in_; }
  size_t k() const { return k_; }
  size_t n() const { return n_; }
  // matmul_exact(type(), acc, a, a_pitch, B, c, c_pitch, m, k(), n(), accumulate), bit for bit,
  // without converting B again.
  void matmul(DataType acc, const void* a, size_t a_pitch, void* c, size_t c_pitch, size_t m,
              bool accumulate) const;

 private:
  DataType in_;
  size_t k_, n_;
  bool packed_;
  std::vector<float> fp32_;    // FP formats: panels, or k rows of n
  std::vector<uint8_t> int8_;  // INT8
};

// The scalar reference the kernels are tested against: a plain triple loop in k order, NaN
// results canonical as in matmul_exact.
void matmul_reference(DataType in, DataType acc, const void* a, size_t a_pitch, const void* b,
                      void* c, size_t c_pitch, size_t m, size_t k, size_t n, bool accumulate);

// Normalised mean squared error sum((x-y)^2) / sum(y^2) (0 when both are all zero).
double nmse(const float* x, const float* reference, size_t n);

}  // namespace seedchip::numerics
