"""One out-of-order pipeline that flows across blocks.

The core model (``model.py``) turns each instruction into a compact,
integer-only description (:class:`Op`): dispatch slots, the registers it
reads / writes as bit masks, its load, store and execution uops as (port
mask, occupancy) pairs with latencies.  A block is described once, when it
is first translated; the same descriptions drive

- :class:`Pipeline` here (the Python reference), and
- ``pipe_step`` in the cycle section of emu/native/hooks.c (the native
  engine), with the same arithmetic, so both give identical cycles.

The pipeline's state is carried from one executed block to the next:
the dispatch slot counter, each register's ready cycle (normal and
fast-forwarded), every port's busy cycles, the retire times of the last
``window`` instructions (the in-flight window), the stack engine's pending
RSP offset, and ``high``, the latest completion so far.  A correctly
predicted branch costs its dispatch slot and its port, nothing more: the
front end has gone on at the predicted target and the next block dispatches
behind it.  A mispredicted one drains the pipeline (:meth:`Pipeline.drain`:
the next block dispatches no earlier than ``high``, when every older
instruction has completed); the refill is the core's mispredict penalty,
which the account charges on its own.

Cycles are charged per instruction as the advance of ``high`` it causes
(``max(0, complete - high)``), so the charges of a run telescope exactly to
its last completion time, and every phase / split sum of them is exact.

A core may have an in-order address unit with a one-entry buffer (the
Cortex-A9's AGU, as LLVM models it): an instruction with ``agu_ports``
dispatches -- and everything after it, dispatch being in order -- once the
previous such instruction has issued; it issues with all its operands ready
(a store's data too), in the first cycle both the AGU and its load/store port
are free.  That previous issue cycle is kept as ``ready[QUEUE_BIT]``, the last
bit of the register masks, which no register is given.

Port busy cycles live in a ring of ``PORT_RING`` cycles per port: slot
``c % PORT_RING`` holds ``c + 1`` while cycle ``c`` is taken.  An instruction
that would look more than ``PORT_RING`` cycles ahead of the oldest cycle still
in use could see a stale slot as free; both engines share the ring size and
so agree even then.
"""
from __future__ import annotations

from dataclasses import dataclass

PORT_RING = 512            # per port; hooks.c PORT_RING
MAX_PORTS = 8              # hooks.c MAX_PORTS
MAX_REGS = 32              # register masks are 32 bits
MAX_WINDOW = 256           # hooks.c MAX_WINDOW
MAX_OPUOPS = 3             # execution uops per instruction
QUEUE_BIT = MAX_REGS - 1   # ready[QUEUE_BIT]: issue cycle of the last instruction through the in-order AGU

# Op.flags bits (hooks.c OPF_*)
F_LOAD, F_STORE, F_CONTROL, F_FAST_DST, F_STACK_ENGINE, F_NAMES_RSP, F_FAST_SRC, F_CTL_RESULT = (
    1, 2, 4, 8, 16, 32, 64, 128)


@dataclass(frozen=True)
class Op:
    """One instruction as the pipeline sees it.  Masks are over the core's
    register numbering (``CoreModel.reg_bit``); port groups are masks over
    its ports; every field is a small non-negative integer."""
    slots: int                     # dispatch slots (fused-domain uops)
    flags: int                     # F_* bits
    reads: int                     # register mask read by the operation
    addr: int                      # register mask read to form the address
    writes: int                    # register mask written with the result
    base: int                      # register mask written back after the AGU (ready one cycle later)
    latency: int                   # result latency after the first execution uop issues
    ops: tuple[tuple[int, int], ...] = ()   # execution uops: (port mask, occupancy)
    load_ports: int = 0
    load_occ: int = 1
    load_lat: int = 0              # cycles from the AGU to the data, all transfer cycles included
    load_fast: int = 0             # same, fast-forwarded (ARM), when F_FAST_SRC
    sa_ports: int = 0              # store address
    sa_occ: int = 1
    sd_ports: int = 0              # store data (0: travels with the address)
    agu_ports: int = 0             # the in-order address unit with a one-entry buffer (0: not used)
    agu_occ: int = 1               # its cycles for this instruction


