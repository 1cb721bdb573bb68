# Run by gdb-multiarch -batch -x (gdb's Python API).  Connects to goemu
# gdbserver, stops at lessstack and single-steps N instructions, writing each
# stop's registers (before the instruction at pc executes) as JSON lines.
import json
import os

import gdb

port, elf, out = os.environ["GS_PORT"], os.environ["GS_ELF"], os.environ["GS_OUT"]
steps = int(os.environ["GS_STEPS"])
regs = [(name, int(bits)) for name, bits in (r.split(":") for r in os.environ["GS_REGS"].split(","))]
gdb.execute("set pagination off")
gdb.execute(f"file {elf}")
gdb.execute(f"target remote 127.0.0.1:{port}")
gdb.execute("break lessstack")
gdb.execute("continue")
gdb.execute("delete")
with open(out, "w") as f:
    for i in range(steps + 1):
        frame = gdb.selected_frame()
        f.write(json.dumps({name: int(frame.read_register(name)) & ((1 << bits) - 1)
                            for name, bits in regs}) + "\n")
        if i < steps:
            gdb.execute("stepi", to_string=True)
gdb.execute("detach")
