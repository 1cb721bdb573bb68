"""The bad-input corpus, part 2: damaged trace files.  Each damage must give
TraceFormatError (or InputError for a file that cannot be opened) naming the
first record that cannot be trusted and the byte offset of the damage:
`goemu trace-show` exits 1 (66 for an unreadable file), `goemu diff` exits 2
(trouble, like diff(1)), and `goemu diff --json` prints one error object."""
from __future__ import annotations

import json
import struct
import zlib

import pytest

from emu.cli import main
from emu.run import load_program, new_machine
from emu.trace import native
from emu.trace.cli import DEMOS
from emu.trace.record import record

SMALL_CHUNK = 256          # several chunks from the 2000-odd records of the leak demo


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(native, "CHUNK", SMALL_CHUNK)
        for arch in ("amd64", "arm"):
            mc = new_machine(arch, "buggy", load_program(str(DEMOS / f"leak_{arch}.s")))
            record(mc, str(d / f"{arch}.gtr"), "native", f"leak_{arch}.s", max_records=1000)
            out[arch] = d / f"{arch}.gtr"
    return out


def layout(raw: bytes) -> dict:
    """Offsets of the parts of a native trace: header, each chunk, the END marker."""
    (hl,) = struct.unpack_from("<I", raw, 8)
    pos = 12 + hl + 4
    chunks = []
    while raw[pos:pos + 4] == b"CHNK":
        _, first, n, plen, _crc = struct.unpack_from("<4sQIII", raw, pos)
        chunks.append({"at": pos, "first": first, "n": n, "plen": plen, "payload": pos + 24})
        pos += 24 + plen
    assert raw[pos:pos + 4] == b"END!"
    return {"hl": hl, "chunks": chunks, "end": pos}


def with_header(raw: bytes, header: bytes) -> bytes:
    L = layout(raw)
    return raw[:8] + struct.pack("<I", len(header)) + header + struct.pack("<I", zlib.crc32(header)) \
        + raw[12 + L["hl"] + 4:]


def flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x40]) + raw[at + 1:]


def rechunk(raw: bytes, k: int, payload: bytes, first: int | None = None) -> bytes:
    """Chunk k replaced by ``payload`` with a valid CRC (the damage is past the CRC)."""
    c = layout(raw)["chunks"][k]
    head = struct.pack("<4sQIII", b"CHNK", c["first"] if first is None else first, c["n"], len(payload),
                       zlib.crc32(payload))
    return raw[:c["at"]] + head + payload + raw[c["payload"] + c["plen"]:]


def header_json(raw: bytes) -> dict:
    return json.loads(raw[12:12 + layout(raw)["hl"]])


def _h(raw, **changes):
    h = header_json(raw)
    for k, v in changes.items():
        if v is None:
            h.pop(k)
        else:
            h[k] = v
    return with_header(raw, json.dumps(h).encode())


def _c(k):
    return lambda raw: layout(raw)["chunks"][k]


