"""≥ 10,000 random and mutated packets (bad checksums, truncated hex, huge
lengths, reads and writes of unmapped memory, garbage between packets): the
stub answers each well-framed one and still answers `?` afterwards."""
from __future__ import annotations

import random
import re
import threading
import time

import pytest
from gdbstub_helpers import DEMOS, Client, packet

from emu.debugger import new_debugger
from emu.gdbstub.server import GdbServer, listen
from emu.run import load_program

SEEDS = [
    "?", "g", "p0", "p10", "p11", "pff", "P0=0000000000000000", "m0,4", "m{text},40", "m{text},ffffffff",
    "mffffffffffffffff,10", "m{stack},100", "M{data},4:01020304", "M0,4:00", "X{data},2:ab",
    "Z0,{text},1", "z0,{text},1", "Z0,{text},4", "Z2,{data},8", "z2,{data},8", "Z3,{data},4", "Z4,{data},4",
    "Z1,{text},1", "Z5,0,0", "qSupported:multiprocess+;swbreak+", "qXfer:features:read:target.xml:0,ffb",
    "qXfer:features:read:other.xml:0,10", "qXfer:exec-file:read::0,100", "qC", "qfThreadInfo", "qsThreadInfo",
    "qAttached", "qRcmd,7768657265", "qRcmd,6763", "qRcmd,676f746f2031", "qRcmd,7a7a", "Hg0", "Hc-1", "T1",
    "vCont?", "vCont;s:1", "vCont;s", "s", "bs", "vMustReplyEmpty", "qTStatus", "qOffsets", "vFile:open:2f,0,0",
    "G" + "00" * 8,
]
RUNNERS = ["bc", "c", "vCont;c", "C05", "s", "bs"]        # execution: a smaller share, they take time
STOPPERS = (b"k", b"D", b"vKill")


def _mutate(rng: random.Random, body: bytes) -> bytes:
    b = bytearray(body)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        if op == 0 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 1 and b:
            del b[rng.randrange(len(b)):]                          # truncated
        elif op == 2:
            b[rng.randrange(len(b) + 1):0] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3:
            b += b"," + b"f" * rng.randint(1, 40)                  # huge lengths
        elif op == 4 and b:
            i = rng.randrange(len(b))
            b[i:i] = b[i:i + rng.randint(1, 16)]                   # duplicated run
        elif op == 5:
            b = bytearray(rng.choice(SEEDS_B)) + b":" + bytes(rng.choice(b"0123456789abcdefxyz,;:")
                                                               for _ in range(rng.randint(0, 64)))
        else:
            b = bytearray(rng.randbytes(rng.randint(0, 64)))
    return bytes(b).replace(b"$", b"").replace(b"#", b"")


SEEDS_B: list[bytes] = []


def _frames(rng: random.Random, bodies: list[bytes]):
    """Each element: (bytes to send, True if it is a well-formed packet the stub must answer)."""
    for body in bodies:
        r = rng.random()
        if r < 0.08:
            yield packet(body)[:-2] + b"%02x" % ((sum(body) + 1) & 0xFF), False      # bad checksum
        elif r < 0.1:
            yield b"$" + body[: len(body) // 2], False                             # cut off mid-packet...
            yield b"#zz", False                                                    # ...and a non-hex checksum
        elif r < 0.12:
            yield bytes(rng.choice(b"+-\x00\xff abc") for _ in range(rng.randint(1, 20))), False   # noise
        elif r < 0.125:
            yield b"$" + b"m" * 40000 + b"#00", False                              # oversized
        else:
            yield packet(body), True


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_fuzz_then_question_mark(arch):
    dbg = new_debugger(arch, "buggy", load_program(DEMOS / f"leak_{arch}.s"), budget=20_000)
    a = dbg.arch
    subst = {"text": f"{a.regions['text'].base:x}", "data": f"{a.regions['data'].base:x}",
             "stack": f"{a.regions['stacks'].base:x}"}
    seeds = [s.format(**subst).encode() for s in SEEDS]
    runners = [s.encode() for s in RUNNERS]
    SEEDS_B[:] = seeds + runners
    srv = GdbServer(dbg)
    lst = listen("127.0.0.1", 0)
    t = threading.Thread(target=srv.serve, args=(lst,), daemon=True)
    t.start()
    rng = random.Random(12)
    bodies = []
    while len(bodies) < 10_500:
        r = rng.random()
        body = (rng.choice(runners) if r < 0.01 else rng.choice(seeds) if r < 0.3
                else _mutate(rng, rng.choice(seeds)))
        if not body.startswith(STOPPERS):
            bodies.append(body)
    c = Client(lst.getsockname()[1])
    got = bytearray()

    def drain() -> None:               # replies are read concurrently: the frames are pipelined
        try:
            while data := c.s.recv(65536):
                got.extend(data)
        except OSError:
            pass
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    sent = answerable = 0
    try:
        for data, ok in _frames(rng, bodies):
            c.send_raw(data)
            sent += 1
            answerable += ok
        assert sent >= 10_000 and answerable >= 9_000
        c.send_raw(packet("?"))
        deadline = time.time() + 600
        while time.time() < deadline:
            replies = re.findall(rb"\$([^#$]*)#[0-9a-f]{2}", bytes(got))
            if len(replies) >= answerable + 1 and re.fullmatch(rb"[TWS][0-9a-f]{2}.*", replies[-1], re.DOTALL):
                break
            time.sleep(0.2)
        replies = re.findall(rb"\$([^#$]*)#[0-9a-f]{2}", bytes(got))
        assert re.fullmatch(rb"[TWS][0-9a-f]{2}.*", replies[-1], re.DOTALL), replies[-3:]
        assert len(replies) >= answerable + 1          # every well-formed packet got its reply
        assert t.is_alive() and not srv.done
    finally:
        c.close()
        srv.done = True
        t.join(10)
        lst.close()
