"""goemu's native trace format: compressed columnar chunks.

Why this layout
---------------
A trace is millions of tiny, very regular records (a pc, a handful of
changed registers, zero to two memory accesses).  Stored row by row, each
record is a mix of types that compresses poorly; stored *column by column*
per chunk (all pcs, then all register masks, then all register values, then
memory metadata, then memory bytes), each column is a stream of similar
values that zlib squeezes well (pcs repeat with loops, masks come from a
small set, register values share high bytes).  zlib rather than lzma
because recording must keep up with emulation, and level 3 rather than 6
since the recorder moved to C: on hot-split, level 6 costs about 230 ns per
record, more than the C recorder itself, level 3 about 90 ns for files 16%
larger (level 1: 85 ns, 50% larger).  Chunks are compressed by a second
thread while the emulation goes on.

Chunks of ``CHUNK`` records keep memory constant while writing (one chunk is
buffered) and reading (one chunk is decoded at a time), and make damage
local and reportable: every chunk header carries the index of its first
record, the record count and a CRC-32 of the compressed payload, and the
file ends with an ``END!`` marker holding the total count.  A cut-off or
corrupted file therefore raises :class:`TraceFormatError` naming the first
record that cannot be trusted.

Layout (little-endian)::

    b"GOTRACE1" u32 header_len  header(JSON, sorted keys)  u32 crc32(header)
    repeated:  b"CHNK" u64 first_index u32 count u32 payload_len u32 crc32(payload)
               payload = zlib(columns), each column u32 length + bytes:
                 pcs      u64[count]
                 masks    u32[count]      bit i: register i changed (pc excluded)
                 values   u64[...]        the changed registers' new values, in mask order
                 nmem     u16[count]
                 memmeta  (u8 kind 0=read 1=write, u8 size, u64 addr)[...]
                 memdata  the accessed bytes (reads: memory before the load;
                          writes: the value stored, from the hook's arguments)
                 code     JSON [[pc, hex bytes, text, symbol+offset], ...] for
                          pcs executed for the first time in this chunk
                 events   JSON [[record offset, kind, detail], ...]
               and, when the header has "cycles" (recorded under the cycle model):
                 cycles   u32[count]      the record's modelled cycles
                 phase    u8[count]       index into header.cycles.phases
                 within   u32[count]      0, or 1 + the split/unsplit number the record
                                          belongs to (its kind follows from the phase)
    b"END!" u64 total_records

The header holds the arch, variant, program name, register names, the full
register state before the first instruction, the function table (so code
addresses can be symbolized without the image) and named data words
(``m0.cret``...).  Record 0 lists every register (flags included); later
records list the registers the instruction changed.  Registers are the
state *after* the instruction; the pc column is the instruction's address.
Nothing time- or path-dependent is written: the same run gives the same bytes.

A record's cycles are its instruction's share of the block cost, plus, on a
block's first instruction, the branch-mispredict and fetch penalties of
arriving there, plus the data-cache penalties of its own accesses (with the
cache model); they sum to the run's total (emu/cycles/account.py).
"""
from __future__ import annotations

import json
import queue
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from ..errors import GoemuError, InputError

MAGIC = b"GOTRACE1"
CHUNK = 8192
LEVEL = 3                 # zlib level of every chunk (see "Why this layout")
_CH = struct.Struct("<4sQIII")
_END = struct.Struct("<4sQ")
_MM = struct.Struct("<BBQ")


class TraceFormatError(GoemuError):
    """A trace file is not a goemu trace, is truncated or corrupted.
    ``record`` is the index of the first record that could not be read."""

    def __init__(self, message: str, path: str | None = None, record: int | None = None,
                 offset: int | None = None):
        self.path, self.record, self.offset = path, record, offset
        where = f"{path}: " if path else ""
        at = f"record {record}: " if record is not None else ""
        byte = f" (byte {offset})" if offset is not None else ""
        super().__init__(f"{where}{at}{message}{byte}")


