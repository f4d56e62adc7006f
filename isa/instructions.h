#pragma once
// THE instruction table of the SeedChip ISA: the single source for the encoder, decoder, assembler,
// disassembler, the generated reference (docs/isa.md) and the simulator's dispatch.
//
// X(ENUM, "mnemonic", UNIT, "operands", "semantics")
//
// Operands, in assembly order, are space-separated `name:kind`:
//   reg    scalar register x0..x31 (x0 reads as 0; writes to it are dropped)
//   sem    semaphore s0..s31 or `-` for none
//   imm16 / imm32 / imm48   signed integer immediates
//   f32    an FP32 immediate (decimal or hex float), stored as its IEEE-754 bits
//   label  branch target: an instruction index, written as a label name in assembly
//   flag   0 or 1
//   dtype  a numeric format name: fp32 bf16 fp16 fp8e4m3 fp8e5m2 int8 int32
// Asynchronous unit instructions (MXU, VPU, DMA) end with `wait:sem signal:sem`: the unit waits at
// the head of its queue until the wait semaphore is >= 1 and decrements it, and increments the
// signal semaphore when the instruction has completed. Addresses are byte addresses held in
// registers: SRAM addresses are local to the core, HBM addresses global to the chip.
//
// Units: SCALAR and SYNC instructions execute in the in-order sequencer; MXU, VPU and DMA
// instructions are queued to their unit and run in parallel with the sequencer.

