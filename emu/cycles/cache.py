"""Set-associative LRU caches: L1I and L1D over a unified L2, then memory.

``CacheHierarchy.access(addr, size, kind)`` returns the extra cycles an
access costs beyond an L1 hit (whose latency is part of the instruction's
own cost): 0 on an L1 hit, ``l2.latency - l1.latency`` on an L1 miss that
hits L2, ``memory_latency`` on an L2 miss.  An access that straddles a line
boundary touches every line it covers.  Writes allocate.  Plain lists:
this runs in a per-access hook.
"""
from __future__ import annotations


class Cache:
    """One level: ``size`` bytes, ``ways`` ways, ``line``-byte lines, LRU."""

    def __init__(self, name: str, size: int, ways: int, line: int, latency: int = 0):
        if size <= 0 or ways <= 0 or line <= 0 or size % (ways * line):
            raise ValueError(f"{name}: size {size} is not a multiple of ways {ways} x line {line}")
        self.name = name
        self.size, self.ways, self.line, self.latency = size, ways, line, latency
        self.nsets = size // (ways * line)
        self.sets: list[list[int]] = [[] for _ in range(self.nsets)]   # line numbers, MRU last
        self.hits = 0
        self.misses = 0

    def touch(self, lineno: int) -> bool:
        """Look up one line (by line number), fill it on a miss; True on a hit."""
        s = self.sets[lineno % self.nsets]
        if lineno in s:
            if s[-1] != lineno:
                s.remove(lineno)
                s.append(lineno)
            self.hits += 1
            return True
        if len(s) >= self.ways:
            del s[0]
        s.append(lineno)
        self.misses += 1
        return False

    def stats(self) -> dict:
        return {"hits": self.hits, "misses": self.misses}


class CacheHierarchy:
    def __init__(self, caches: dict):
        line = caches["line"]
        self.line = line
        self.memory_latency = caches["memory_latency"]
        self.l1i = Cache("l1i", caches["l1i"]["size"], caches["l1i"]["ways"], line, caches["l1i"]["latency"])
        self.l1d = Cache("l1d", caches["l1d"]["size"], caches["l1d"]["ways"], line, caches["l1d"]["latency"])
        self.l2 = Cache("l2", caches["l2"]["size"], caches["l2"]["ways"], line, caches["l2"]["latency"])
        self._l2_i = max(self.l2.latency - self.l1i.latency, 0)
        self._l2_d = max(self.l2.latency - self.l1d.latency, 0)

    def access(self, addr: int, size: int, kind: str) -> int:
        """kind: "i" (fetch), "r" (load) or "w" (store).  Returns penalty cycles."""
        line = self.line
        first = addr // line
        last = (addr + max(size, 1) - 1) // line
        if kind == "i":
            l1, l2pen = self.l1i, self._l2_i
        else:
            l1, l2pen = self.l1d, self._l2_d
        pen = 0
        for n in range(first, last + 1):
            if not l1.touch(n):
                pen += l2pen if self.l2.touch(n) else self.memory_latency
        return pen

    def fetch_lines(self, lines: range) -> int:
        """Instruction fetch of a block's lines (line numbers)."""
        l1, l2, l2pen, mem = self.l1i, self.l2, self._l2_i, self.memory_latency
        pen = 0
        for n in lines:
            if not l1.touch(n):
                pen += l2pen if l2.touch(n) else mem
        return pen

    @property
    def total_misses(self) -> int:
        return self.l1i.misses + self.l1d.misses + self.l2.misses

    def stats(self) -> dict:
        return {c.name: c.stats() for c in (self.l1i, self.l1d, self.l2)}