@dataclass(frozen=True)
class Config:
    width: int
    window: int
    nports: int
    sync_ports: int                # stack-engine synchronisation uop (0: none)
    rsp_bit: int                   # bit index of the stack pointer (for the stack engine)
    rs: int = 0                    # scheduler (reservation station) entries; 0: not modelled


def _bits(mask: int) -> tuple[int, ...]:
    out, i = [], 0
    while mask:
        if mask & 1:
            out.append(i)
        mask >>= 1
        i += 1
    return tuple(out)


class Pipeline:
    """The scheduler with its carried state (see the module docstring)."""

    __slots__ = ("cfg", "fast", "high", "issued", "k", "ready", "retire", "ring", "slot", "stack_offset")

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self.slot = 0
        self.ready = [0] * MAX_REGS
        self.fast = [0] * MAX_REGS
        self.ring = [[0] * PORT_RING for _ in range(MAX_PORTS)]
        self.retire = [0] * MAX_WINDOW
        self.issued = [0] * MAX_WINDOW
        self.k = 0
        self.stack_offset = 0
        self.high = 0

    # -- the state contract (reverse execution) -------------------------------------
    def save(self) -> tuple:
        return (self.slot, list(self.ready), list(self.fast), [list(r) for r in self.ring], list(self.retire),
                list(self.issued), self.k, self.stack_offset, self.high)

    def restore(self, st: tuple) -> None:
        slot, ready, fast, ring, retire, issued, self.k, self.stack_offset, self.high = st
        self.slot = slot
        self.ready[:], self.fast[:], self.retire[:], self.issued[:] = ready, fast, retire, issued
        for r, saved in zip(self.ring, ring):
            r[:] = saved

    # -- ports ------------------------------------------------------------------
    def _issue(self, ports: int, t: int, occ: int, book: bool = True) -> int:
        """First cycle >= t at which some port of the mask is free for ``occ``
        consecutive cycles (the lowest-numbered port on a tie); books it (unless ``book`` is false)."""
        best_c = best_p = -1
        p = 0
        m = ports
        R = PORT_RING
        while m:
            if m & 1:
                ring = self.ring[p]
                c = t
                while True:
                    while ring[c % R] == c + 1:
                        c += 1
                    k = 1
                    while k < occ and ring[(c + k) % R] != c + k + 1:
                        k += 1
                    if k >= occ:
                        break
                    c = c + k
                if best_c < 0 or c < best_c:
                    best_c, best_p = c, p
            m >>= 1
            p += 1
        if not book:
            return best_c
        ring = self.ring[best_p]
        for k in range(occ):
            ring[(best_c + k) % R] = best_c + k + 1
        return best_c

    def drain(self) -> None:
        """A mispredicted branch: what follows dispatches after every older
        instruction has completed."""
        w = self.cfg.width
        self.slot = max(self.slot, self.high * w)

    # -- one instruction ----------------------------------------------------------
    def step(self, op: Op) -> int:
        """Dispatch and schedule one instruction; return the cycles it adds
        (the advance of the latest completion)."""
        cfg = self.cfg
        ready, fast = self.ready, self.fast
        width, window = cfg.width, cfg.window
        d = self.slot // width
        if window and self.k >= window:
            r = self.retire[(self.k - window) % MAX_WINDOW]
            if r > d:
                d = r
                self.slot = d * width
        rs = cfg.rs
        if rs and self.k >= rs:
            # the scheduler holds ``rs`` instructions waiting to issue: taken in order,
            # instruction k enters when instruction k - rs has issued its last uop
            r = self.issued[(self.k - rs) % MAX_WINDOW]
            if r > d:
                d = r
                self.slot = d * width
        if op.agu_ports:
            # the in-order address unit has a one-entry buffer: this instruction dispatches
            # (and everything after it) once the previous one through it has issued
            r = ready[QUEUE_BIT]
            if r > d:
                d = r
                self.slot = d * width
        fl = op.flags
        sync = 0
        if cfg.sync_ports:
            if fl & F_STACK_ENGINE:
                self.stack_offset = 1
            elif self.stack_offset and fl & F_NAMES_RSP:
                self.stack_offset = 0
                sync = 1
        self.slot += op.slots + sync
        if sync:
            rb = cfg.rsp_bit
            t = self._issue(cfg.sync_ports, max(d, ready[rb]), 1)
            ready[rb] = fast[rb] = t + 1
        last = d                                  # the latest issue cycle
        t_addr = d
        for r in _bits(op.addr):
            t_addr = max(t_addr, ready[r])
        src = fast if fl & F_FAST_DST else ready
        t_regs = d
        for r in _bits(op.reads):
            t_regs = max(t_regs, src[r])
        if op.agu_ports:
            # it issues with every operand ready (a store's data included), in order
            # with its load/store pipe cycle: the first cycle both are free
            t_q = t_addr if not fl & F_STORE else max(t_addr, t_regs)
            t_q = max(t_q, ready[QUEUE_BIT])
            if fl & F_LOAD:
                mp, mo = op.load_ports, op.load_occ
            else:
                mp, mo = op.sa_ports, op.sa_occ
            while True:
                t_q = self._issue(op.agu_ports, t_q, op.agu_occ, False)
                t_m = self._issue(mp, t_q, mo, False)
                if t_m == t_q:
                    break
                t_q = t_m
            self._issue(op.agu_ports, t_q, op.agu_occ)
            ready[QUEUE_BIT] = t_q
            last = max(last, t_q)
            t_addr = t_q
        agu = -1
        load_done = load_fast = 0
        if fl & F_LOAD:
            agu = self._issue(op.load_ports, t_addr, op.load_occ)
            last = max(last, agu)
            load_done = agu + op.load_lat
            load_fast = agu + op.load_fast if fl & F_FAST_SRC else load_done
        t_data = t_regs
        if fl & F_LOAD and op.ops:
            ld = load_fast if fl & F_FAST_DST else load_done
            t_data = max(t_data, ld)
        first = -1
        for ports, occ in op.ops:
            t = self._issue(ports, t_data if first < 0 else first, occ)
            last = max(last, t)
            if first < 0:
                first = t
        if op.ops:
            result = result_fast = first + op.latency
        elif fl & F_LOAD:
            result, result_fast = load_done, load_fast
        else:
            result = result_fast = t_data + op.latency
        if fl & F_STORE:
            t_sa = self._issue(op.sa_ports, t_addr, op.sa_occ)
            last = max(last, t_sa)
            if agu < 0:
                agu = t_sa
            if op.sd_ports:
                s = result if op.ops else t_data
                t_sd = self._issue(op.sd_ports, max(d, s), 1)
                last = max(last, t_sd)
            else:
                s = max(t_data, result if op.ops else t_data)
                last = max(last, s)
        for r in _bits(op.writes):
            ready[r], fast[r] = result, result_fast
        if op.base:
            tb = (agu if agu >= 0 else t_addr) + 1
            for r in _bits(op.base):
                ready[r] = fast[r] = tb
        if fl & F_CONTROL:
            # predicted: it holds up nothing that follows (only its own results count)
            complete = d + 1
            if fl & F_CTL_RESULT and result > complete:
                complete = result
        else:
            complete = max(result, last + 1)
        if window:
            prev = self.retire[(self.k - 1) % MAX_WINDOW] if self.k else 0
            self.retire[self.k % MAX_WINDOW] = max(complete, prev)
        if rs:
            self.issued[self.k % MAX_WINDOW] = last
        self.k += 1
        if complete > self.high:
            add = complete - self.high
            self.high = complete
            return add
        return 0

    def run(self, ops) -> list[int]:
        return [self.step(op) for op in ops]
