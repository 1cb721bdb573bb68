"""Compile runtime_c per architecture and variant, cached by content hash.

The cross compiler is zig's clang, installed from PyPI (package ``ziglang``),
so nothing outside pip is needed.  The cache key covers the compiler version,
the flags, the variant and every source and header, so a second run with the
same inputs compiles nothing; any edit recompiles.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from .errors import BuildError
from .resources import ASM_DIR, ROOT, RUNTIME_C, default_cache_dir  # the checkout's folders, or the wheel's

__all__ = ["ASM_DIR", "ROOT", "RUNTIME_C", "compile_runtime"]

VARIANTS = ("buggy", "fixed")

COMMON_FLAGS = [
    "-ffreestanding", "-fno-builtin", "-fno-pic", "-fno-stack-protector", "-O2",
    "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-fno-addrsig",
    "-fomit-frame-pointer", "-fno-jump-tables", "-g", "-Wall", "-Werror",
]
def _target_flags() -> dict[str, list[str]]:
    """Each architecture's own flags, declared in emu/arch/<arch>/cflags.py."""
    from importlib import import_module

    from .arch import ARCH_NAMES
    return {a: list(import_module(f".arch.{a}.cflags", __package__).CFLAGS) for a in ARCH_NAMES}


TARGET_FLAGS = _target_flags()
VARIANT_FLAGS = {"buggy": [], "fixed": ["-DGOEMU_FIXED=1"]}


def cache_dir() -> Path:
    """``$GOEMU_CACHE``, or ``.cache/goemu`` in the checkout (the user's cache folder when installed)."""
    return Path(os.environ.get("GOEMU_CACHE") or default_cache_dir())


def sources() -> list[Path]:
    return sorted(RUNTIME_C.glob("*.c"))


@lru_cache(maxsize=1)
def compiler_version() -> str:
    try:
        out = subprocess.run([sys.executable, "-m", "ziglang", "version"], capture_output=True, check=False,
                             text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:  # pragma: no cover - environment
        raise BuildError(f"cannot run the cross compiler (python -m ziglang): {e}") from e
    if out.returncode != 0:
        raise BuildError("cannot run the cross compiler (python -m ziglang): " + out.stderr.strip())
    return out.stdout.strip()


def cache_key(arch: str, variant: str) -> str:
    h = hashlib.sha256()
    h.update(compiler_version().encode())
    h.update(repr((COMMON_FLAGS, TARGET_FLAGS[arch], VARIANT_FLAGS[variant])).encode())
    for p in sorted(RUNTIME_C.glob("*.[ch]")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:20]


def compile_runtime(arch: str, variant: str) -> list[Path]:
    """Return the runtime_c objects for ``arch``/``variant``, compiling only on
    a cache miss.  Raises BuildError with the compiler's message on failure."""
    if arch not in TARGET_FLAGS:
        raise BuildError(f"unknown architecture {arch!r} (amd64 or arm)")
    if variant not in VARIANT_FLAGS:
        raise BuildError(f"unknown variant {variant!r} (buggy or fixed)")
    out_dir = cache_dir() / f"{arch}-{variant}-{cache_key(arch, variant)}"
    objs = [out_dir / (src.stem + ".o") for src in sources()]
    if all(o.exists() for o in objs):
        return objs
    out_dir.mkdir(parents=True, exist_ok=True)
    for src, obj in zip(sources(), objs):
        tmp = obj.with_suffix(f".{os.getpid()}.tmp")
        cmd = [sys.executable, "-m", "ziglang", "cc", *COMMON_FLAGS, *TARGET_FLAGS[arch],
               *VARIANT_FLAGS[variant], "-c", str(src), "-o", str(tmp)]
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=RUNTIME_C, check=False)
        if res.returncode != 0:
            raise BuildError(f"{src.relative_to(ROOT)}: compile failed for {arch}/{variant}:\n"
                             + res.stderr.strip())
        os.replace(tmp, obj)   # atomic: parallel test workers may race here
    return objs
