"""GDB Remote Serial Protocol framing: packets, checksums, escapes.

Pure functions and one incremental parser; no sockets, no emulator.  A packet
is ``$body#cc`` (cc: the sum of the body's bytes mod 256, two hex digits).
Inside a body, ``}`` escapes the next byte (xored with 0x20); the stub's
replies are escaped the same way.  A lone 0x03 byte outside a packet is an
interrupt request (gdb sends it on Ctrl-C).
"""
from __future__ import annotations

from dataclasses import dataclass

PACKET_SIZE = 0x4000          # what qSupported advertises: the largest packet gdb may send us
MAX_BODY = PACKET_SIZE        # a body longer than this is dropped (and nak'ed)
INTERRUPT = 0x03


def checksum(body: bytes) -> int:
    return sum(body) & 0xFF


def escape(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        if b in (0x23, 0x24, 0x7D, 0x2A):          # '#', '$', '}', '*'
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            nxt = next(it, None)
            if nxt is None:
                break
            out.append(nxt ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


def frame(body: bytes | str) -> bytes:
    """``$body#cc`` with the body escaped."""
    if isinstance(body, str):
        body = body.encode("latin-1")
    body = escape(body)
    return b"$" + body + b"#" + b"%02x" % checksum(body)


@dataclass
class Event:
    kind: str                 # packet, interrupt, ack, nak, bad (bad checksum or oversized)
    body: bytes = b""
    reason: str = ""


class PacketParser:
    """Feed bytes, get events.  Never raises on any input.  (gdb escapes a
    '#' inside a body, so the first '#' always ends it.)"""

    def __init__(self, max_body: int = MAX_BODY):
        self.max_body = max_body
        self.buf = bytearray()
        self.state = 0            # 0 between packets, 1 in a body, 2 and 3 reading the checksum
        self.cs = bytearray()
        self.overflow = False

    def feed(self, data: bytes) -> list[Event]:
        out: list[Event] = []
        buf = self.buf
        for b in data:
            if self.state == 0:
                if b == 0x24:                       # '$'
                    self.state, self.overflow = 1, False
                    buf.clear()
                elif b == INTERRUPT:
                    out.append(Event("interrupt"))
                elif b == 0x2B:                     # '+'
                    out.append(Event("ack"))
                elif b == 0x2D:                     # '-'
                    out.append(Event("nak"))
                continue                            # anything else between packets is noise
            if b == 0x24:                           # a new '$' before the end: restart there
                out.append(Event("bad", reason="packet restarted before its end"))
                self.state, self.overflow = 1, False
                buf.clear()
                continue
            if self.state == 1:
                if b == 0x23:                       # '#'
                    self.state = 2
                    self.cs.clear()
                elif len(buf) < self.max_body:
                    buf.append(b)
                else:
                    self.overflow = True
                continue
            self.cs.append(b)
            if len(self.cs) < 2:
                continue
            self.state = 0
            body = bytes(buf)
            buf.clear()
            if self.overflow:
                out.append(Event("bad", reason="packet too long"))
                continue
            try:
                ok = int(bytes(self.cs), 16) == checksum(body)
            except ValueError:
                ok = False
            out.append(Event("packet", body) if ok else Event("bad", reason="bad checksum"))
        return out


def hexs(data: bytes) -> str:
    return data.hex()


def unhex(text: str | bytes) -> bytes:
    """Bytes from hex text; ValueError on odd length or a non-hex digit."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    if len(text) % 2:
        raise ValueError("odd number of hex digits")
    return bytes.fromhex(text)


def le_hex(value: int, nbytes: int) -> str:
    return (value & ((1 << 8 * nbytes) - 1)).to_bytes(nbytes, "little").hex()
