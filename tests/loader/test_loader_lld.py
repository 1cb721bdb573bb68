"""Oracle 2: a real linker.  ld.lld links the same objects with a linker
script that pins every input section to the address our link() chose; every
loaded byte must then be identical, and so must every symbol's address."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from loader import Image

# Sections the script throws away: what our loader drops, and lld's own
# synthetic extras it would otherwise allocate.
DISCARD = ("*(.ARM.exidx*)", "*(.comment)", "*(.note*)")


def linker_script(image: Image) -> str:
    """One output section per input section, at exactly our address."""
    lines = ["SECTIONS {"]
    for n, p in enumerate(image.placements):
        lines.append(f'  .p{n} 0x{p.addr:x} : {{ "{p.obj}"({p.name}) }}')
    lines.append(f"  /DISCARD/ : {{ {' '.join(DISCARD)} }}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def lld_link(image: Image, objects: list[str], externals: dict[str, int], out: Path) -> Path:
    """Run ld.lld -O0 (no string merging) with our layout; returns the output ELF."""
    script = out.with_suffix(".ld")
    script.write_text(linker_script(image))
    cmd = [sys.executable, "-m", "ziglang", "ld.lld", "-static", "-O0", "--build-id=none",
           "-z", "norelro", "-e", "0", "-T", str(script), "-o", str(out),
           *(f"--defsym={k}=0x{v:x}" for k, v in sorted(externals.items())), *objects]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode:
        pytest.fail(f"ld.lld failed: {proc.stderr}\n{script.read_text()}")
    return out


@pytest.fixture(scope="module")
def linked(built, tmp_path_factory) -> dict[str, tuple[Image, Path]]:
    """Our image and lld's executable for each architecture."""
    out = tmp_path_factory.mktemp("lld")
    result = {}
    for arch, b in built.items():
        image = b.link()
        paths = [str(p) for p in b.paths.values()]
        result[arch] = (image, lld_link(image, paths, b.externals, out / f"{arch}.elf"))
    return result


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_bytes_identical_to_lld(linked, arch: str) -> None:
    image, exe = linked[arch]
    by_name = {f".p{n}": p for n, p in enumerate(image.placements)}
    with open(exe, "rb") as fh:
        elf = ELFFile(fh)
        allocated = [s for s in elf.iter_sections() if s["sh_flags"] & SH_FLAGS.SHF_ALLOC]
        assert {s.name for s in allocated} <= set(by_name), "lld allocated something we did not"
        compared = 0
        for sec in allocated:
            p = by_name[sec.name]
            assert sec["sh_addr"] == p.addr and sec["sh_size"] == p.size, sec.name
            theirs = b"\0" * p.size if sec["sh_type"] == "SHT_NOBITS" else sec.data()
            ours = read(image, p.addr, p.size)
            assert ours == theirs, f"{p.obj}({p.name}) at 0x{p.addr:x}: {first_diff(ours, theirs)}"
            compared += p.size
    assert compared == sum(p.size for p in image.placements)


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_symbols_identical_to_lld(linked, arch: str) -> None:
    image, exe = linked[arch]
    with open(exe, "rb") as fh:
        symtab = ELFFile(fh).get_section_by_name(".symtab")
        syms = list(symtab.iter_symbols())
    typed = Counter((s.name, s["st_value"], s["st_size"]) for s in syms
                    if s["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT"))
    assert typed == Counter((s.name, s.addr, s.size) for s in image.symbol_table)
    exported = {s.name: s["st_value"] for s in syms
                if s["st_info"]["bind"] != "STB_LOCAL" and s["st_shndx"] not in ("SHN_UNDEF", "SHN_ABS")}
    assert exported == image.symbols


def read(image: Image, addr: int, size: int) -> bytes:
    """Bytes of the image at [addr, addr+size) (must lie in one segment)."""
    seg = image.segment_at(addr) if size else None
    if seg is None:
        return b""
    return bytes(seg.bytes[addr - seg.addr:addr - seg.addr + size])


def first_diff(a: bytes, b: bytes) -> str:
    """Where two byte strings first differ, for the assertion message."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"first difference at +0x{i:x}: ours {a[i:i + 8].hex()} lld {b[i:i + 8].hex()}"
    return f"lengths {len(a)} vs {len(b)}"
