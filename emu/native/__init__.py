"""goemu's own native hook library: build (zig's clang, for the host), cache, load.

The C source (hooks.c next to this file) is compiled at first use by the same
pip-installed zig that cross-compiles runtime_c, into a shared library cached
by content hash under the build cache (emu/build.py's ``cache_dir()``), and
loaded with ctypes.  A library that cannot be built or loaded raises one
:class:`NativeBuildError` carrying the compiler's (or the loader's) message.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from ..build import cache_dir, compiler_version
from ..errors import BuildError

SOURCE_DIR = Path(__file__).resolve().parent
SOURCES = ("hooks.c",)
FLAGS = ["-shared", "-fPIC", "-O2", "-nostdlib", "-Wall", "-Wextra", "-Werror", "-g0"]
ABI = 1


class NativeBuildError(BuildError):
    """goemu's native hook library could not be compiled or loaded."""


def library_key() -> str:
    h = hashlib.sha256()
    h.update(compiler_version().encode())
    h.update(repr((FLAGS, sys.platform, os.uname().machine)).encode())
    for name in SOURCES:
        h.update(name.encode() + b"\0" + (SOURCE_DIR / name).read_bytes() + b"\0")
    return h.hexdigest()[:20]


def build(sources: list[Path] | None = None, out: Path | None = None) -> Path:
    """Compile the library (only on a cache miss); returns its path."""
    srcs = sources or [SOURCE_DIR / n for n in SOURCES]
    if out is None:
        out = cache_dir() / f"native-{library_key()}" / "libgoemu_hooks.so"
        if out.exists():
            return out
    return compile_shared(srcs, out, FLAGS, "native hooks")


def compile_shared(srcs: list[Path], out: Path, flags: list[str], what: str) -> Path:
    """Compile C sources into the host shared library ``out`` with zig's clang,
    atomically (parallel test workers may race).  Every host library of goemu's
    (the hooks here, the collector's walk in emu/gcnative.py) is built by this."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    cmd = [sys.executable, "-m", "ziglang", "cc", *flags, *map(str, srcs), "-o", str(tmp)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise NativeBuildError(f"cannot run the compiler for goemu's {what}: {e}") from e
    if res.returncode != 0:
        names = ", ".join(p.name for p in srcs)
        raise NativeBuildError(f"{what} ({names}): compile failed:\n" + res.stderr.strip())
    os.replace(tmp, out)
    return out


def build_source(prefix: str, source: str, flags: list[str], what: str) -> ctypes.CDLL:
    """A host library compiled from the C text ``source`` on first use, cached
    under goemu's cache by a hash of the text, the flags, the platform and the
    compiler's version, and loaded (the collector's walk, the history's
    dirty-page hook).  Raises NativeBuildError (a build) or OSError (a load)."""
    import hashlib

    from ..build import cache_dir, compiler_version
    key = hashlib.sha256((source + repr(flags) + sys.platform + compiler_version()).encode()).hexdigest()[:16]
    so = cache_dir() / "native" / f"{prefix}-{key}.so"
    if not so.exists():
        src = so.with_name(f"{prefix}-{key}.{os.getpid()}.c")
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(source)
        try:
            compile_shared([src], so, flags, what)
        finally:
            src.unlink(missing_ok=True)
    return ctypes.CDLL(str(so))


def load_library(path: Path) -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as e:
        raise NativeBuildError(f"cannot load goemu's native hooks ({path.name}): {e}") from e
    try:
        abi = lib.goemu_abi()
    except AttributeError as e:
        raise NativeBuildError(f"{path.name} is not goemu's native hook library: {e}") from e
    if abi != ABI:
        raise NativeBuildError(f"{path.name}: ABI {abi}, expected {ABI}")
    lib.goemu_counter_size.restype = ctypes.c_uint32
    lib.goemu_counter_slots.restype = ctypes.c_uint32
    lib.goemu_counter_forget.argtypes = [ctypes.c_void_p]
    lib.goemu_trace_size.restype = ctypes.c_uint32
    lib.goemu_trace_limits.restype = ctypes.c_uint32
    lib.goemu_trace_limits.argtypes = [ctypes.c_uint32]
    for name in ("goemu_trace_init", "goemu_trace_consumed"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.goemu_trace_finish.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    return lib


@lru_cache(maxsize=1)
def library() -> ctypes.CDLL:
    """The loaded library (built at first use)."""
    return load_library(build())
