"""Every collection in the GC tests is followed by the allocator's invariant
checker (emu/heapcheck.py): a sweep that leaves the free lists, the page map
or mstats inconsistent fails the test that ran it."""
from __future__ import annotations

import pytest

import emu.gc
from emu.heapcheck import checked


@pytest.fixture(autouse=True)
def heap_checked_after_every_collection(monkeypatch):
    monkeypatch.setattr(emu.gc, "collect", checked(emu.gc.collect))
