"""Architecture registry: one sub-package of emu/arch per architecture.

``ARCH_NAMES`` lists the sub-packages found here (sorted), so a new
architecture is one new folder ``emu/arch/<name>/`` whose ``__init__.py``
defines ``ARCH`` (an ``Arch``); every ``--arch`` option and every "for each
architecture" loop reads this tuple.  ``get_arch(name)`` imports that folder
on first use.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..errors import UsageError
from .base import Arch

ARCH_NAMES: tuple[str, ...] = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg))


def get_arch(name: str) -> Arch:
    if name not in ARCH_NAMES:
        raise UsageError(f"unknown architecture {name!r}: choose {' or '.join(ARCH_NAMES)}")
    return importlib.import_module(f"{__name__}.{name}").ARCH
