"""The machine's runtime events, stored in columns.

A long run of the hot-split workload publishes a split and an unsplit event
every ~170 instructions: 8.6 million events in 10^9 instructions.  As a list
of ``Event`` objects each with its own ``detail`` dict that is ~420 bytes an
event (3.6 GB at 10^9 instructions: more than the debugger's whole memory
bound).  ``EventLog`` keeps the same sequence in typed arrays: kind, position,
pc, and the detail's integer values (a detail's keys are stored once per
shape), ~45 bytes an event; a detail holding anything else than integers (a
collection's report) is kept as it is.  ``Event`` objects are built when an
event is looked at.

It is a sequence of Events: ``len``, indexing and slices, iteration (also
reversed), ``append``/``extend``, ``del log[n:]`` (the debugger's restore), and
``==`` with a list.
"""
from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator

_U64 = 1 << 64


class EventLog:
    def __init__(self, event_type):
        self._Event = event_type
        self._kinds: list[str] = []            # kind names; _kind holds their index
        self._kind_ix: dict[str, int] = {}
        self._shapes: list[tuple[str, ...]] = []   # detail keys; _shape holds their index
        self._shape_ix: dict[tuple[str, ...], int] = {}
        self._kind = array("H")
        self._icount = array("q")
        self._pc = array("Q")
        self._shape = array("i")               # -1: the detail is in _objs
        self._voff = array("Q")                # where the event's values start in _vals
        self._vals = array("Q")
        self._objs: dict[int, dict] = {}

    # -- adding -------------------------------------------------------------------------------
    def _kid(self, kind: str) -> int:
        k = self._kind_ix.get(kind)
        if k is None:
            k = self._kind_ix[kind] = len(self._kinds)
            self._kinds.append(kind)
        return k

    def _sid(self, keys: tuple[str, ...]) -> int:
        s = self._shape_ix.get(keys)
        if s is None:
            s = self._shape_ix[keys] = len(self._shapes)
            self._shapes.append(keys)
        return s

    def add(self, kind: str, icount: int, pc: int, detail: dict | None) -> None:
        i = len(self._kind)
        self._kind.append(self._kid(kind))
        self._icount.append(icount)
        self._pc.append(pc & (_U64 - 1))
        self._redo(i, detail if detail is not None else {})

    def append(self, ev) -> None:
        self.add(ev.kind, ev.icount, ev.pc, ev.detail)

    def extend(self, evs: Iterable) -> None:
        for ev in evs:
            self.add(ev.kind, ev.icount, ev.pc, ev.detail)

    def extend_typed(self, names, keys, which, icounts, pcs, values) -> None:
        """Events given as whole columns (the native event ring's drain, no
        per-event Python): event ``i`` is of type ``which[i]``, whose kind is
        ``names[t]`` and whose detail has the keys ``keys[t]`` with the
        values ``values[t][:, j]`` (a 2-D unsigned array, one row per event of
        that type, in order).  ``icounts`` and ``pcs``: one per event."""
        import numpy as np
        which = np.asarray(which, dtype=np.intp)
        n = len(which)
        if not n:
            return
        kid = np.array([self._kid(k) for k in names], dtype=np.uint16)
        sid = np.empty(len(keys), dtype=np.int32)
        for t, ks in enumerate(keys):
            sid[t] = self._sid(tuple(ks))
        width = np.array([len(ks) for ks in keys], dtype=np.uint64)
        w = width[which]
        ends = np.cumsum(w, dtype=np.uint64)
        voff = ends - w                                  # where each event's values start, from 0
        vals = np.empty(int(ends[-1]) if n else 0, dtype=np.uint64)
        for t in range(len(keys)):
            idx = np.flatnonzero(which == t)
            if not len(idx) or not width[t]:
                continue
            v = np.asarray(values[t], dtype=np.uint64).reshape(len(idx), int(width[t]))
            at = voff[idx]
            for j in range(int(width[t])):
                vals[at + np.uint64(j)] = v[:, j]
        self._kind.frombytes(kid[which].tobytes())
        self._icount.frombytes(np.asarray(icounts, dtype=np.int64).tobytes())
        self._pc.frombytes(np.asarray(pcs, dtype=np.uint64).tobytes())
        self._shape.frombytes(sid[which].tobytes())
        self._voff.frombytes((voff + np.uint64(len(self._vals))).tobytes())
        self._vals.frombytes(vals.tobytes())

    def _redo(self, i: int, d: dict) -> None:
        """The general path of ``add`` for event ``i`` whose columns other than
        the detail are already written."""
        vals = d.values()
        self._voff.append(len(self._vals))
        if all(type(v) is int and 0 <= v < _U64 for v in vals):
            self._shape.append(self._sid(tuple(d)))
            self._vals.extend(vals)
        else:
            self._shape.append(-1)
            self._objs[i] = d

    # -- reading --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._kind)

    def _event(self, i: int):
        s = self._shape[i]
        if s < 0:
            detail = self._objs[i]
        else:
            keys = self._shapes[s]
            o = self._voff[i]
            detail = dict(zip(keys, self._vals[o:o + len(keys)]))
        return self._Event(self._kinds[self._kind[i]], self._icount[i], self._pc[i], detail)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._event(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("event index out of range")
        return self._event(i)

    def __iter__(self) -> Iterator:
        for i in range(len(self)):
            yield self._event(i)

    def __reversed__(self) -> Iterator:
        for i in range(len(self) - 1, -1, -1):
            yield self._event(i)

    def __eq__(self, other) -> bool:
        if isinstance(other, EventLog):
            other = list(other)
        return isinstance(other, list) and list(self) == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"EventLog({len(self)} events)"

    def count(self, kind: str) -> int:
        """How many events of ``kind`` (one numpy pass, no Event objects)."""
        import numpy as np
        k = self._kind_ix.get(kind)
        if k is None or not len(self._kind):
            return 0
        return int(np.count_nonzero(np.frombuffer(self._kind, dtype=np.uint16) == k))

    # -- forgetting -------------------------------------------------------------------------------
    def __delitem__(self, i) -> None:
        if not isinstance(i, slice) or i.step not in (None, 1) or \
                i.indices(len(self))[1] != len(self):
            raise TypeError("an event log can only be cut at the end (del log[n:])")
        n = i.indices(len(self))[0]
        if n >= len(self):
            return
        voff = self._voff[n]
        for col in (self._kind, self._icount, self._pc, self._shape, self._voff):
            del col[n:]
        del self._vals[voff:]
        if self._objs:
            for j in [j for j in self._objs if j >= n]:
                del self._objs[j]

    def copy(self) -> EventLog:
        """An independent copy (the columns copied as bytes, no Event objects)."""
        new = EventLog(self._Event)
        new._kinds, new._kind_ix = list(self._kinds), dict(self._kind_ix)
        new._shapes, new._shape_ix = list(self._shapes), dict(self._shape_ix)
        for name in ("_kind", "_icount", "_pc", "_shape", "_voff", "_vals"):
            setattr(new, name, getattr(self, name)[:])
        new._objs = dict(self._objs)
        return new

    def clear(self) -> None:
        del self[0:]

    def nbytes(self) -> int:
        return sum(c.itemsize * len(c) for c in (self._kind, self._icount, self._pc, self._shape, self._voff,
                                                 self._vals))
