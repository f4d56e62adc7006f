# Every core adds two 4096-element BF16 vectors held in HBM and writes the FP32 sum back:
# DMA in, VPU convert and add, DMA out, ordered by semaphores.
#   seedchip sim examples/vector_add.s --chip seedchip-v1 --stats stats.json --trace trace.json
.core all
    coreid  x1                      # x1 = core index
    li      x2, 8192                # bytes per BF16 vector (4096 elements)
    mul     x3, x1, x2              # this core's offset in each input array
    li      x4, 0x1000000           # HBM: vector a at 16 MiB
    add     x4, x4, x3
    li      x5, 0x2000000           # HBM: vector b at 32 MiB
    add     x5, x5, x3
    li      x6, 1                   # one row per transfer
    li      x7, 0                   # SRAM: a
    li      x8, 8192                # SRAM: b
    dma.load x7, x4, x6, x2, x2, -, s0
    dma.load x8, x5, x6, x2, x2, -, s1
    li      x9, 4096                # elements
    li      x10, 16384              # SRAM: a as FP32
    li      x11, 32768              # SRAM: b as FP32
    vpu.cvt x10, x7, x9, bf16, fp32, s0, -
    vpu.cvt x11, x8, x9, bf16, fp32, s1, -
    li      x12, 49152              # SRAM: sum
    vpu.add x12, x10, x11, x9, fp32, -, s2
    li      x13, 16384              # bytes of the FP32 sum
    mul     x14, x1, x13
    li      x15, 0x3000000          # HBM: the sums at 48 MiB
    add     x15, x15, x14
    dma.store x15, x12, x6, x13, x13, s2, s3
    sem.wait s3, 1
    halt
