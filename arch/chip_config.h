#pragma once
// The chip description: every parameter of a SeedChip-framework chip (our designs and the GPUs and
// NPUs we compare against). Each parameter is declared once, in the tables below, with its type,
// key path, unit, default, valid range and description; the structs, the YAML loader, the schema
// printed by `seedchip info` and the resolved-config writer are all generated from these tables.
// Default values are seedchip-v1's; the presets in configs/presets give every value a source.
//
// NUM(type, member, "key", "unit", default, min, max, "description")
// STR(member, "key", "default", "choice|choice|..." or "" for free text, "description")
#include <cstdint>
#include <string>

#include "arch/dtype.h"

namespace seedchip {

#define SEEDCHIP_CORE_PARAMS(NUM, STR)                                                         \
  NUM(int64_t, mesh_x, "core.mesh_x", "cores", 4, 1, 64, "cores along x of the 2D mesh")       \
  NUM(int64_t, mesh_y, "core.mesh_y", "cores", 4, 1, 64, "cores along y of the 2D mesh")       \
  NUM(double, clock_mhz, "core.clock_mhz", "MHz", 1200, 1, 10000,                              \
      "core clock: sequencer, MXU, VPU, SRAM and NoC run on it")                               \
  NUM(int64_t, queue_depth, "core.queue_depth", "instructions", 16, 1, 4096,                   \
      "depth of each unit queue (MXU, VPU, DMA) the sequencer issues into; full queue stalls") \
  NUM(int64_t, sequencer_issue_cycles, "core.sequencer_issue_cycles", "cycles", 1, 1, 100,     \
      "cycles the in-order sequencer spends per instruction it issues")

#define SEEDCHIP_MXU_PARAMS(NUM, STR)                                                            \
  NUM(int64_t, rows, "mxu.rows", "PEs", 128, 1, 1024,                                            \
      "systolic array rows = reduction depth K of one weight tile")                              \
  NUM(int64_t, cols, "mxu.cols", "PEs", 128, 1, 1024,                                            \
      "systolic array columns = output width N of one weight tile")                              \
  NUM(double, macs_per_pe_bf16, "mxu.macs_per_pe.bf16", "MAC/PE/cycle", 1, 0, 64,                \
      "BF16 multiply-accumulates per PE per cycle (0 = format unsupported)")                     \
  NUM(double, macs_per_pe_fp16, "mxu.macs_per_pe.fp16", "MAC/PE/cycle", 1, 0, 64,                \
      "FP16 multiply-accumulates per PE per cycle (0 = format unsupported)")                     \
  NUM(double, macs_per_pe_fp8, "mxu.macs_per_pe.fp8", "MAC/PE/cycle", 2, 0, 64,                  \
      "FP8 (E4M3 and E5M2) multiply-accumulates per PE per cycle (0 = format unsupported)")      \
  NUM(double, macs_per_pe_int8, "mxu.macs_per_pe.int8", "MAC/PE/cycle", 2, 0, 64,                \
      "INT8 multiply-accumulates per PE per cycle (0 = format unsupported)")                     \
  NUM(double, macs_per_pe_fp32, "mxu.macs_per_pe.fp32", "MAC/PE/cycle", 0, 0, 64,                \
      "FP32 multiply-accumulates per PE per cycle (0 = format unsupported)")                     \
  NUM(int64_t, weight_load_rows_per_cycle, "mxu.weight_load_rows_per_cycle", "rows/cycle", 2, 1, \
      1024, "weight rows shifted into the array per cycle when loading a tile")                  \
  NUM(bool, weight_double_buffer, "mxu.weight_double_buffer", "bool", true, 0, 1,                \
      "a second weight register set lets the next tile load while the current one streams")

#define SEEDCHIP_VPU_PARAMS(NUM, STR)                                                          \
  NUM(int64_t, lanes, "vpu.lanes", "lanes", 128, 1, 65536,                                     \
      "FP32 elements per cycle for simple ops")                                                \
  NUM(int64_t, pipeline_cycles, "vpu.pipeline_cycles", "cycles", 8, 0, 1000,                   \
      "pipeline latency of one VPU instruction before its first result")                       \
  NUM(double, simple_ops_per_lane, "vpu.throughput.simple", "ops/lane/cycle", 1, 0.001, 64,    \
      "add, sub, mul, max, min, convert, copy")                                                \
  NUM(double, divide_ops_per_lane, "vpu.throughput.divide", "ops/lane/cycle", 0.25, 0.001, 64, \
      "div, reciprocal, rsqrt, sqrt")                                                          \
  NUM(double, transcendental_ops_per_lane, "vpu.throughput.transcendental", "ops/lane/cycle",  \
      0.125, 0.001, 64, "exp, silu, gelu, tanh, log")                                          \
  NUM(double, reduce_ops_per_lane, "vpu.throughput.reduce", "ops/lane/cycle", 1, 0.001, 64,    \
      "sum/max reductions along a tile axis (plus a log2(lanes) tree drain)")

#define SEEDCHIP_SRAM_PARAMS(NUM, STR)                                                            \
  NUM(int64_t, bytes, "sram.bytes", "bytes", 8388608, 4096, int64_t{1} << 34,                     \
      "scratchpad capacity per core")                                                             \
  NUM(int64_t, banks, "sram.banks", "banks", 32, 1, 4096, "independently addressable banks")      \
  NUM(int64_t, bank_width_bytes, "sram.bank_width_bytes", "bytes", 64, 1, 4096,                   \
      "bytes one bank reads or writes per cycle; addresses interleave across banks at this size") \
  NUM(int64_t, latency_cycles, "sram.latency_cycles", "cycles", 2, 0, 1000, "access latency")

#define SEEDCHIP_DMA_PARAMS(NUM, STR)                                               \
  NUM(int64_t, engines, "dma.engines", "engines", 4, 1, 64, "DMA engines per core") \
  NUM(int64_t, max_outstanding, "dma.max_outstanding", "requests", 256, 1, 65536,   \
      "memory requests one engine keeps in flight")                                 \
  NUM(int64_t, setup_cycles, "dma.setup_cycles", "cycles", 16, 0, 100000,           \
      "descriptor processing before the first request of a transfer")

#define SEEDCHIP_NOC_PARAMS(NUM, STR)                                                           \
  NUM(int64_t, link_bytes_per_cycle, "noc.link_bytes_per_cycle", "bytes/cycle", 1024, 1, 65536, \
      "bandwidth of one mesh link in one direction, per core clock cycle")                      \
  NUM(int64_t, hop_cycles, "noc.hop_cycles", "cycles", 2, 0, 1000,                              \
      "router + link traversal latency per hop")                                                \
  NUM(int64_t, packet_bytes, "noc.packet_bytes", "bytes", 1024, 16, 1048576,                    \
      "largest packet a transfer is split into; links arbitrate between packets")               \
  STR(routing, "noc.routing", "xy", "xy|yx", "deterministic dimension-order routing")

#define SEEDCHIP_HBM_PARAMS(NUM, STR)                                                           \
  STR(standard, "hbm.standard", "HBM3E", "HBM2E|HBM3|HBM3E", "memory standard")                 \
  NUM(int64_t, stacks, "hbm.stacks", "stacks", 4, 0, 16, "HBM stacks on the package")           \
  NUM(int64_t, stack_gbytes, "hbm.stack_gbytes", "GB", 36, 1, 1024, "capacity of one stack")    \
  NUM(int64_t, channels, "hbm.channels", "channels/stack", 16, 1, 64, "independent channels")   \
  NUM(int64_t, pseudo_channels, "hbm.pseudo_channels", "PC/channel", 2, 1, 4,                   \
      "pseudo-channels per channel; each has its own data bus and bank set")                    \
  NUM(int64_t, bank_groups, "hbm.bank_groups", "groups/PC", 4, 1, 16, "bank groups per PC")     \
  NUM(int64_t, banks_per_group, "hbm.banks_per_group", "banks/group", 4, 1, 64,                 \
      "banks per bank group (stack-ID ranks folded in)")                                        \
  NUM(int64_t, row_bytes, "hbm.row_bytes", "bytes", 1024, 64, 65536, "row (page) size per PC")  \
  NUM(int64_t, access_bytes, "hbm.access_bytes", "bytes", 32, 8, 1024,                          \
      "bytes one column command moves (PC width x burst length)")                               \
  NUM(int64_t, pc_bus_bits, "hbm.pc_bus_bits", "bits", 32, 1, 1024, "data bus width of one PC") \
  NUM(double, data_rate_gbps, "hbm.data_rate_gbps", "Gb/s/pin", 9.6, 0.1, 100, "pin data rate") \
  NUM(double, clock_mhz, "hbm.clock_mhz", "MHz", 2400, 1, 20000,                                \
      "command clock CK; all hbm.timing values count its cycles")                               \
  STR(mapping, "hbm.mapping", "RoBaBgPcChStCo-spread", "",                                      \
      "address mapping, most to least significant field (see docs/hbm.md)")                     \
  STR(scheduler, "hbm.scheduler", "frfcfs", "frfcfs|fcfs", "controller request scheduler")      \
  STR(refresh, "hbm.refresh", "per-bank", "all-bank|per-bank", "refresh policy")                \
  NUM(int64_t, read_queue, "hbm.read_queue", "requests", 64, 1, 65536,                          \
      "read queue depth per pseudo-channel controller")                                         \
  NUM(int64_t, write_queue, "hbm.write_queue", "requests", 64, 1, 65536,                        \
      "write queue depth per pseudo-channel controller")                                        \
  NUM(int64_t, write_drain_high, "hbm.write_drain_high", "requests", 48, 1, 65536,              \
      "writes queued above which the controller drains writes")                                 \
  NUM(int64_t, write_drain_low, "hbm.write_drain_low", "requests", 16, 0, 65536,                \
      "writes queued below which write draining stops")                                         \
  NUM(int64_t, controller_cycles, "hbm.controller_cycles", "cycles", 8, 0, 10000,               \
      "controller + PHY pipeline latency added to every request, in CK cycles")

#define SEEDCHIP_HBM_TIMING_PARAMS(NUM, STR)                                                      \
  NUM(int64_t, tBL, "hbm.timing.tBL", "CK", 2, 1, 64, "data bus cycles of one column burst")      \
  NUM(int64_t, tCL, "hbm.timing.tCL", "CK", 34, 1, 1000, "RD to first data (read latency)")       \
  NUM(int64_t, tCWL, "hbm.timing.tCWL", "CK", 10, 1, 1000, "WR to first data (write latency)")    \
  NUM(int64_t, tRCD, "hbm.timing.tRCD", "CK", 34, 1, 1000, "ACT to RD/WR, same bank")             \
  NUM(int64_t, tRP, "hbm.timing.tRP", "CK", 34, 1, 1000, "PRE to ACT, same bank")                 \
  NUM(int64_t, tRAS, "hbm.timing.tRAS", "CK", 82, 1, 10000, "ACT to PRE, same bank")              \
  NUM(int64_t, tRC, "hbm.timing.tRC", "CK", 116, 1, 10000, "ACT to ACT, same bank")               \
  NUM(int64_t, tCCD_S, "hbm.timing.tCCD_S", "CK", 2, 1, 100, "column to column, different BG")    \
  NUM(int64_t, tCCD_L, "hbm.timing.tCCD_L", "CK", 4, 1, 100, "column to column, same BG")         \
  NUM(int64_t, tRRD_S, "hbm.timing.tRRD_S", "CK", 5, 1, 100, "ACT to ACT, different BG")          \
  NUM(int64_t, tRRD_L, "hbm.timing.tRRD_L", "CK", 8, 1, 100, "ACT to ACT, same BG")               \
  NUM(int64_t, tFAW, "hbm.timing.tFAW", "CK", 36, 1, 1000, "window holding at most four ACTs")    \
  NUM(int64_t, tWTR_S, "hbm.timing.tWTR_S", "CK", 15, 1, 100,                                     \
      "end of write data to RD, different BG")                                                    \
  NUM(int64_t, tWTR_L, "hbm.timing.tWTR_L", "CK", 20, 1, 100, "end of write data to RD, same BG") \
  NUM(int64_t, tRTW, "hbm.timing.tRTW", "CK", 28, 1, 100, "RD to WR bus turnaround")              \
  NUM(int64_t, tRTP, "hbm.timing.tRTP", "CK", 10, 1, 100, "RD to PRE, same bank")                 \
  NUM(int64_t, tWR, "hbm.timing.tWR", "CK", 39, 1, 1000, "end of write data to PRE, same bank")   \
  NUM(int64_t, tREFI, "hbm.timing.tREFI", "CK", 9360, 1, 1000000, "average refresh interval")     \
  NUM(int64_t, tRFC, "hbm.timing.tRFC", "CK", 1080, 1, 100000, "all-bank refresh cycle time")     \
  NUM(int64_t, tRFCpb, "hbm.timing.tRFCpb", "CK", 384, 1, 100000, "per-bank refresh cycle time")  \
  NUM(int64_t, tRREFD, "hbm.timing.tRREFD", "CK", 20, 1, 1000,                                    \
      "per-bank refresh to ACT or refresh of another bank")

#define SEEDCHIP_LINK_PARAMS(NUM, STR)                                                 \
  NUM(int64_t, count, "links.count", "links", 8, 0, 64, "chip-to-chip links per chip") \
  NUM(double, gbytes_per_s, "links.gbytes_per_s", "GB/s", 100, 0, 10000,               \
      "bandwidth of one link, one direction")                                          \
  NUM(double, latency_ns, "links.latency_ns", "ns", 500, 0, 1000000,                   \
      "latency of one transfer across a link (SerDes + protocol)")                     \
  STR(topology, "links.topology", "ring", "ring|fully-connected|switch",               \
      "how the chips of a multi-chip system are wired")

#define SEEDCHIP_POWER_PARAMS(NUM, STR)                                                           \
  NUM(double, tdp_w, "power.tdp_w", "W", 500, 1, 10000, "board power limit")                      \
  NUM(double, idle_w, "power.idle_w", "W", 80, 0, 10000, "static + idle power")                   \
  NUM(double, mxu_pj_per_mac, "power.mxu_pj_per_mac", "pJ/MAC", 0.25, 0, 100,                     \
      "energy of one BF16 MAC in the matrix unit (FP8/INT8: half)")                               \
  NUM(double, vpu_pj_per_op, "power.vpu_pj_per_op", "pJ/op", 1.0, 0, 100, "energy of a VPU op")   \
  NUM(double, sram_pj_per_byte, "power.sram_pj_per_byte", "pJ/byte", 0.6, 0, 100,                 \
      "SRAM access energy")                                                                       \
  NUM(double, hbm_pj_per_bit, "power.hbm_pj_per_bit", "pJ/bit", 3.5, 0, 100, "HBM access energy") \
  NUM(double, noc_pj_per_byte_hop, "power.noc_pj_per_byte_hop", "pJ/byte/hop", 0.5, 0, 100,       \
      "on-chip network energy")                                                                   \
  NUM(double, link_pj_per_bit, "power.link_pj_per_bit", "pJ/bit", 5, 0, 100,                      \
      "chip-to-chip link energy")

#define SEEDCHIP_DIE_PARAMS(NUM, STR)                                              \
  NUM(double, area_mm2, "die.area_mm2", "mm^2", 600, 1, 5000,                      \
      "die area, for the export-control performance density")                      \
  NUM(double, process_nm, "die.process_nm", "nm", 4, 1, 100, "process node class") \
  NUM(int64_t, l2_bytes, "die.l2_bytes", "bytes", 0, 0, int64_t{1} << 34,          \
      "shared last-level cache (GPUs; 0 when the chip has none)")

// The analytic fidelity level (sim/analytic) prices each op class at a fraction of the roofline
// peak; 1.0 and no floor = pure roofline. GPU presets carry values fitted to measurements.
#define SEEDCHIP_EFFICIENCY_PARAMS(NUM, STR)                                                       \
  NUM(double, gemm_large_compute, "efficiency.gemm_large.compute", "ratio", 1, 0.001, 1,           \
      "fraction of peak BF16 FLOP/s a GEMM with M at or above the ridge point sustains")           \
  NUM(double, gemm_large_memory, "efficiency.gemm_large.memory", "ratio", 1, 0.001, 1,             \
      "fraction of peak HBM bandwidth a GEMM with M at or above the ridge point sustains")         \
  NUM(double, gemm_skinny_compute, "efficiency.gemm_skinny.compute", "ratio", 1, 0.001, 1,         \
      "fraction of peak BF16 FLOP/s a GEMM with M below the ridge point (decode) sustains")        \
  NUM(double, gemm_skinny_memory, "efficiency.gemm_skinny.memory", "ratio", 1, 0.001, 1,           \
      "fraction of peak HBM bandwidth a GEMM with M below the ridge point (decode) sustains")      \
  NUM(double, attention_prefill_compute, "efficiency.attention_prefill.compute", "ratio", 1,       \
      0.001, 1, "fraction of peak BF16 FLOP/s causal attention over a prompt sustains")            \
  NUM(double, attention_prefill_memory, "efficiency.attention_prefill.memory", "ratio", 1, 0.001,  \
      1, "fraction of peak HBM bandwidth causal attention over a prompt sustains")                 \
  NUM(double, attention_decode_compute, "efficiency.attention_decode.compute", "ratio", 1, 0.001,  \
      1, "fraction of peak BF16 FLOP/s one-token attention over the KV cache sustains")            \
  NUM(double, attention_decode_memory, "efficiency.attention_decode.memory", "ratio", 1, 0.001, 1, \
      "fraction of peak HBM bandwidth one-token attention over the KV cache sustains")             \
  NUM(double, elementwise_memory, "efficiency.elementwise.memory", "ratio", 1, 0.001, 1,           \
      "fraction of peak HBM bandwidth norms, residual adds, RoPE and activations sustain")         \
  NUM(double, allreduce_link, "efficiency.allreduce.link", "ratio", 1, 0.001, 1,                   \
      "fraction of the chip-link bandwidth (links.count x links.gbytes_per_s) a ring all-reduce "  \
      "sustains")                                                                                  \
  NUM(double, allreduce_step_ns, "efficiency.allreduce.step_ns", "ns", 0, 0, 1e9,                  \
      "synchronisation cost of one ring all-reduce step, added to links.latency_ns")               \
  NUM(double, kernel_min_cycles, "efficiency.kernel_min_cycles", "cycles", 0, 0, 1e9,              \
      "shortest time one kernel (one op of a step) takes, in core clock cycles: launch, "          \
      "synchronisation and pipeline fill that no op avoids")

#define SEEDCHIP_DECLARE_NUM_FIELD(type, member, key, unit, def, lo, hi, desc) type member = def;
#define SEEDCHIP_DECLARE_STR_FIELD(member, key, def, choices, desc) std::string member = def;
#define SEEDCHIP_DECLARE_CONFIG_STRUCT(Name, TABLE)               \
  struct Name {                                                   \
    TABLE(SEEDCHIP_DECLARE_NUM_FIELD, SEEDCHIP_DECLARE_STR_FIELD) \
    bool operator==(const Name&) const = default;                 \
  };

SEEDCHIP_DECLARE_CONFIG_STRUCT(CoreConfig, SEEDCHIP_CORE_PARAMS)
SEEDCHIP_DECLARE_CONFIG_STRUCT(MxuConfig, SEEDCHIP_MXU_PARAMS)
SEEDCHIP_DECLARE_CONFIG_STRUCT(VpuConfig, SEEDCHIP_VPU_PARAMS)
SEEDCHIP_DECLARE_CONFIG_STRUCT(SramConfig, SEEDCHIP_SRAM_PARAMS)
SEEDCHIP_DECLARE_CONFIG_STRUCT(DmaConfig, SEEDCHIP_DMA_PARAMS)
SEEDCHIP_DECLARE_CONFIG_STRUCT(NocConfig, SEEDCHIP_NOC_PARAMS)
SEEDCHIP_DECLARE_CONFIG_STRUCT(HbmTiming, SEEDCHIP_HBM_TIMING_PARAMS)
SEEDCHIP_DECLARE_CONFIG_STRUCT(LinkConfig, SEEDCHIP_LINK_PARAMS)
SEEDCHIP_DECLARE_CONFIG_STRUCT(PowerConfig, SEEDCHIP_POWER_PARAMS)
SEEDCHIP_DECLARE_CONFIG_STRUCT(DieConfig, SEEDCHIP_DIE_PARAMS)
SEEDCHIP_DECLARE_CONFIG_STRUCT(EfficiencyConfig, SEEDCHIP_EFFICIENCY_PARAMS)

struct HbmConfig {
  SEEDCHIP_HBM_PARAMS(SEEDCHIP_DECLARE_NUM_FIELD, SEEDCHIP_DECLARE_STR_FIELD)
  HbmTiming timing;
  bool operator==(const HbmConfig&) const = default;
};

// The whole chip. `name` and `description` come from the preset; `kind` says whether the chip is
// one of our designs or a reference we model for comparison.
struct ChipConfig {
  std::string name = "seedchip-v1";
  std::string description;
  std::string kind = "seedchip";  // seedchip | gpu | npu
  CoreConfig core;
  MxuConfig mxu;
  VpuConfig vpu;
  SramConfig sram;
  DmaConfig dma;
  NocConfig noc;
  HbmConfig hbm;
  LinkConfig links;
  PowerConfig power;
  DieConfig die;
  EfficiencyConfig efficiency;
  bool operator==(const ChipConfig&) const = default;

  int64_t core_count() const { return core.mesh_x * core.mesh_y; }
};

// Every table above with the struct member it fills, for generic walkers (loader, schema, info):
// X(TABLE, member-of-ChipConfig)
#define SEEDCHIP_ALL_PARAM_TABLES(X)        \
  X(SEEDCHIP_CORE_PARAMS, core)             \
  X(SEEDCHIP_MXU_PARAMS, mxu)               \
  X(SEEDCHIP_VPU_PARAMS, vpu)               \
  X(SEEDCHIP_SRAM_PARAMS, sram)             \
  X(SEEDCHIP_DMA_PARAMS, dma)               \
  X(SEEDCHIP_NOC_PARAMS, noc)               \
  X(SEEDCHIP_HBM_PARAMS, hbm)               \
  X(SEEDCHIP_HBM_TIMING_PARAMS, hbm.timing) \
  X(SEEDCHIP_LINK_PARAMS, links)            \
  X(SEEDCHIP_POWER_PARAMS, power)           \
  X(SEEDCHIP_DIE_PARAMS, die)               \
  X(SEEDCHIP_EFFICIENCY_PARAMS, efficiency)

}  // namespace seedchip
