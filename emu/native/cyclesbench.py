"""make bench's ``cycle account`` rows: what ``--cycles`` and ``--cache-model`` cost over the plain run.

The hot-split workload (emu.bench's ``layers`` workload) at two sizes
(``cfg.insns`` and ten times that), on both architectures.  Each layer is
timed in a child process of its own (the plain run's time depends on what
ran before it in a process by up to 50%; in a fresh one it is steady), as
CPU time of ``Machine.run`` after a collection, best of three:

- raw Unicorn (emu.bench._raw_seconds: every goemu hook removed, no instruction count: the stricter baseline the layers table judges against);
- the plain run;
- ``--cycles``, the first account of the process, no file of descriptions
  (it describes every block);
- ``--cycles`` again in the same process (the blocks' descriptions shared,
  emu/cycles/account.py ``_Describer``);
- ``--cycles`` in a process that reads the descriptions a previous one wrote
  (the second ``goemu run --cycles`` of a program);
- ``--cache-model``, first account of its process, no file.

Rows give milliseconds, the share of raw, and the account's cost over the
plain run per instruction.  The profile behind the numbers is in
docs/engine.md ("What bounds the account").
"""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
import time

LAYERS = ("raw", "plain", "cycles", "cycles-again", "cycles-file", "cache-model")
REPS = 3


def _calls(arch: str, insns: int) -> int:
    from ..bench import _hot_machine
    probe = _hot_machine(arch, 200)
    probe.run()
    return max(200, int(200 * insns / probe.icount))


def _child(arch: str, calls: int, layer: str) -> dict:
    """Time one layer in this process: best CPU seconds of REPS runs and the instruction count."""
    from ..bench import _hot_machine, _raw_seconds
    from ..cycles.account import CycleAccount
    best, insns = float("inf"), 0
    for _ in range(REPS):
        if layer == "cycles-again":      # a first account describes the blocks, untimed
            warm = _hot_machine(arch, calls)
            CycleAccount(warm).attach()
            warm.run()
        mc = _hot_machine(arch, calls)
        if layer == "raw":
            ref = _hot_machine(arch, calls)
            ref.run()
            insns = ref.icount
            gc.collect()
            t = time.process_time()
            _raw_seconds(mc, insns, count=False)
            dt = time.process_time() - t
        else:
            if layer != "plain":             # (cycles-file: the file was written by an earlier child)
                CycleAccount(mc, caches=layer == "cache-model").attach()
            gc.collect()
            t = time.process_time()
            mc.run()
            dt = time.process_time() - t
            insns = mc.icount
        best = min(best, dt)
        if layer in ("cycles", "cycles-file", "cache-model"):
            break                        # only the process's first account is the cold case
    return {"seconds": best, "insns": insns}


def _measure(arch: str, calls: int, layer: str, runs: int, files: str) -> dict:
    """``runs`` child processes (each one run for the first-account layers, REPS
    otherwise): the best.  ``files``: the folder of description files (used by
    cycles-file only; the other layers run without one)."""
    out = None
    env = {**os.environ, "GOEMU_CYCLES_DESCRIBE_CACHE": files if layer == "cycles-file" else "0"}
    for _ in range(runs + (layer == "cycles-file")):          # cycles-file: a first child writes the file
        res = subprocess.run([sys.executable, "-m", "emu.native.cyclesbench", arch, str(calls), layer],
                             capture_output=True, text=True, check=False, timeout=600, env=env)
        if res.returncode != 0:
            raise RuntimeError(f"cycle-account bench child ({arch}, {layer}) failed: {res.stderr.strip()[-400:]}")
        got = json.loads(res.stdout)
        if out is None or got["seconds"] < out["seconds"]:
            out = got
    return out


def cycle_account(cfg) -> list:
    from ..bench import ARCHES, Row
    rows = []
    for arch in ARCHES:
        for size in (cfg.insns, 10 * cfg.insns):
            calls = _calls(arch, size)
            with tempfile.TemporaryDirectory(prefix="goemu-describe-") as files:
                got = {layer: _measure(arch, calls, layer, 1 if layer in ("raw", "plain", "cycles-again") else REPS,
                                       files) for layer in LAYERS}
            raw, plain = got["raw"]["seconds"], got["plain"]["seconds"]
            insns = got["plain"]["insns"]
            for layer in LAYERS[1:]:
                s = got[layer]["seconds"]
                over = "" if layer == "plain" else f"; {(s - plain) / insns * 1e9:.0f} ns/insn over the plain run"
                rows.append(Row(f"cycle account: {layer}", arch, f"{s * 1e3:.1f} ms",
                                f"{raw / s:.1%} of raw ({raw * 1e3:.1f} ms), {insns / 1e6:.2f}M insns{over}"))
    return rows


if __name__ == "__main__":
    a, n, layer = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    print(json.dumps(_child(a, n, layer)))
