#include "compiler/mapping/gemm_plan.h"

#include <cstdio>
#include <sstream>

namespace seedchip::compiler {
namespace {

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

DataType gemm_accumulator(DataType type) {
  return type == DataType::INT8 ? DataType::INT32 : DataType::FP32;
}

GemmSramMap gemm_sram_map(const GemmPlan& p, DataType type) {
  const uint64_t in = dtype_bytes(type), acc = dtype_bytes(gemm_accumulator(type));
  GemmSramMap s;
  s.a_slot = align_up(p.chunk_m * p.chunk_k * in, kGemmSramAlign);
  s.b_slot = p.tiles_per_slot * align_up(p.tile_k * p.tile_n * in, kGemmSramAlign);
  s.c = 0;
  s.bias = align_up(p.chunk_m * ceil_div(p.chunk_n, p.tile_n) * p.tile_n * acc, kGemmSramAlign);
  s.a = s.bias + (p.epilogue ? align_up(p.block_n * 4, kGemmSramAlign) : 0);
  s.b = s.a + p.a_slots * s.a_slot;
  s.end = s.b + p.b_slots * s.b_slot;
  return s;
}

std::string GemmPlan::describe() const {
  std::ostringstream s;
  s << "core grid " << grid_m << "x" << grid_n << ", block " << block_m << "x" << block_n
    << " per core, chunk " << chunk_m << "x" << chunk_n << "x" << chunk_k << ", weight tile "
    << tile_k << "x" << tile_n << ", " << a_slots << " A buffers, " << b_slots << " weight buffers"
    << (tiles_per_slot > 1 ? " of " + std::to_string(tiles_per_slot) + " tiles" : std::string())
    << (epilogue ? ", epilogue in SRAM" : "") << ", " << sram_bytes_used / 1024
    << " KiB SRAM per core";
  if (candidates_ranked > 0) {
    char estimate[96];
    std::snprintf(estimate, sizeof estimate, "; cost model %.0f cycles, best of %lld candidates",
                  estimated_cycles, static_cast<long long>(candidates_ranked));
    s << estimate;
  }
  return s.str();
}

}  // namespace seedchip::compiler
