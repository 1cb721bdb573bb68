"""The generated repeated-leak program (goemu plot, the trace and cycle benchmarks)."""
from __future__ import annotations


def repeated_leak(arch: str, rounds: int, seed: int = 1) -> str:
    """main calls leak(size, n) ``rounds`` times, each with a different object
    size and list length, and collects after each call.  leak has a 4096-byte
    frame, so every call runs on a new segment and returns through lessstack
    with the list's head in AX/R0."""
    import random
    rng = random.Random(seed)
    sizes = [8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
    calls = [(rng.choice(sizes), rng.randint(1, 6)) for _ in range(rounds)]
    if arch == "amd64":
        body = ["TEXT leak, $4096-16",
                "\tmov qword ptr [rsp + 16], 0",
                "build:",
                "\tmov rax, qword ptr [FP]",
                "\tmov qword ptr [rsp], rax",
                "\tcall runtime.new",
                "\tmov rax, qword ptr [rsp + 8]",
                "\tmov rcx, qword ptr [rsp + 16]",
                "\tmov qword ptr [rax], rcx",
                "\tmov qword ptr [rsp + 16], rax",
                "\tdec qword ptr [FP + 8]",
                "\tjnz build",
                "\tmov rax, qword ptr [rsp + 16]",
                "\tmov qword ptr [rsp + 16], 0",
                "\tmov qword ptr [rsp + 8], 0",
                "\tRET", "", "TEXT main, $32-0"]
        for size, n in calls:
            body += [f"\tmov qword ptr [rsp], {size}", f"\tmov qword ptr [rsp + 8], {n}",
                     "\tcall leak", "\tcall runtime.gc"]
    else:
        body = ["TEXT leak, $4096-8",
                "\tmov r0, #0",
                "\tstr r0, [sp, #16]",
                "build:",
                "\tldr r0, [FP]",
                "\tstr r0, [sp, #4]",
                "\tbl runtime.new",
                "\tldr r0, [sp, #8]",
                "\tldr r1, [sp, #16]",
                "\tstr r1, [r0]",
                "\tstr r0, [sp, #16]",
                "\tldr r1, [FP, #4]",
                "\tsubs r1, r1, #1",
                "\tstr r1, [FP, #4]",
                "\tbne build",
                "\tldr r0, [sp, #16]",
                "\tmov r1, #0",
                "\tstr r1, [sp, #16]",
                "\tstr r1, [sp, #8]",
                "\tRET", "", "TEXT main, $32-0"]
        for size, n in calls:
            body += [f"\tmov r0, #{size}", "\tstr r0, [sp, #4]", f"\tmov r0, #{n}", "\tstr r0, [sp, #8]",
                     "\tbl leak", "\tbl runtime.gc"]
    body.append("\tRET")
    return "\n".join(body) + "\n"
