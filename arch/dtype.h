#pragma once
// Numeric formats of SeedChip operands. FP8 formats follow the OCP 8-bit floating point spec (E4M3
// without infinities, E5M2 IEEE-like); INT8 carries a per-tensor scale held by the program.
#include <cstdint>
#include <optional>
#include <string_view>

namespace seedchip {

enum class DataType : uint8_t { FP32, BF16, FP16, FP8_E4M3, FP8_E5M2, INT8, INT32 };

inline constexpr DataType kAllDataTypes[] = {DataType::FP32,     DataType::BF16,
                                             DataType::FP16,     DataType::FP8_E4M3,
                                             DataType::FP8_E5M2, DataType::INT8,
                                             DataType::INT32};

constexpr int dtype_bits(DataType t) {
  switch (t) {
    case DataType::FP32:
    case DataType::INT32:
      return 32;
    case DataType::BF16:
    case DataType::FP16:
      return 16;
    case DataType::FP8_E4M3:
    case DataType::FP8_E5M2:
    case DataType::INT8:
      return 8;
  }
  return 0;
}

constexpr int dtype_bytes(DataType t) { return dtype_bits(t) / 8; }

constexpr bool dtype_is_integer(DataType t) {
  return t == DataType::INT8 || t == DataType::INT32;
}

constexpr std::string_view dtype_name(DataType t) {
  switch (t) {
    case DataType::FP32: return "fp32";
    case DataType::BF16: return "bf16";
    case DataType::FP16: return "fp16";
    case DataType::FP8_E4M3: return "fp8e4m3";
    case DataType::FP8_E5M2: return "fp8e5m2";
    case DataType::INT8: return "int8";
    case DataType::INT32: return "int32";
  }
  return "?";
}

inline std::optional<DataType> dtype_from_name(std::string_view name) {
  for (DataType t : kAllDataTypes)
    if (dtype_name(t) == name) return t;
  return std::nullopt;
}

}  // namespace seedchip
