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


@pytest.fixture(autouse=True)
def _gogc_option_reset():
    """--gogc sets a process-wide default (emu.gc.set_default_gogc): undo it after each test."""
    yield
    emu.gc.set_default_gogc(None)


@pytest.fixture
def gogc_off(monkeypatch):
    """For tests about the program's own runtime.gc calls: GOGC=off, so that no
    collection starts inside an allocation and the reports are exactly those
    calls (collections started by allocation: test_gc_trigger.py)."""
    monkeypatch.setenv("GOGC", "off")
