"""Every way a link can fail says what, where (object, section+offset) and why."""
from __future__ import annotations

import dataclasses
import re
import shutil

import pytest

from emu.errors import LoaderError, RelocationOverflow
from loader import ObjectFile, link, read_object
from loader.elf import Reloc


def reloc_site(obj: ObjectFile, type_name_number: int) -> tuple[str, Reloc]:
    """The first relocation of a given type: (section name, reloc)."""
    for index in sorted(obj.relocations):
        for rel in obj.relocations[index]:
            if rel.type == type_name_number:
                return obj.section(index).name, rel
    raise AssertionError(f"no relocation of type {type_name_number} in {obj.path}")


def text_address(image, obj_path: str, section: str) -> int:
    return next(p.addr for p in image.placements if p.obj == obj_path and p.name == section)


# ------------------------------------------------------------------ overflow


def test_amd64_abs32_above_4gib_overflows(built) -> None:
    b = built["amd64"]
    (obj,) = b.objects("far")
    section, rel = reloc_site(obj, 10)  # R_X86_64_32: movl $far_data, %eax
    ok = link([obj], b.base, {**b.externals, "far_data": 0xFFFFFFFF})  # the last address that fits
    assert ok.segments
    with pytest.raises(RelocationOverflow) as info:
        link([obj], b.base, {**b.externals, "far_data": 0x1_0000_0000})
    err = info.value
    assert err.reloc_type == "R_X86_64_32" and err.obj == obj.path
    assert err.section == section and err.offset == rel.offset
    assert err.value == 0x1_0000_0000 and err.width == 32
    for part in ("R_X86_64_32", obj.path, f"{section}+0x{rel.offset:x}", "0x100000000", "32 bits"):
        assert part in str(err)


def test_arm_call_beyond_32mib_overflows(built) -> None:
    b = built["arm"]
    (obj,) = b.objects("far")
    section, rel = reloc_site(obj, 28)  # R_ARM_CALL: bl far_func
    place = text_address(link([obj], b.base, b.externals), obj.path, section) + rel.offset
    furthest = place + 8 + ((1 << 23) - 1) * 4  # pc reads as P + 8; imm24 words
    ok = link([obj], b.base, {**b.externals, "far_func": furthest})
    insn = int.from_bytes(ok.segments[0].bytes[place - b.base:place - b.base + 4], "little")
    assert insn & 0xFFFFFF == 0x7FFFFF
    with pytest.raises(RelocationOverflow) as info:
        link([obj], b.base, {**b.externals, "far_func": furthest + 4})
    err = info.value
    assert err.reloc_type == "R_ARM_CALL" and err.width == 24 and err.value == 1 << 23
    assert f"{obj.path} {section}+0x{rel.offset:x}: R_ARM_CALL" in str(err)
    backwards = place + 8 - (1 << 25)  # the most negative offset still fits
    link([obj], b.base, {**b.externals, "far_func": backwards})
    with pytest.raises(RelocationOverflow):
        link([obj], b.base, {**b.externals, "far_func": backwards - 4})


def test_arm_call_to_misaligned_target_refused(built) -> None:
    b = built["arm"]
    with pytest.raises(LoaderError, match="R_ARM_CALL.*multiple of 4"):
        link(b.objects("far"), b.base, {**b.externals, "far_func": b.base + 0x1001})


def test_arm_movt_beyond_32_bits_overflows(built) -> None:
    b = built["arm"]
    (obj,) = b.objects("far")
    for index, rels in obj.relocations.items():
        obj.relocations[index] = [r for r in rels if r.type != 28]  # keep only the data refs
    with pytest.raises(RelocationOverflow, match="R_ARM_MOV"):
        link([obj], b.base, {**b.externals, "far_data": 0x1_0000_0000})


# ------------------------------------------------------------------ unsupported


@pytest.mark.parametrize("arch,number,shown", [
    ("amd64", 9, "R_X86_64_GOTPCREL (9)"),
    ("amd64", 199, "relocation type 199"),
    ("arm", 10, "R_ARM_THM_CALL (10)"),
])
def test_unsupported_relocation_type(built, arch: str, number: int, shown: str) -> None:
    b = built[arch]
    objs = b.objects()
    obj = objs[1]  # calls.c
    index = min(i for i in obj.relocations if obj.section(i).name == ".text")
    first = obj.relocations[index][0]
    obj.relocations[index][0] = dataclasses.replace(first, type=number)
    with pytest.raises(LoaderError) as info:
        link(objs, b.base, b.externals)
    msg = str(info.value)
    assert f"unsupported relocation {shown}" in msg
    assert f".text+0x{first.offset:x}" in msg and obj.path in msg
    assert info.value.section == ".text" and info.value.offset == first.offset
    assert not isinstance(info.value, RelocationOverflow)


# ------------------------------------------------------------------ symbols


def test_undefined_symbol_names_first_reference(arch_built) -> None:
    objs = arch_built.objects()
    externals = dict(arch_built.externals)
    del externals["ext_var"]
    calls = objs[1]
    expected = first_reference(calls, "ext_var")
    with pytest.raises(LoaderError) as info:
        link(objs, arch_built.base, externals)
    err = info.value
    assert "undefined symbol 'ext_var'" in str(err)
    assert (err.obj, err.section, err.offset) == (calls.path, *expected)
    assert f"{expected[0]}+0x{expected[1]:x}" in str(err)


