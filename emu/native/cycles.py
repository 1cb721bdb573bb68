"""The cycle account's per-block work in C (hooks.c's goemu_cycles_*), seen from Python.

:class:`NativeCycles` owns the C state of one CycleAccount: the layout
(checked against the library's own size), the configuration copied from the
account's core (predictor and cache sizes, penalties), the table-miss
callback that hands the account's static analysis of a new block to C, the
drain of closed split/unsplit records, and the byte ranges that make up the
state saved for reverse execution.  The arithmetic is the account's
(emu/cycles/account.py), which stays the reference under ``--engine python``.
"""
from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable

from . import NativeBuildError, library

NPH, NKIND = 10, 7
u8, i8, u32, u64, i64 = ctypes.c_uint8, ctypes.c_int8, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int64
_LIMITS = ("blocks", "segments", "stage", "bht", "btb", "ras", "l1", "l2", "records", "ops", "stage_ops",
           "port_ring", "max_ports", "max_regs", "max_window")


def limits() -> dict[str, int]:
    lib = library()
    lib.goemu_cycles_limits.restype = ctypes.c_uint32
    lib.goemu_cycles_limits.argtypes = [ctypes.c_uint32]
    return {name: lib.goemu_cycles_limits(i) for i, name in enumerate(_LIMITS)}


class Rec(ctypes.Structure):
    _fields_ = [("kind", u32), ("index", u32), ("icount", u64), ("cycles", u64), ("cache_misses", u64),
                ("phases", u64 * NPH), ("mis", u64 * NKIND), ("order", i8 * NPH), ("morder", i8 * NKIND),
                ("norder", u8), ("nmorder", u8), ("complete", u8), ("pad", u8 * 5)]


class Block(ctypes.Structure):
    _fields_ = [("key_addr", u64), ("flow_pc", u64), ("fallthrough", u64), ("target", u64), ("end", u64),
                ("line0", u64), ("key_size", u32), ("n", u32), ("seg0", u32), ("nseg", u32), ("nlines", u32),
                ("op0", u32), ("first", i8), ("kind", u8), ("taken", u8), ("has_target", u8)]


class OpC(ctypes.Structure):
    """hooks.c goemu_op: emu.cycles.pipeline.Op packed."""
    _fields_ = [("reads", u32), ("addr", u32), ("writes", u32), ("base", u32), ("slots", u8), ("flags", u8),
                ("latency", u8), ("nops", u8), ("op_ports", u8 * 3), ("op_occ", u8 * 3), ("load_ports", u8),
                ("load_occ", u8), ("load_lat", u8), ("load_fast", u8), ("sa_ports", u8), ("sa_occ", u8),
                ("sd_ports", u8), ("agu_ports", u8), ("agu_occ", u8), ("pad", u8)]


_OP = struct.Struct("<4I4B3B3B4B5Bx")
assert _OP.size == ctypes.sizeof(OpC)


def pack_op(op) -> bytes:
    """One pipeline.Op as the bytes of a goemu_op (every field must fit its C type)."""
    ports = [p for p, _o in op.ops] + [0] * (3 - len(op.ops))
    occ = [o for _p, o in op.ops] + [0] * (3 - len(op.ops))
    try:
        return _OP.pack(op.reads, op.addr, op.writes, op.base, op.slots, op.flags, op.latency, len(op.ops),
                        *ports, *occ, op.load_ports, op.load_occ, op.load_lat, op.load_fast, op.sa_ports,
                        op.sa_occ, op.sd_ports, op.agu_ports, op.agu_occ)
    except struct.error as e:
        raise NativeBuildError(f"a pipeline description does not fit the native table ({e}): {op}") from None


def _pipe(lim):
    class Pipe(ctypes.Structure):
        _fields_ = [("slot", u64), ("k", u64), ("stack_offset", u64), ("high", u64),
                    ("ready", u64 * lim["max_regs"]), ("fast", u64 * lim["max_regs"]),
                    ("retire", u64 * lim["max_window"]), ("issued", u64 * lim["max_window"]),
                    ("ring", (u64 * lim["port_ring"]) * lim["max_ports"])]
    return Pipe


def _lru(n: int):
    class Lru(ctypes.Structure):
        _fields_ = [("nsets", u32), ("ways", u32), ("hits", u64), ("misses", u64), ("cnt", u32 * n),
                    ("line", u64 * n)]
    return Lru


