"""The generated repeated-leak program (goemu plot, the trace and cycle benchmarks)."""
from __future__ import annotations

from ..arch import get_arch


def repeated_leak(arch: str, rounds: int, seed: int = 1) -> str:
    """main calls leak(size, n) ``rounds`` times, each with a different object
    size and list length, and collects after each call.  leak has a 4096-byte
    frame, so every call runs on a new segment and returns through lessstack
    with the list's head in AX/R0."""
    import random
    rng = random.Random(seed)
    sizes = [8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
    calls = [(rng.choice(sizes), rng.randint(1, 6)) for _ in range(rounds)]
    # emu/arch/<arch>/programs: leak and main's TEXT line, then one call of leak per round
    a = get_arch(arch)
    call = a.program("repeated_leak_call")
    return a.program("repeated_leak") + "".join(call.format(size=size, n=n) for size, n in calls) + "\tRET\n"