class TraceMismatch(GoemuError):
    """Two traces cannot be compared (recorded on different architectures)."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(message)


# The header keys a reader needs, with their types (a valid CRC over bad JSON must not get further).
_HEADER_KEYS = {"arch": str, "variant": str, "program": str, "registers": list, "pc": str, "initial": list}


@dataclass
class Record:
    index: int
    pc: int
    bytes: bytes
    text: str
    sym: str
    regs: dict[str, int]                    # changed registers -> new value
    mem: list[tuple[str, int, int, bytes]]  # (r|w, addr, size, data)
    events: list[tuple[str, dict]] = field(default_factory=list)
    cycles: int | None = None               # modelled cycles (traces recorded with the cycle model)
    phase: str | None = None                # runtime phase: prologue, morestack, newstack, ... body
    within: str | None = None               # "split 0", "unsplit 2": the event the record belongs to

    @property
    def writes(self) -> list[tuple[int, int, bytes]]:
        return [(a, s, d) for k, a, s, d in self.mem if k == "w"]

    @property
    def reads(self) -> list[tuple[int, int, bytes]]:
        return [(a, s, d) for k, a, s, d in self.mem if k == "r"]


_Q = struct.Struct("<Q")
_I = struct.Struct("<I")
_H = struct.Struct("<H")


class NativeWriter:
    """Sink for :class:`emu.trace.record.Recorder`.  Columns are kept packed
    (bytearrays): the Python recorder appends one record at a time
    (:meth:`record`), the native recorder whole packed columns at once
    (:meth:`add_columns`); both give the same bytes."""

    def __init__(self, f: BinaryIO, background: bool = True):
        self.f = f
        self._reset()
        self.total = 0
        # chunks are compressed and written by one worker thread, in order (zlib
        # releases the GIL, and so does Unicorn's emu_start through ctypes):
        # at most two chunks wait, so memory stays bounded
        self._background = background
        self._queue: queue.Queue | None = None
        self._worker: threading.Thread | None = None
        self._error: BaseException | None = None

    def _reset(self) -> None:
        self.first = None
        self.n = 0                      # records buffered (the chunk being built)
        self.pcs = bytearray()
        self.masks = bytearray()
        self.values = bytearray()
        self.nmem = bytearray()
        self.memmeta = bytearray()
        self.memdata = bytearray()
        self.code: list = []
        self.events: list = []
        self.cycles = bytearray()
        self.phases = bytearray()
        self.within = bytearray()

    def begin(self, header: dict) -> None:
        cyc = header.get("cycles")
        self.with_cycles = cyc is not None
        self.phase_ids = {p: i for i, p in enumerate(cyc["phases"])} if cyc else {}
        h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        self.f.write(MAGIC + struct.pack("<I", len(h)) + h + struct.pack("<I", zlib.crc32(h)))

    def first_state(self, regs: list[int]) -> None:
        """Registers before the first record (record 0 lists them all after it)."""

    def code_entry(self, pc: int, raw: bytes, text: str, sym: str) -> None:
        self.code.append([pc, raw.hex(), text, sym])

    def record(self, index: int, pc: int, changed: list[tuple[int, int]],
               mem: list[tuple[int, int, int, bytes]], events: list,
               cycles: tuple[int, str, str | None] | None = None) -> None:
        if self.with_cycles:
            c, phase, within = cycles or (0, "other", None)
            self.cycles += _I.pack(c)
            self.phases.append(self.phase_ids.get(phase, 0))
            self.within += _I.pack(int(within.rsplit(" ", 1)[1]) + 1 if within else 0)
        if self.first is None:
            self.first = index
        rel = self.n
        self.n += 1
        self.pcs += _Q.pack(pc)
        m = 0
        for i, v in changed:
            m |= 1 << i
            self.values += _Q.pack(v)
        self.masks += _I.pack(m)
        self.nmem += _H.pack(len(mem))
        for kind, addr, size, data in mem:
            self.memmeta += _MM.pack(kind, size, addr)
            self.memdata += data
        for kind, detail in events:
            self.events.append([rel, kind, detail])
        if self.n >= CHUNK:
            self.flush()

    def room(self) -> int:
        """Records :meth:`add_columns` may add before the chunk is full."""
        return CHUNK - self.n

    def add_columns(self, first: int, n: int, pcs: bytes, masks: bytes, values: bytes, nmem: bytes,
                    memmeta: bytes, memdata: bytes, code: list, events: list,
                    cycles: tuple[bytes, bytes, bytes] | None = None) -> None:
        """Append ``n`` records (index ``first`` on), already packed column by
        column; ``events``: [(record index, kind, detail)]; ``cycles``: the
        cycles, phase and within columns, for a trace with cycles.  The records
        must fit in the chunk being built (:meth:`room`); a full chunk is written."""
        if n > CHUNK - self.n or self.with_cycles != (cycles is not None):
            raise ValueError("add_columns: more records than the chunk has room for, or cycle columns "
                             "missing (or given) for a trace with (without) cycles")
        if not n:
            return
        if self.first is None:
            self.first = first
        if first != self.first + self.n:
            raise ValueError(f"add_columns: records from {first}, expected {self.first + self.n}")
        self.pcs += pcs
        self.masks += masks
        self.values += values
        self.nmem += nmem
        self.memmeta += memmeta
        self.memdata += memdata
        if cycles is not None:
            self.cycles += cycles[0]
            self.phases += cycles[1]
            self.within += cycles[2]
        self.code.extend(code)
        for index, kind, detail in events:
            self.events.append([index - self.first, kind, detail])
        self.n += n
        if self.n >= CHUNK:
            self.flush()

    def flush(self) -> None:
        n = self.n
        if not n:
            return
        # the columns as they are (``_reset`` makes new ones): the JSON, the join and
        # zlib run on the writer's thread, while the emulation goes on
        cols = (self.pcs, self.masks, self.values, self.nmem, self.memmeta, self.memdata, self.code, self.events,
                ) + ((self.cycles, self.phases, self.within) if self.with_cycles else ())
        first = self.first
        self.total = first + n
        self._reset()
        if not self._background:
            self._write_chunk(first, n, cols)
            return
        self._check_worker()
        if self._worker is None:
            self._queue = queue.Queue(maxsize=2)
            self._worker = threading.Thread(target=self._work, name="goemu-trace-writer", daemon=True)
            self._worker.start()
        self._queue.put((first, n, cols))

    @staticmethod
    def _payload(cols: tuple) -> bytes:
        """The chunk's uncompressed payload: each column as u32 length + bytes."""
        cols = cols[:6] + (json.dumps(cols[6], separators=(",", ":")).encode(),
                           json.dumps(cols[7], sort_keys=True, separators=(",", ":"), default=str).encode(),
                           ) + cols[8:]
        return b"".join(part for c in cols for part in (_I.pack(len(c)), c))

    def _write_chunk(self, first: int, n: int, cols: tuple) -> None:
        payload = zlib.compress(self._payload(cols), LEVEL)
        self.f.write(_CH.pack(b"CHNK", first, n, len(payload), zlib.crc32(payload)) + payload)

    def _work(self) -> None:
        q = self._queue
        while True:
            item = q.get()
            try:
                if item is None:
                    return
                if self._error is None:
                    self._write_chunk(*item)
            except BaseException as e:  # noqa: BLE001 - raised in the recording thread (sync/close)
                self._error = e
            finally:
                q.task_done()

    def _check_worker(self) -> None:
        if self._error is not None:
            e, self._error = self._error, None
            raise e

    def sync(self) -> None:
        """Wait until every flushed chunk is in the file (before ``f.tell()``)."""
        if self._queue is not None:
            self._queue.join()
        self._check_worker()

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._worker = self._queue = None

    def close(self) -> None:
        try:
            self.flush()
            self.sync()
        finally:
            self._stop_worker()
        self.f.write(_END.pack(b"END!", self.total))
        self.f.flush()


