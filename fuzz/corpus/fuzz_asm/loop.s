# count x1 down from 64
  li x1, 64
top: addi x1, x1, -1
  bne x1, x0, top
  halt