# (id, damage(raw) -> bytes, record of the error, byte offset (raw, layout) -> int or None, text)
DAMAGE = [
    ("empty-file", lambda r: b"", 0, None, "bad magic"),
    ("wrong-magic", lambda r: b"GOTRACE9" + r[8:], 0, None, "bad magic"),
    ("text-file", lambda r: b"rax=0x1,rip=0x400000\n" * 40, 0, None, "bad magic"),
    ("cut-in-magic", lambda r: r[:5], 0, None, "bad magic"),
    ("cut-in-header", lambda r: r[:40], 0, None, "truncated in the header"),
    ("cut-before-header-crc", lambda r: r[:12 + layout(r)["hl"] + 2], 0, None, "truncated in the header"),
    ("header-flipped", lambda r: flip(r, 30), 0, None, "CRC mismatch"),
    ("header-length-huge", lambda r: r[:8] + struct.pack("<I", 0xFFFFFFF0) + r[12:], 0, None, "truncated"),
    ("header-not-json", lambda r: with_header(r, b"{not json"), 0, 12, "not JSON"),
    ("header-not-utf8", lambda r: with_header(r, b"\xff\xfe{}"), 0, 12, "not JSON"),
    ("header-array", lambda r: with_header(r, b"[1, 2, 3]"), 0, 12, "not a JSON object"),
    ("header-no-registers", lambda r: _h(r, registers=None), 0, 12, "'registers'"),
    ("header-no-arch", lambda r: _h(r, arch=None), 0, 12, "'arch'"),
    ("header-arch-number", lambda r: _h(r, arch=64), 0, 12, "'arch'"),
    ("header-initial-short", lambda r: _h(r, initial=[0]), 0, 12, "registers/initial"),
    ("header-too-many-registers", lambda r: _h(r, registers=[f"x{i}" for i in range(40)],
                                               initial=[0] * 40), 0, 12, "registers/initial"),
    ("header-cycles-bogus", lambda r: _h(r, cycles={"phases": "none"}), 0, 12, "'cycles'"),
    ("header-functions-dict", lambda r: _h(r, functions={"a": 1}), 0, 12, "'functions'"),
    ("no-chunks-no-end", lambda r: r[:_c(0)(r)["at"]], 0, lambda r: _c(0)(r)["at"], "no end marker"),
    ("cut-in-chunk-header", lambda r: r[:_c(0)(r)["at"] + 10], 0, lambda r: _c(0)(r)["at"],
     "truncated chunk header"),
    ("cut-in-payload", lambda r: r[:_c(0)(r)["payload"] + 20], 0, lambda r: _c(0)(r)["at"], "truncated chunk"),
    ("payload-flipped", lambda r: flip(r, _c(0)(r)["payload"] + 7), 0, lambda r: _c(0)(r)["at"],
     "CRC mismatch, records 0..255"),
    ("second-payload-flipped", lambda r: flip(r, _c(1)(r)["payload"] + 3), SMALL_CHUNK,
     lambda r: _c(1)(r)["at"], "CRC mismatch, records 256..511"),
    ("chunk-tag-flipped", lambda r: flip(r, _c(1)(r)["at"]), SMALL_CHUNK, lambda r: _c(1)(r)["at"],
     "corrupted chunk header"),
    ("chunk-index-wrong", lambda r: rechunk(r, 1, r[_c(1)(r)["payload"]:_c(1)(r)["payload"] + _c(1)(r)["plen"]],
                                            first=7), SMALL_CHUNK, lambda r: _c(1)(r)["at"],
     "chunk starts at record 7, expected 256"),
    ("chunk-repeated", lambda r: r[:_c(2)(r)["at"]] + r[_c(1)(r)["at"]:], 2 * SMALL_CHUNK,
     lambda r: _c(2)(r)["at"], "chunk starts at record 256, expected 512"),
    ("payload-not-zlib", lambda r: rechunk(r, 0, b"garbage that is not zlib"), 0, lambda r: _c(0)(r)["at"],
     "undecodable chunk"),
    ("payload-columns-short", lambda r: rechunk(r, 0, zlib.compress(b"\x08\x00\x00\x00abc")), 0,
     lambda r: _c(0)(r)["at"], "undecodable chunk"),
    ("payload-code-not-json", lambda r: rechunk(r, 0, zlib.compress(
        b"".join(struct.pack("<I", len(c)) + c for c in
                 [b"\0" * 8 * 256, b"\0" * 4 * 256, b"", b"\0" * 2 * 256, b"", b"", b"{x", b"[]"]))), 0,
     lambda r: _c(0)(r)["at"], "undecodable chunk"),
    ("payload-mask-past-registers", lambda r: rechunk(r, 0, zlib.compress(
        b"".join(struct.pack("<I", len(c)) + c for c in
                 [b"\0" * 8 * 256, b"\xff" * 4 * 256, b"\0" * 8 * 32 * 256, b"\0" * 2 * 256, b"", b"", b"[]",
                  b"[]"]))), 0, lambda r: _c(0)(r)["at"], "undecodable chunk"),
    ("no-end-marker", lambda r: r[:layout(r)["end"]], None, lambda r: layout(r)["end"], "no end marker"),
    ("end-marker-cut", lambda r: r[:layout(r)["end"] + 7], None, lambda r: layout(r)["end"],
     "truncated end marker"),
    ("end-count-wrong", lambda r: r[:layout(r)["end"]] + b"END!" + struct.pack("<Q", 5), None,
     lambda r: layout(r)["end"], "end marker says 5 records"),
    ("end-replaced-by-garbage", lambda r: r[:layout(r)["end"]] + b"JUNKJUNKJUNK", None,
     lambda r: layout(r)["end"], "corrupted chunk header"),
]


