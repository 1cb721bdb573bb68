"""Architecture registry: ``get_arch("amd64")`` / ``get_arch("arm")``."""
from __future__ import annotations

from ..errors import UsageError
from .base import Arch

ARCH_NAMES = ("amd64", "arm")


def get_arch(name: str) -> Arch:
    if name == "amd64":
        from .amd64 import ARCH
    elif name == "arm":
        from .arm import ARCH
    else:
        raise UsageError(f"unknown architecture {name!r}: choose amd64 or arm")
    return ARCH
