"""Where goemu's own files are: the runtime's C sources and assembly stubs,
and the build cache.

In a checkout (``make``, ``pip install -e .``) they are the top-level
``runtime_c/`` and ``asm/`` folders and the cache is ``.cache/goemu`` next to
them.  An installed wheel carries copies of both folders as package data under
``emu/_runtime/`` (setup.py copies them at build time) and caches in the
user's cache folder, since site-packages may be read-only.
``$GOEMU_CACHE`` overrides the cache folder in both cases.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent
BUNDLED = PACKAGE / "_runtime"          # what setup.py's build_py writes into the wheel

IN_CHECKOUT = (CHECKOUT / "runtime_c").is_dir() and (CHECKOUT / "asm").is_dir()
ROOT = CHECKOUT if IN_CHECKOUT else BUNDLED
RUNTIME_C = ROOT / "runtime_c"
ASM_DIR = ROOT / "asm"
DEMO_DIR = PACKAGE / "demos"


def default_cache_dir() -> Path:
    if IN_CHECKOUT:
        return CHECKOUT / ".cache" / "goemu"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "goemu"