def _total(raw: bytes) -> int:
    c = layout(raw)["chunks"][-1]
    return c["first"] + c["n"]


@pytest.mark.parametrize("case", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_damaged_trace(case, good, tmp_path, capsys):
    _name, damage, rec, offset, text = case
    raw = good["amd64"].read_bytes()
    bad = tmp_path / "bad.gtr"
    bad.write_bytes(damage(raw))
    rec = _total(raw) if rec is None else rec
    off = offset(raw) if callable(offset) else offset

    # trace-show: exit 1, one message naming the record (and the byte)
    rc = main(["trace-show", str(bad), "-n", "100000"])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "Traceback" not in err
    assert f"goemu: TraceFormatError: {bad}: record {rec}: " in err and text in err, err
    if off is not None:
        assert f"(byte {off})" in err

    # diff: trouble is 2, like diff(1); --json: one error object with the location
    assert main(["diff", str(good["amd64"]), str(bad)]) == 2
    capsys.readouterr()
    assert main(["diff", str(bad), str(good["amd64"]), "--json"]) == 2
    e = json.loads(capsys.readouterr().out)["error"]
    assert e["class"] == "TraceFormatError" and e["exit_code"] == 2 and text in e["message"]
    assert e["location"]["path"] == str(bad) and e["location"]["record"] == rec
    if off is not None:
        assert e["location"]["offset"] == off


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_unreadable_trace(what, good, tmp_path, capsys):
    path = tmp_path / "nope.gtr" if what == "missing" else tmp_path
    assert main(["trace-show", str(path)]) == 66
    err = capsys.readouterr().err
    assert err.startswith(f"goemu: InputError: {path}: cannot read trace")
    assert main(["diff", str(good["amd64"]), str(path), "--json"]) == 2
    e = json.loads(capsys.readouterr().out)["error"]
    assert e["class"] == "InputError" and e["location"]["path"] == str(path)


def test_diff_refuses_two_architectures(good, capsys):
    assert main(["diff", str(good["amd64"]), str(good["arm"])]) == 2
    err = capsys.readouterr().err
    assert "TraceMismatch" in err and "amd64" in err and "arm" in err


def test_diff_exit_status_same_and_different(good, tmp_path, capsys):
    assert main(["diff", str(good["amd64"]), str(good["amd64"])]) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(native, "CHUNK", SMALL_CHUNK)
        mc = new_machine("amd64", "fixed", load_program(str(DEMOS / "leak_amd64.s")))
        record(mc, str(tmp_path / "fixed.gtr"), "native", "leak_amd64.s")
    capsys.readouterr()
    assert main(["diff", str(good["amd64"]), str(tmp_path / "fixed.gtr")]) == 1


def test_trace_reader_errors_are_typed_in_process(good, tmp_path):
    """The reader itself (not only the CLI) raises TraceFormatError, never KeyError/struct.error."""
    raw = good["amd64"].read_bytes()
    for name, damage, *_ in DAMAGE:
        p = tmp_path / f"{name}.gtr"
        p.write_bytes(damage(raw))
        with pytest.raises(native.TraceFormatError), native.NativeReader(str(p)) as rd:
            for _r in rd:
                pass
