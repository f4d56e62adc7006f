.core 0
  coreid x1
  sem.signal.remote x1, s2, 1
.core 1-3,5
  sem.wait s2, 1
  barrier
.core all
  jmp end
end:
