"""The collector's breadth-first walk, compiled for the host.

Marking a linked list of a million nodes is a million levels: a walk in Python
costs about a microsecond per object, so the walk over the pointer graph
(built by emu/gc.py with numpy) is a small C function, compiled on first use
with the same pip-installed clang that builds runtime_c (``python -m ziglang
cc``) and cached by content hash next to runtime_c's objects.  If it cannot be
built, ``bfs`` returns None and emu/gc.py runs the same walk in Python (the
tests check that both give identical parent links).
"""
from __future__ import annotations

import ctypes
from functools import lru_cache

import numpy as np

SOURCE = r"""
#include <stdint.h>
/* FIFO breadth-first walk from the root words, in root order.  estart[n+1] and
 * tgt[] are the pointer graph (edges of object h: tgt[estart[h] .. estart[h+1])).
 * rw_obj[k]: object root word k points into, or -1.  Out, per object: marked;
 * par = parent object, or -1-k for root word k; via = edge index (-1 for a root);
 * lvl = links from the root; first = the level-1 object of its chain.
 * queue: scratch of n entries.  Returns the number of objects marked. */
int64_t goemu_gc_bfs(int64_t n, const int64_t *estart, const int64_t *tgt, int64_t nroot,
                     const int64_t *rw_obj, uint8_t *marked, int64_t *par, int64_t *via,
                     int32_t *lvl, int64_t *first, int64_t *queue)
{
	int64_t qh = 0, qt = 0, k, e, h, t;
	(void)n;
	for (k = 0; k < nroot; k++) {
		t = rw_obj[k];
		if (t < 0 || marked[t])
			continue;
		marked[t] = 1; par[t] = -1 - k; via[t] = -1; lvl[t] = 1; first[t] = t;
		queue[qt++] = t;
	}
	while (qh < qt) {
		h = queue[qh++];
		for (e = estart[h]; e < estart[h + 1]; e++) {
			t = tgt[e];
			if (marked[t])
				continue;
			marked[t] = 1; par[t] = h; via[t] = e; lvl[t] = lvl[h] + 1; first[t] = first[h];
			queue[qt++] = t;
		}
	}
	return qt;
}

/* Indices of the words w with lo <= w < hi (one pass over the arena). */
int64_t goemu_gc_scan64(const uint64_t *w, int64_t n, uint64_t lo, uint64_t hi, int64_t *out)
{
	int64_t i, k = 0;
	uint64_t span = hi - lo;
	for (i = 0; i < n; i++)
		if (w[i] - lo < span)
			out[k++] = i;
	return k;
}

int64_t goemu_gc_scan32(const uint32_t *w, int64_t n, uint32_t lo, uint32_t hi, int64_t *out)
{
	int64_t i, k = 0;
	uint32_t span = hi - lo;
	for (i = 0; i < n; i++)
		if ((uint32_t)(w[i] - lo) < span)
			out[k++] = i;
	return k;
}

/* gidx[g] = index of the last object starting at or below granule g (-1 below the first). */
void goemu_gc_gidx(const uint64_t *bases, int64_t n, uint64_t lo, int shift, int32_t *gidx, int64_t ng)
{
	int64_t i, g = 0, end;
	for (i = 0; i <= n; i++) {
		end = i < n ? (int64_t)((bases[i] - lo) >> shift) : ng;
		if (end > ng)
			end = ng;
		for (; g < end; g++)
			gidx[g] = (int32_t)(i - 1);
	}
}
"""
FLAGS = ["-shared", "-fPIC", "-O2"]


@lru_cache(maxsize=1)
def _lib():
    from .native import NativeBuildError, build_source
    try:
        lib = build_source("gcbfs", SOURCE, FLAGS, "collector's walk")
    except (OSError, NativeBuildError):
        return None
    f = lib.goemu_gc_bfs
    f.restype = ctypes.c_int64
    f.argtypes = [ctypes.c_int64] + [ctypes.c_void_p] * 2 + [ctypes.c_int64] + [ctypes.c_void_p] * 7
    for name, t in (("goemu_gc_scan64", ctypes.c_uint64), ("goemu_gc_scan32", ctypes.c_uint32)):
        g = getattr(lib, name)
        g.restype = ctypes.c_int64
        g.argtypes = [ctypes.c_void_p, ctypes.c_int64, t, t, ctypes.c_void_p]
    lib.goemu_gc_gidx.restype = None
    lib.goemu_gc_gidx.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint64, ctypes.c_int,
                                  ctypes.c_void_p, ctypes.c_int64]
    return lib


def scan(words: np.ndarray, lo: int, hi: int) -> np.ndarray | None:
    """Indices of the words in [lo, hi), or None without the helper."""
    lib = _lib()
    if lib is None:
        return None
    words = np.ascontiguousarray(words)
    out = np.empty(len(words), dtype=np.int64)
    f = lib.goemu_gc_scan64 if words.dtype.itemsize == 8 else lib.goemu_gc_scan32
    k = f(words.ctypes.data, len(words), lo, hi, out.ctypes.data)
    return out[:k].copy()


def granule_index(bases: np.ndarray, lo: int, shift: int, ng: int) -> np.ndarray | None:
    """int32 per granule of 1 << shift bytes from lo: index of the object starting
    at or below it (-1 before the first); None without the helper."""
    lib = _lib()
    if lib is None:
        return None
    bases = np.ascontiguousarray(bases, dtype=np.uint64)
    out = np.empty(ng, dtype=np.int32)
    lib.goemu_gc_gidx(bases.ctypes.data, len(bases), lo, shift, out.ctypes.data, ng)
    return out


def available() -> bool:
    return _lib() is not None


def bfs(n: int, estart: np.ndarray, tgt: np.ndarray, rw_obj: np.ndarray):
    """(marked, par, via, lvl, first) as emu/gc.py's _bfs_python, or None if the
    helper cannot be built here."""
    lib = _lib()
    if lib is None:
        return None
    f = lib.goemu_gc_bfs
    estart = np.ascontiguousarray(estart, dtype=np.int64)
    tgt = np.ascontiguousarray(tgt, dtype=np.int64)
    rw_obj = np.ascontiguousarray(rw_obj, dtype=np.int64)
    marked = np.zeros(n, dtype=np.uint8)
    par = np.zeros(n, dtype=np.int64)
    via = np.zeros(n, dtype=np.int64)
    lvl = np.zeros(n, dtype=np.int32)
    first = np.zeros(n, dtype=np.int64)
    queue = np.empty(max(n, 1), dtype=np.int64)
    p = lambda a: a.ctypes.data
    f(n, p(estart), p(tgt), len(rw_obj), p(rw_obj), p(marked), p(par), p(via), p(lvl), p(first), p(queue))
    return marked.astype(bool), par, via, lvl, first
