"""goemu's linked image as an ELF executable with a symbol table, for gdb.

gdb names code from the file it loads (``file X``, or the path the stub
serves through qXfer:exec-file): one section per image chunk (the program's
text, the runtime's text, rodata, bss), every function of the asm stubs, the
program and the C runtime as an STT_FUNC symbol with its size, every global
as an STT_OBJECT.  No DWARF: gdb disassembles, sets breakpoints by name and
unwinds as far as its prologue analysis goes.
"""
from __future__ import annotations

import struct
from pathlib import Path

EM = {"EM_X86_64": 62, "EM_ARM": 40, "EM_386": 3, "EM_AARCH64": 183, "EM_RISCV": 243}

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_NOBITS = 1, 2, 3, 8
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION = 0, 1, 2, 3
STB_LOCAL, STB_GLOBAL = 0, 1
SHN_ABS = 0xFFF1
PT_LOAD = 1


class _Strtab:
    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self.index: dict[str, int] = {}

    def add(self, s: str) -> int:
        if s not in self.index:
            self.index[s] = len(self.data)
            self.data += s.encode() + b"\0"
        return self.index[s]


def _section_name(region: str) -> str:
    if region == "text":
        return ".text"
    return "." + region.replace(".", "_")


def image_elf(image, tdesc_module) -> bytes:
    """The ELF file's bytes for ``image`` (an emu.image.Image)."""
    arch = image.arch
    is64 = arch.ptrsize == 8
    machine = EM[arch.elf_machine]
    # sections: null, one per chunk, .symtab, .strtab, .shstrtab
    shstr, strtab = _Strtab(), _Strtab()
    secs = []          # (name, type, flags, addr, data or size, align)
    for region, addr, data, perms in image.chunks:
        flags = SHF_ALLOC | (SHF_WRITE if "w" in perms else 0) | (SHF_EXECINSTR if "x" in perms else 0)
        nobits = region.endswith("bss")
        secs.append((_section_name(region), SHT_NOBITS if nobits else SHT_PROGBITS, flags, addr,
                     len(data) if nobits else bytes(data), 16))

    def shndx(addr: int) -> int:
        for i, (_n, _t, _f, a, d, _al) in enumerate(secs):
            size = d if isinstance(d, int) else len(d)
            if a <= addr < a + max(size, 1):
                return i + 1
        return SHN_ABS

    syms = [(0, 0, 0, 0, 0, 0)]            # (name, value, size, info, shndx); the null symbol
    locals_, globals_ = [], []
    mapping = getattr(tdesc_module, "CODE_MAPPING_SYMBOL", None)
    for i, (_n, _t, flags, addr, _d, _a) in enumerate(secs):
        locals_.append((strtab.add(_n), addr, 0, (STB_LOCAL << 4) | STT_SECTION, i + 1))
        if mapping and flags & SHF_EXECINSTR:
            locals_.append((strtab.add(mapping), addr, 0, (STB_LOCAL << 4) | STT_NOTYPE, i + 1))
    seen: set[tuple[str, int]] = set()
    for name, addr, size in image.code_functions():
        if (name, addr) not in seen:
            seen.add((name, addr))
            globals_.append((strtab.add(name), addr, size, (STB_GLOBAL << 4) | STT_FUNC, shndx(addr)))
    objects = [(s.name, s.addr, s.size) for s in image.c_image.symbol_table if s.type == "object"]
    objects += [(name, a, size) for name, (a, size) in image.data.items()]
    for name, addr, size in objects:
        if (name, addr) not in seen:
            seen.add((name, addr))
            globals_.append((strtab.add(name), addr, size, (STB_GLOBAL << 4) | STT_OBJECT, shndx(addr)))
    syms = [(0, 0, 0, 0, 0)] + locals_ + globals_
    first_global = 1 + len(locals_)

    if is64:
        sym_bytes = b"".join(struct.pack("<IBBHQQ", n, info, 0, ndx, v, sz) for n, v, sz, info, ndx in syms)
        symsize = 24
    else:
        sym_bytes = b"".join(struct.pack("<IIIBBH", n, v, sz, info, 0, ndx) for n, v, sz, info, ndx in syms)
        symsize = 16

    ehsize, phentsize, shentsize = (64, 56, 64) if is64 else (52, 32, 40)
    loads = [s for s in secs]
    phoff = ehsize
    off = phoff + phentsize * len(loads)
    layout = []        # file offset of each chunk section
    body = bytearray()
    for (_n, typ, _f, addr, d, _a) in secs:
        # congruent with the address modulo the page size, as a loader expects
        pad = (addr - (off + len(body))) % 0x1000
        body += b"\0" * pad
        layout.append(off + len(body))
        if typ != SHT_NOBITS:
            body += d
    sym_off = off + len(body) + (-(off + len(body)) % 8)
    body += b"\0" * (sym_off - off - len(body))
    body += sym_bytes
    str_off = off + len(body)
    body += strtab.data
    names = [shstr.add(s[0]) for s in secs] + [shstr.add(".symtab"), shstr.add(".strtab"),
                                               shstr.add(".shstrtab")]
    shstr_off = off + len(body)
    body += shstr.data
    shoff = off + len(body) + (-(off + len(body)) % 8)
    body += b"\0" * (shoff - off - len(body))

    nsec = len(secs) + 4
    ident = b"\x7fELF" + bytes((2 if is64 else 1, 1, 1, 0)) + b"\0" * 8
    entry = image.symbols.get("rt0", 0)
    flags = getattr(tdesc_module, "ELF_FLAGS", 0)
    if is64:
        eh = ident + struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, entry, phoff, shoff, flags, ehsize,
                                 phentsize, len(loads), shentsize, nsec, nsec - 1)
    else:
        eh = ident + struct.pack("<HHIIIIIHHHHHH", 2, machine, 1, entry, phoff, shoff, flags, ehsize,
                                 phentsize, len(loads), shentsize, nsec, nsec - 1)
    ph = bytearray()
    for (_n, typ, f, addr, d, _a), foff in zip(secs, layout):
        size = d if isinstance(d, int) else len(d)
        filesz = 0 if typ == SHT_NOBITS else size
        pf = 4 | (2 if f & SHF_WRITE else 0) | (1 if f & SHF_EXECINSTR else 0)
        if is64:
            ph += struct.pack("<IIQQQQQQ", PT_LOAD, pf, foff, addr, addr, filesz, size, 0x1000)
        else:
            ph += struct.pack("<IIIIIIII", PT_LOAD, foff, addr, addr, filesz, size, pf, 0x1000)

    def sh(name, typ, flags, addr, off, size, link=0, info=0, align=1, entsize=0) -> bytes:
        if is64:
            return struct.pack("<IIQQQQIIQQ", name, typ, flags, addr, off, size, link, info, align, entsize)
        return struct.pack("<IIIIIIIIII", name, typ, flags, addr, off, size, link, info, align, entsize)

    shdrs = sh(0, 0, 0, 0, 0, 0)
    for i, ((_n, typ, f, addr, d, al), foff) in enumerate(zip(secs, layout)):
        size = d if isinstance(d, int) else len(d)
        shdrs += sh(names[i], typ, f, addr, foff, size, align=al)
    k = len(secs)
    shdrs += sh(names[k], SHT_SYMTAB, 0, 0, sym_off, len(sym_bytes), link=k + 2, info=first_global,
                align=8, entsize=symsize)
    shdrs += sh(names[k + 1], SHT_STRTAB, 0, 0, str_off, len(strtab.data))
    shdrs += sh(names[k + 2], SHT_STRTAB, 0, 0, shstr_off, len(shstr.data))
    return bytes(eh) + bytes(ph) + bytes(body) + shdrs


def write_image_elf(image, tdesc_module, path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(image_elf(image, tdesc_module))
    return path