class NativeReader:
    """Streams the records of a native trace; one chunk in memory at a time.

    ``state`` holds the full register state after the record last yielded;
    ``limit`` stops the iteration after that many records (a prefix of the trace)."""

    def __init__(self, path: str, limit: int | None = None):
        self.path = str(path)
        self.limit = limit
        try:
            self.f = open(self.path, "rb")  # noqa: SIM115 - closed by close() / the context manager
        except OSError as e:
            raise InputError(f"cannot read trace: {e.strerror}", self.path) from None
        try:
            self._read_header()
        except BaseException:
            self.f.close()
            raise

    def _read_header(self) -> None:
        head = self.f.read(12)
        if len(head) < 12 or head[:8] != MAGIC:
            raise TraceFormatError("not a goemu native trace (bad magic)", self.path, 0)
        (hl,) = struct.unpack("<I", head[8:])
        h = self.f.read(hl)
        crc = self.f.read(4)
        if len(h) < hl or len(crc) < 4:
            raise TraceFormatError("truncated in the header", self.path, 0)
        if zlib.crc32(h) != struct.unpack("<I", crc)[0]:
            raise TraceFormatError("corrupted header (CRC mismatch)", self.path, 0)
        self.header = self._check_header(h)
        self.regnames: list[str] = self.header["registers"]
        self.pc_name: str = self.header["pc"]
        self.initial = dict(zip(self.regnames, self.header["initial"]))
        cyc = self.header.get("cycles")
        self.phase_names: list[str] | None = list(cyc["phases"]) if cyc else None
        self.state = dict(self.initial)
        self.code: dict[int, tuple[bytes, str, str]] = {}
        self._data_start = self.f.tell()

    def _check_header(self, raw: bytes) -> dict:
        try:
            h = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise TraceFormatError(f"header is not JSON ({e})", self.path, 0, 12) from None
        if not isinstance(h, dict):
            raise TraceFormatError("header is not a JSON object", self.path, 0, 12)
        for key, typ in _HEADER_KEYS.items():
            if not isinstance(h.get(key), typ):
                raise TraceFormatError(f"header field {key!r} is missing or not a {typ.__name__}",
                                       self.path, 0, 12)
        regs = h["registers"]
        if not regs or len(regs) > 32 or not all(isinstance(r, str) for r in regs) \
                or len(h["initial"]) != len(regs) or not all(isinstance(v, int) for v in h["initial"]):
            raise TraceFormatError("header registers/initial do not match (32 registers at most, one "
                                   "integer value each)", self.path, 0, 12)
        cyc = h.get("cycles")
        if cyc is not None and not (isinstance(cyc, dict) and isinstance(cyc.get("phases"), list)
                                    and 0 < len(cyc["phases"]) <= 256):
            raise TraceFormatError("header field 'cycles' has no list of phases", self.path, 0, 12)
        for key in ("functions", "data_names"):
            if key in h and not isinstance(h[key], list):
                raise TraceFormatError(f"header field {key!r} is not a list", self.path, 0, 12)
        return h

    def close(self) -> None:
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def __iter__(self) -> Iterator[Record]:
        return self.records()

    def records(self) -> Iterator[Record]:
        f = self.f
        f.seek(self._data_start)
        self.state = dict(self.initial)
        expect = 0
        names = self.regnames
        while True:
            pos = f.tell()
            tag = f.read(4)
            if tag == b"END!":
                rest = f.read(8)
                if len(rest) < 8:
                    raise TraceFormatError("truncated end marker", self.path, expect, pos)
                (total,) = struct.unpack("<Q", rest)
                if total != expect:
                    raise TraceFormatError(f"end marker says {total} records, file holds {expect}",
                                           self.path, expect, pos)
                return
            if tag != b"CHNK":
                if len(tag) < 4:
                    raise TraceFormatError("trace is truncated (no end marker)", self.path, expect, pos)
                raise TraceFormatError("corrupted chunk header", self.path, expect, pos)
            rest = f.read(_CH.size - 4)
            if len(rest) < _CH.size - 4:
                raise TraceFormatError("truncated chunk header", self.path, expect, pos)
            _, first, n, plen, crc = _CH.unpack(tag + rest)
            if first != expect:
                raise TraceFormatError(f"chunk starts at record {first}, expected {expect}", self.path, expect, pos)
            payload = f.read(plen)
            if len(payload) < plen:
                raise TraceFormatError(f"truncated chunk (records {first}..{first + n - 1})", self.path, first, pos)
            if zlib.crc32(payload) != crc:
                raise TraceFormatError(f"corrupted chunk (CRC mismatch, records {first}..{first + n - 1})",
                                       self.path, first, pos)
            if self.limit is not None and first >= self.limit:
                return
            try:
                for r in self._decode(zlib.decompress(payload), first, n, names):
                    if self.limit is not None and r.index >= self.limit:
                        return
                    yield r
            except (struct.error, zlib.error, ValueError, IndexError, TypeError, KeyError) as e:
                raise TraceFormatError(f"undecodable chunk ({e})", self.path, first, pos) from None
            expect = first + n

    def _decode(self, raw: bytes, first: int, n: int, names: list[str]) -> Iterator[Record]:
        cols, off = [], 0
        for _ in range(11 if self.phase_names else 8):
            (ln,) = struct.unpack_from("<I", raw, off)
            cols.append(raw[off + 4: off + 4 + ln])
            off += 4 + ln
        pcs = struct.unpack(f"<{n}Q", cols[0])
        masks = struct.unpack(f"<{n}I", cols[1])
        values = struct.unpack(f"<{len(cols[2]) // 8}Q", cols[2])
        nmem = struct.unpack(f"<{n}H", cols[3])
        meta, data = cols[4], cols[5]
        for pc, hx, text, sym in json.loads(cols[6]):
            self.code[pc] = (bytes.fromhex(hx), text, sym)
        evs: dict[int, list] = {}
        for rel, kind, detail in json.loads(cols[7]):
            evs.setdefault(rel, []).append((kind, detail))
        if self.phase_names:
            cyc = struct.unpack(f"<{n}I", cols[8])
            phs = [self.phase_names[i] for i in cols[9]]
            wth = struct.unpack(f"<{n}I", cols[10])
            split_phases = {"morestack", "newstack", "gogocall"}
        vi = mi = di = 0
        state = self.state
        pcname = self.pc_name
        for r in range(n):
            pc = pcs[r]
            m = masks[r]
            regs = {}
            i = 0
            while m:
                if m & 1:
                    regs[names[i]] = values[vi]
                    vi += 1
                m >>= 1
                i += 1
            state.update(regs)
            mem = []
            for _ in range(nmem[r]):
                kind, size, addr = _MM.unpack_from(meta, mi)
                mi += _MM.size
                mem.append(("w" if kind else "r", addr, size, data[di:di + size]))
                di += size
            raw_b, text, sym = self.code.get(pc, (b"", "?", f"{pc:#x}"))
            state[pcname] = pc
            rec = Record(first + r, pc, raw_b, text, sym, regs, mem, evs.get(r, []))
            if self.phase_names:
                rec.cycles, rec.phase = cyc[r], phs[r]
                if wth[r]:
                    rec.within = f"{'split' if rec.phase in split_phases else 'unsplit'} {wth[r] - 1}"
            yield rec