def state_type():
    lim = limits()
    L1, L2 = _lru(lim["l1"]), _lru(lim["l2"])
    vp = ctypes.c_void_p

    class State(ctypes.Structure):
        _fields_ = [("total", u64), ("instructions", u64), ("pos0", i64), ("starts_seen", u64),
                    ("phase_cycles", u64 * NPH), ("phase_insns", u64 * NPH),
                    ("pen_mis", u64), ("pen_icache", u64), ("pen_dcache", u64),
                    ("seen", u64 * NKIND), ("mispredicts", u64 * NKIND),
                    ("ras_underflows", u64), ("ras_overflows", u64), ("mode", u32), ("ras_n", u32),
                    ("nsplits", u32), ("nunsplits", u32), ("rec_open", u32), ("ghr", u32),
                    ("rec_misses0", u64), ("rec", Rec), ("prev_valid", u32), ("prev_kind", u8),
                    ("prev_taken", u8), ("prev_has_target", u8), ("pad1", u8), ("prev_flow_pc", u64),
                    ("prev_ft", u64), ("prev_target", u64), ("prev_end", u64), ("prev_addr", u64),
                    ("pipe", _pipe(lim)), ("end_of_state", u64),
                    ("counter", vp), ("starts", vp), ("cmiss", vp), ("drain", vp), ("penalty", u64),
                    ("width", u32), ("window", u32), ("sync_ports", u32), ("rsp_bit", u32), ("rs", u32),
                    ("pad4", u32),
                    ("shift", u32), ("nbht", u32), ("nbtb", u32), ("nras", u32), ("hist_mask", u32), ("pad3", u32),
                    ("line_size", u64),
                    ("l2pen_i", u64), ("l2pen_d", u64), ("mem_lat", u64), ("landing", u32), ("errors", u32),
                    ("table_misses", u64), ("flushes", u64), ("counted", u64),
                    ("bht", u8 * lim["bht"]), ("btb_tag", u64 * lim["btb"]), ("btb_target", u64 * lim["btb"]),
                    ("ras", u64 * lim["ras"]), ("l1i", L1), ("l1d", L1), ("l2", L2),
                    ("nrec", u32), ("pool_used", u32), ("ops_used", u32), ("pad2", u32),
                    ("ring", Rec * lim["records"]),
                    ("stage", Block), ("stage_phase", i8 * lim["stage"]), ("stage_n", u32 * lim["stage"]),
                    ("stage_ops", OpC * lim["stage_ops"]), ("table", Block * lim["blocks"]),
                    ("seg_phase", i8 * lim["segments"]), ("seg_n", u32 * lim["segments"]),
                    ("ops", OpC * lim["ops"]),
                    ("tap", vp)]        # (added for the trace recorder) hooks.c goemu_ctap *, or NULL
    lib = library()
    lib.goemu_cycles_size.restype = ctypes.c_uint32
    if ctypes.sizeof(State) != lib.goemu_cycles_size():
        raise NativeBuildError("native hook library: cycle account layout mismatch "
                               f"({lib.goemu_cycles_size()} bytes, expected {ctypes.sizeof(State)})")
    return State


_CMISS = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_uint64, ctypes.c_uint32)
_DRAIN = ctypes.CFUNCTYPE(None)


def fits(core_branch: dict, hier) -> bool:
    """Whether a core's predictor and caches fit the C tables (else the account stays in Python)."""
    lim = limits()
    # C indexes modulo these (a mask for powers of two) and pushes on the RAS: none may be empty
    sizes = (int(core_branch["bht_entries"]), int(core_branch["btb_entries"]), int(core_branch["ras_entries"]),
             hier.l1i.nsets, hier.l1d.nsets, hier.l2.nsets)
    return (min(sizes) >= 1
            and int(core_branch["bht_entries"]) <= lim["bht"] and int(core_branch["btb_entries"]) <= lim["btb"]
            and int(core_branch["ras_entries"]) <= lim["ras"]
            and all(c.nsets * c.ways <= lim["l1"] for c in (hier.l1i, hier.l1d))
            and hier.l2.nsets * hier.l2.ways <= lim["l2"])


