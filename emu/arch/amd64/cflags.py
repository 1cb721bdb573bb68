"""How runtime_c is compiled for amd64 (zig's clang; emu/build.py adds the flags common to every arch).

- SSE off: the goroutine stacks are only 8-byte aligned, as in Go 1.0, and 6c
  used no vector registers either.
- No red zone: the runtime's C runs on stacks that stubs and hypercalls also
  use below SP.
"""
CFLAGS = ["-target", "x86_64-freestanding-none", "-mcpu=x86_64-sse-sse2", "-mno-red-zone"]