def test_all_undefined_symbols_are_counted(arch_built) -> None:
    with pytest.raises(LoaderError) as info:
        link(arch_built.objects(), arch_built.base, {})
    assert "and 4 more" in str(info.value)
    assert info.value.undefined == sorted(arch_built.externals)


def first_reference(obj: ObjectFile, name: str) -> tuple[str, int]:
    for index in sorted(obj.relocations):
        for rel in sorted(obj.relocations[index], key=lambda r: r.offset):
            if obj.symbols[rel.symbol].name == name:
                return obj.section(index).name, rel.offset
    raise AssertionError(name)


def test_unreferenced_undefined_symbol_is_fine(arch_built, compile_c) -> None:
    """An undefined symbol no relocation uses (``.globl`` without a definition)
    links, as ld does; the same symbol once referenced is refused by name."""
    unref = read_object(str(compile_c(arch_built.arch, '__asm__(".globl never_defined");\n'
                                                         "int answer(void) { return 42; }\n")))
    undefined = {s.name for s in unref.symbols if s.section is None and s.name}
    assert "never_defined" in undefined                 # the input really has one
    image = link([unref], arch_built.base, {})
    assert "answer" in image.symbols and "never_defined" not in image.symbols
    used = read_object(str(compile_c(arch_built.arch, "extern int never_defined;\n"
                                                        "int answer(void) { return never_defined; }\n")))
    with pytest.raises(LoaderError, match="undefined symbol 'never_defined'"):
        link([used], arch_built.base, {})


def test_duplicate_strong_definition(arch_built, tmp_path) -> None:
    copy = tmp_path / "calls-copy.o"
    shutil.copy(arch_built.paths["calls"], copy)
    objs = arch_built.objects() + [read_object(str(copy))]
    with pytest.raises(LoaderError) as info:
        link(objs, arch_built.base, arch_built.externals)
    msg = str(info.value)
    assert re.search(r"duplicate definition of '(hook|tail|dispatch|call_all)'", msg)
    assert str(copy) in msg and str(arch_built.paths["calls"]) in msg


def test_weak_definitions_do_not_clash(arch_built, tmp_path) -> None:
    """globals.c's weak hook loses to calls.c's; its weak_counter to nobody."""
    copy = tmp_path / "globals-copy.o"
    shutil.copy(arch_built.paths["globals"], copy)
    objs = arch_built.objects()
    second = dataclasses.replace(read_object(str(copy)))
    for sym in second.symbols:  # keep only the weak definitions global
        if sym.binding == "global" and sym.section is not None:
            sym.binding = "local"
    image = link(objs + [second], arch_built.base, arch_built.externals)
    calls_hook = [s for s in image.symbol_table if s.name == "hook"]
    assert len(calls_hook) == 1 and calls_hook[0].obj == objs[1].path
    assert image.symbols["hook"] == calls_hook[0].addr
    counters = [s for s in image.symbol_table if s.name == "weak_counter"]
    assert [s.obj for s in counters] == [objs[0].path]


def test_externals_do_not_override_definitions(arch_built) -> None:
    image = arch_built.link()
    again = link(arch_built.objects(), arch_built.base, {**arch_built.externals, "prime": 0x1234})
    assert again.symbols["prime"] == image.symbols["prime"] != 0x1234


def test_common_symbols_refused(compile_c, arch_built) -> None:
    path = compile_c(arch_built.arch, "int tentative;\nint get(void) { return tentative; }\n", "-fcommon")
    obj = read_object(str(path))
    assert any(s.section == "COMMON" for s in obj.symbols)
    with pytest.raises(LoaderError, match="-fno-common"):
        link([obj], arch_built.base, {})


# ------------------------------------------------------------------ inputs


def test_mixed_architectures_refused(built) -> None:
    with pytest.raises(LoaderError, match="architecture arm does not match amd64"):
        link(built["amd64"].objects("bss") + built["arm"].objects("bss"), 0x10000)


def test_nothing_to_link() -> None:
    with pytest.raises(LoaderError, match="nothing to link"):
        link([], 0x10000)


def test_unaligned_base_refused(arch_built) -> None:
    with pytest.raises(LoaderError, match="not aligned"):
        link(arch_built.objects("bss"), arch_built.base + 0x10)


def test_unknown_machine_refused(built, tmp_path) -> None:
    raw = bytearray(built["amd64"].paths["bss"].read_bytes())
    raw[18:20] = (183).to_bytes(2, "little")  # EM_AARCH64
    path = tmp_path / "aarch64.o"
    path.write_bytes(raw)
    with pytest.raises(LoaderError, match="unsupported machine EM_AARCH64") as info:
        read_object(str(path))
    assert info.value.obj == str(path)


def test_not_elf_refused(tmp_path) -> None:
    path = tmp_path / "junk.o"
    path.write_bytes(b"this is not an ELF file at all")
    with pytest.raises(LoaderError, match="not a readable ELF file"):
        read_object(str(path))


def test_missing_file_refused(tmp_path) -> None:
    with pytest.raises(LoaderError, match="cannot read"):
        read_object(str(tmp_path / "absent.o"))