#define SEEDCHIP_INSTRUCTIONS(X)                                                                   \
  /* ---- scalar and control ---- */                                                              \
  X(NOP, "nop", SCALAR, "", "no operation")                                                        \
  X(HALT, "halt", SCALAR, "", "wait for every unit of this core to drain, then stop the core")    \
  X(LI, "li", SCALAR, "rd:reg imm:imm48", "rd = imm")                                               \
  X(ADD, "add", SCALAR, "rd:reg ra:reg rb:reg", "rd = ra + rb")                                     \
  X(SUB, "sub", SCALAR, "rd:reg ra:reg rb:reg", "rd = ra - rb")                                     \
  X(MUL, "mul", SCALAR, "rd:reg ra:reg rb:reg", "rd = ra * rb")                                     \
  X(ADDI, "addi", SCALAR, "rd:reg ra:reg imm:imm32", "rd = ra + imm")                               \
  X(MULI, "muli", SCALAR, "rd:reg ra:reg imm:imm32", "rd = ra * imm")                               \
  X(COREID, "coreid", SCALAR, "rd:reg", "rd = index of this core on the chip (row-major in the mesh)") \
  X(CHIPID, "chipid", SCALAR, "rd:reg", "rd = index of this chip in the system")                   \
  X(BLT, "blt", SCALAR, "ra:reg rb:reg target:label", "branch to target when ra < rb (signed)")    \
  X(BNE, "bne", SCALAR, "ra:reg rb:reg target:label", "branch to target when ra != rb")            \
  X(JMP, "jmp", SCALAR, "target:label", "branch to target")                                         \
  /* ---- synchronisation ---- */                                                                 \
  X(SEM_SIGNAL, "sem.signal", SYNC, "s:sem count:imm16", "s += count on this core")                \
  X(SEM_WAIT, "sem.wait", SYNC, "s:sem count:imm16",                                               \
    "stall the sequencer until s >= count, then s -= count")                                       \
  X(SEM_SIGNAL_REMOTE, "sem.signal.remote", SYNC, "core:reg s:sem count:imm16",                    \
    "s += count on core `core`, delivered over the NoC")                                            \
  X(FENCE, "fence", SYNC, "", "stall the sequencer until the MXU, VPU and DMA queues are empty")    \
  X(BARRIER, "barrier", SYNC, "", "fence, then wait until every running core of the chip reaches a barrier") \
  /* ---- DMA ---- */                                                                             \
  X(DMA_LOAD, "dma.load", DMA, "sram:reg hbm:reg rows:reg row_bytes:reg stride:reg wait:sem signal:sem", \
    "copy rows x row_bytes from HBM (row pitch `stride` bytes, which may be less than a row: "       \
    "stride 0 repeats one row) to SRAM, packed")                     \
  X(DMA_STORE, "dma.store", DMA, "hbm:reg sram:reg rows:reg row_bytes:reg stride:reg wait:sem signal:sem", \
    "copy rows x row_bytes from packed SRAM to HBM (row pitch `stride` bytes)")                      \
  X(DMA_COPY, "dma.copy", DMA, "core:reg dst:reg src:reg bytes:reg wait:sem signal:sem",           \
    "copy bytes from this core's SRAM at src to core `core`'s SRAM at dst over the NoC")           \
  X(DMA_SEND, "dma.send", DMA, "chip:reg dst:reg src:reg bytes:reg wait:sem signal:sem",           \
    "copy bytes from this chip's HBM at src to chip `chip`'s HBM at dst over the chip links")      \
  /* ---- matrix unit ---- */                                                                     \
  X(MXU_LOAD, "mxu.load", MXU, "w:reg k:reg n:reg type:dtype wait:sem signal:sem",                 \
    "load a k x n weight tile (row-major, k <= mxu.rows, n <= mxu.cols) from SRAM into the array") \
  X(MXU_MATMUL, "mxu.matmul", MXU,                                                                 \
    "out:reg in:reg m:reg in_stride:reg out_stride:reg acc:flag type:dtype acc_type:dtype wait:sem signal:sem", \
    "stream m input rows of k elements (pitch in_stride bytes) through the loaded tile; write "      \
    "(acc=0) or add to (acc=1) the m x n result of acc_type (fp32, or int32 for int8) at out "       \
    "(pitch out_stride bytes)")                                                                      \
  /* ---- vector unit: elementwise on n elements of `type` ---- */                                \
  X(VPU_ADD, "vpu.add", VPU, "d:reg a:reg b:reg n:reg type:dtype wait:sem signal:sem", "d = a + b") \
  X(VPU_SUB, "vpu.sub", VPU, "d:reg a:reg b:reg n:reg type:dtype wait:sem signal:sem", "d = a - b") \
  X(VPU_MUL, "vpu.mul", VPU, "d:reg a:reg b:reg n:reg type:dtype wait:sem signal:sem", "d = a * b") \
  X(VPU_DIV, "vpu.div", VPU, "d:reg a:reg b:reg n:reg type:dtype wait:sem signal:sem",            \
    "d = a / b (integers: truncated toward zero, wrapping; 0 where b is 0)")                       \
  X(VPU_MAX, "vpu.max", VPU, "d:reg a:reg b:reg n:reg type:dtype wait:sem signal:sem", "d = max(a, b)") \
  X(VPU_MIN, "vpu.min", VPU, "d:reg a:reg b:reg n:reg type:dtype wait:sem signal:sem", "d = min(a, b)") \
  X(VPU_ADDS, "vpu.adds", VPU, "d:reg a:reg n:reg c:f32 type:dtype wait:sem signal:sem", "d = a + c") \
  X(VPU_MULS, "vpu.muls", VPU, "d:reg a:reg n:reg c:f32 type:dtype wait:sem signal:sem", "d = a * c") \
  X(VPU_MOV, "vpu.mov", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = a")           \
  X(VPU_EXP, "vpu.exp", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = exp(a)")      \
  X(VPU_LOG, "vpu.log", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = ln(a)")       \
  X(VPU_RSQRT, "vpu.rsqrt", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = 1/sqrt(a)") \
  X(VPU_SQRT, "vpu.sqrt", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = sqrt(a)")   \
  X(VPU_RECIP, "vpu.recip", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = 1/a")     \
  X(VPU_TANH, "vpu.tanh", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = tanh(a)")   \
  X(VPU_SILU, "vpu.silu", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = a * sigmoid(a)") \
  X(VPU_GELU, "vpu.gelu", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem",                \
    "d = 0.5 a (1 + erf(a / sqrt(2)))")                                                              \
  X(VPU_RELU, "vpu.relu", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = max(a, 0)") \
  X(VPU_CVT, "vpu.cvt", VPU, "d:reg a:reg n:reg from:dtype to:dtype wait:sem signal:sem",          \
    "convert n elements, round to nearest even, saturating for int8/int32 and OCP FP8")            \
  /* ---- vector unit: tile ops on a rows x cols row-major tile ---- */                            \
  X(VPU_RSUM, "vpu.rsum", VPU, "d:reg a:reg rows:reg cols:reg type:dtype wait:sem signal:sem",     \
    "d[r] = sum over c of a[r][c] (fp32 accumulation)")                                             \
  X(VPU_RMAX, "vpu.rmax", VPU, "d:reg a:reg rows:reg cols:reg type:dtype wait:sem signal:sem",     \
    "d[r] = max over c of a[r][c]")                                                                  \
  X(VPU_ADDB, "vpu.addb", VPU, "d:reg a:reg v:reg rows:reg cols:reg type:dtype wait:sem signal:sem", \
    "d[r][c] = a[r][c] + v[c] (row vector broadcast)")                                               \
  X(VPU_MULB, "vpu.mulb", VPU, "d:reg a:reg v:reg rows:reg cols:reg type:dtype wait:sem signal:sem", \
    "d[r][c] = a[r][c] * v[c] (row vector broadcast)")                                               \
  X(VPU_SUBC, "vpu.subc", VPU, "d:reg a:reg v:reg rows:reg cols:reg type:dtype wait:sem signal:sem", \
    "d[r][c] = a[r][c] - v[r] (column vector broadcast)")                                            \
  X(VPU_MULC, "vpu.mulc", VPU, "d:reg a:reg v:reg rows:reg cols:reg type:dtype wait:sem signal:sem", \
    "d[r][c] = a[r][c] * v[r] (column vector broadcast)")                                            \
  /* ---- vector unit: rounding, trigonometry, comparison and select (added after the above, so  \
     earlier opcodes keep their numbers) ---- */                                                   \
  X(VPU_ERF, "vpu.erf", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = erf(a)")      \
  X(VPU_SIN, "vpu.sin", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = sin(a)")      \
  X(VPU_COS, "vpu.cos", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = cos(a)")      \
  X(VPU_FLOOR, "vpu.floor", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = floor(a)") \
  X(VPU_CEIL, "vpu.ceil", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem", "d = ceil(a)")   \
  X(VPU_ROUND, "vpu.round", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem",                \
    "d = a rounded to the nearest integer, ties to even")                                            \
  X(VPU_SIGN, "vpu.sign", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem",                  \
    "d = -1, 0 or 1 as a is negative, zero or positive (NaN stays NaN)")                             \
  X(VPU_CMPLT, "vpu.cmplt", VPU, "d:reg a:reg b:reg n:reg type:dtype wait:sem signal:sem",          \
    "d = 1 where a < b, else 0 (false when either is NaN)")                                           \
  X(VPU_CMPLE, "vpu.cmple", VPU, "d:reg a:reg b:reg n:reg type:dtype wait:sem signal:sem",          \
    "d = 1 where a <= b, else 0 (false when either is NaN)")                                          \
  X(VPU_CMPEQ, "vpu.cmpeq", VPU, "d:reg a:reg b:reg n:reg type:dtype wait:sem signal:sem",          \
    "d = 1 where a == b, else 0 (false when either is NaN)")                                          \
  X(VPU_SEL, "vpu.sel", VPU, "d:reg a:reg b:reg m:reg n:reg type:dtype wait:sem signal:sem",         \
    "d = a where m != 0, else b (m in the same format)")                                          \
  /* ---- DMA with run-time addresses (added after the above) ---- */                              \
  X(DMA_GATHER, "dma.gather", DMA,                                                                 \
    "sram:reg hbm:reg idx:reg rows:reg row_bytes:reg stride:reg limit:reg wait:sem signal:sem",      \
    "copy rows x row_bytes from HBM to SRAM, packed; row r comes from hbm + idx[r] x stride, where " \
    "idx is `rows` int32 indices in this core's SRAM, read when the transfer starts; an index "      \
    "outside [0, limit) stops the chip with an error")                                            \
  /* ---- vector unit: inverse trigonometry (added after the above) ---- */                       \
  X(VPU_ATAN, "vpu.atan", VPU, "d:reg a:reg n:reg type:dtype wait:sem signal:sem",                 \
    "d = atan(a), in [-pi/2, pi/2]")                                                               \
  /* ---- vector unit: wrapping integer arithmetic (added after the above). Two's complement     \
     modulo 2^bits, as ONNX integer tensors behave; the same bits serve signed and unsigned      \
     operands. ---- */                                                                             \
  X(VPU_ADDW, "vpu.addw", VPU, "d:reg a:reg b:reg n:reg type:dtype wait:sem signal:sem",           \
    "d = a + b modulo 2^bits (int8, int32)")                                                       \
  X(VPU_SUBW, "vpu.subw", VPU, "d:reg a:reg b:reg n:reg type:dtype wait:sem signal:sem",           \
    "d = a - b modulo 2^bits (int8, int32)")                                                       \
  X(VPU_MULW, "vpu.mulw", VPU, "d:reg a:reg b:reg n:reg type:dtype wait:sem signal:sem",           \
    "d = a * b modulo 2^bits (int8, int32)")                                                       \
  /* ---- DMA: run-time addresses on the HBM side of a store (added after the above) ---- */      \
  X(DMA_SCATTER, "dma.scatter", DMA,                                                               \
    "hbm:reg sram:reg idx:reg rows:reg row_bytes:reg stride:reg limit:reg wait:sem signal:sem",      \
    "copy rows x row_bytes from packed SRAM to HBM; row r goes to hbm + idx[r] x stride, where "   \
    "idx is `rows` int32 indices in this core's SRAM, read when the transfer starts; an index "      \
    "outside [0, limit) stops the chip with an error")

namespace seedchip::isa {

enum class Unit : uint8_t { SCALAR, SYNC, DMA, MXU, VPU };

#define SEEDCHIP_OPCODE_ENUM(e, m, u, o, d) e,
enum class Opcode : uint8_t { SEEDCHIP_INSTRUCTIONS(SEEDCHIP_OPCODE_ENUM) kCount };
#undef SEEDCHIP_OPCODE_ENUM

}  // namespace seedchip::isa
