#pragma once
// Numeric formats and the functional kernels the simulated units compute with. Conversions round
// to nearest, ties to even. FP8 follows the OCP 8-bit floating point spec: E4M3 has no infinities
// (max 448, one NaN encoding per sign) and E5M2 is IEEE-like (max 57344, infinities); conversions
// to FP8 and to integers saturate to the largest finite value; NaN converts to NaN (0 for ints).
#include <cstddef>
#include <cstdint>

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
// a_pitch bytes) x B (k x n of `in`, packed row-major). FP formats: products are exact in FP32 and
// summed in FP32 through the host BLAS (summation order may differ from a scalar loop). INT8:
// exact INT32 sums. Throws std::invalid_argument for an unsupported (in, acc) pair.
void matmul(DataType in, DataType acc, const void* a, size_t a_pitch, const void* b, void* c,
            size_t c_pitch, size_t m, size_t k, size_t n, bool accumulate);

// The scalar reference the kernels are tested against: a plain triple loop in k order.
void matmul_reference(DataType in, DataType acc, const void* a, size_t a_pitch, const void* b,
                      void* c, size_t c_pitch, size_t m, size_t k, size_t n, bool accumulate);

// Normalised mean squared error sum((x-y)^2) / sum(y^2) (0 when both are all zero).
double nmse(const float* x, const float* reference, size_t n);

}  // namespace seedchip::numerics
