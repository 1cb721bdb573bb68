"""How runtime_c is compiled for ARM (zig's clang; emu/build.py adds the flags common to every arch).

- ARM mode (the triple decides; Go 1.0's 5c emitted ARM, not Thumb).
- R9 holds m, as in Go 1.0's 5c (+reserve_r9).  clang cannot reserve R10
  (g): runtime_c/arch.h says how C copes.
"""
CFLAGS = ["-target", "arm-freestanding-eabi", "-mcpu=cortex_a15+reserve_r9"]