class NativeCycles:
    """The C state of one account.  ``on_miss(addr, size)`` fills ``state.stage``
    (returns 0, or -1 after reporting a failure); ``on_records(bytes)`` receives
    closed records in order, as the bytes of consecutive Rec structures."""

    def __init__(self, on_miss: Callable[[int, int], int], on_records: Callable[[list], None]):
        self.lib = library()
        self.State = state_type()
        self.state = self.State()
        self._miss = _CMISS(on_miss)               # kept alive as long as the state
        self._on_records = on_records
        self._drain = _DRAIN(self._drain_cb)
        self.state.cmiss = ctypes.cast(self._miss, ctypes.c_void_p)
        self.state.drain = ctypes.cast(self._drain, ctypes.c_void_p)
        self.failure: Callable[[BaseException], None] | None = None
        self._ranges: list[tuple[int, int]] = []
        self._packed: dict = {}

    @property
    def after_hook(self) -> int:
        """Accounts after the counter's own hook (registered after it)."""
        return ctypes.cast(self.lib.goemu_cycles_after, ctypes.c_void_p).value

    @property
    def mem_hook(self) -> int:
        return ctypes.cast(self.lib.goemu_cycles_mem, ctypes.c_void_p).value

    @property
    def address(self) -> int:
        return ctypes.addressof(self.state)

    def stage_ops(self, ops) -> None:
        """The pipeline descriptions of the staged block's instructions."""
        cache = self._packed
        raw = []
        for op in ops:
            b = cache.get(op)
            if b is None:
                b = cache[op] = pack_op(op)
            raw.append(b)
        data = b"".join(raw)
        ctypes.memmove(ctypes.addressof(self.state.stage_ops), data, len(data))

    def configure(self, penalty: int, shift: int, nbht: int, nbtb: int, nras: int, hier, landing: int,
                  pipeline, history_mask: int = 0) -> None:
        """``pipeline``: the core's pipeline.Config; ``history_mask``: the
        predictor's global-history mask (predict.BranchPredictor)."""
        st = self.state
        st.hist_mask = history_mask
        lim = limits()
        from ..cycles import pipeline as py
        if (lim["port_ring"], lim["max_ports"], lim["max_regs"], lim["max_window"]) != \
                (py.PORT_RING, py.MAX_PORTS, py.MAX_REGS, py.MAX_WINDOW):
            raise NativeBuildError("native hook library: pipeline table sizes differ from emu/cycles/pipeline.py")
        if pipeline.width < 1 or pipeline.nports > lim["max_ports"] or pipeline.window > lim["max_window"] \
                or pipeline.rs > lim["max_window"]:
            raise NativeBuildError(f"pipeline configuration {pipeline} does not fit the native tables")
        st.width, st.window, st.sync_ports, st.rsp_bit, st.rs = (pipeline.width, pipeline.window,
                                                                 pipeline.sync_ports, pipeline.rsp_bit, pipeline.rs)
        st.penalty, st.shift, st.nbht, st.nbtb, st.nras = penalty, shift, nbht, nbtb, nras
        for i in range(nbht):
            st.bht[i] = 1
        ctypes.memset(ctypes.addressof(st.btb_tag), 0xFF, ctypes.sizeof(st.btb_tag))
        for name in ("l1i", "l1d", "l2"):
            c, py = getattr(st, name), getattr(hier, name)
            c.nsets, c.ways = py.nsets, py.ways
        st.line_size, st.l2pen_i, st.l2pen_d, st.mem_lat = hier.line, hier._l2_i, hier._l2_d, hier.memory_latency
        st.landing = landing
        base = ctypes.addressof(st)
        S = self.State

        def field(name, n=None):
            off = getattr(S, name).offset
            size = getattr(S, name).size if n is None else n
            return off, size
        L = type(st.l1i)
        self._ranges = [(0, S.end_of_state.offset), field("bht", nbht), field("btb_tag", 8 * nbtb),
                        field("btb_target", 8 * nbtb), field("ras", 8 * nras)]
        for name in ("l1i", "l1d", "l2"):
            c = getattr(st, name)
            off = getattr(S, name).offset
            T = type(c)
            n = c.nsets * c.ways
            self._ranges += [(off, L.cnt.offset), (off + T.cnt.offset, 4 * c.nsets),
                             (off + T.line.offset, 8 * n)]
        self._base = base

    def set_tap(self, address: int | None) -> None:
        """(Added for the trace recorder.)  Point the account at a per-instruction
        view (hooks.c goemu_ctap, owned by the recorder's C state), or detach it (None):
        each charged block's per-instruction cycles, segments and arrival penalties
        go there, and data-cache penalties are owed by the executing instruction."""
        self.state.tap = address or None

    # -- records -------------------------------------------------------------------
    def _drain_cb(self) -> None:
        try:
            self.drain()
        except BaseException as e:  # noqa: BLE001 - re-raised after emu_start
            if self.failure is not None:
                self.failure(e)

    def drain(self) -> None:
        """Hand the closed records over as one bytes copy of the ring (records
        are turned into Python objects only when someone looks at them)."""
        st = self.state
        n = st.nrec
        if not n:
            return
        st.nrec = 0
        self._on_records(ctypes.string_at(ctypes.addressof(st.ring), n * ctypes.sizeof(Rec)))

    @staticmethod
    def records(raw: bytes) -> list[Rec]:
        size = ctypes.sizeof(Rec)
        return [Rec.from_buffer_copy(raw, i) for i in range(0, len(raw), size)]

    # -- the state contract ------------------------------------------------------------
    def save(self) -> tuple[bytes, ...]:
        base = self._base
        return tuple(ctypes.string_at(base + off, size) for off, size in self._ranges)

    def restore(self, data: tuple[bytes, ...]) -> None:
        base = self._base
        for (off, size), b in zip(self._ranges, data):
            ctypes.memmove(base + off, b, size)
        self.state.nrec = 0
