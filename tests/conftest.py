"""Suite-wide test settings.

Collections also start inside allocations (Go 1.0's GOGC trigger,
tests/gc/test_gc_trigger.py).  The modules listed here were written about the
program's own runtime.gc calls -- how many there are, what each one frees, the
leak tools' analysis at each of them, manual frees between them -- so they run
with GOGC=off, which leaves exactly those collections.  Under the default
(GOGC=100) a program's first runtime.new also collects (next_gc starts at 0).
"""
from __future__ import annotations

from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent
EXPLICIT_ONLY = {
    "alloc/test_heap_view.py",
    "alloc/test_size_classes.py",
    "leaks/test_leaks_cli.py",
    "leaks/test_leaks_demos.py",
    "leaks/test_leaks_generated.py",
    "leaks/test_leaks_watch.py",
    "workloads/test_workloads.py",
}


@pytest.fixture(autouse=True)
def _gogc_off_for_explicit_only_modules(request, monkeypatch):
    try:
        rel = Path(str(request.node.path)).resolve().relative_to(_ROOT).as_posix()
    except ValueError:
        return
    if rel in EXPLICIT_ONLY:
        monkeypatch.setenv("GOGC", "off")
