"""goemu plot: live heap bytes after each collection, buggy vs fixed."""
from __future__ import annotations

from pathlib import Path

from .arch import ARCH_NAMES
from .run import load_program, run_program
from .workloads import repeated_leak


def live_bytes(arch: str, variant: str, rounds: int) -> list[int]:
    """Bytes in objects the collector kept, per collection, minus the G (always live)."""
    src = repeated_leak(arch, rounds)
    r = run_program(arch, variant, load_program(None, text=src, name=f"repeated-leak-{arch}.s"))
    return [sum(o.size for o in g.retained if not (o.root or "").startswith("data runtime·allg"))
            for g in r.gcs]


def plot_leak_workload(output: str, rounds: int = 24, archs: list[str] | None = None) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    archs = archs or list(ARCH_NAMES)
    fig, axes = plt.subplots(1, len(archs), figsize=(6 * len(archs), 4), squeeze=False)
    for ax, arch in zip(axes[0], archs):
        for variant, style in (("buggy", "o-"), ("fixed", "s--")):
            ys = live_bytes(arch, variant, rounds)
            ax.plot(range(1, len(ys) + 1), ys, style, label=variant, markersize=4)
        ax.set_title(f"{arch}: heap kept after each collection")
        ax.set_xlabel("collection (one leaking call before each)")
        ax.set_ylabel("live bytes, excluding the goroutine's G")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle("m->cret pins the last list returned across a segment boundary (buggy) - cleared by 89b075cc (fixed)",
                 fontsize=10)
    fig.tight_layout()
    path = Path(output)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
