"""The Image's layout rules and lookup helpers."""
from __future__ import annotations

from loader import Image, link
from loader.link import ImageSymbol, Segment


def test_segments_are_ordered_page_aligned_and_typed(arch_built) -> None:
    image = arch_built.link()
    assert [s.name for s in image.segments] == ["text", "rodata", "data", "bss"]
    assert [s.perms for s in image.segments] == ["r-x", "r--", "rw-", "rw-"]
    assert image.segments[0].addr == arch_built.base
    for seg, nxt in zip(image.segments, image.segments[1:]):
        assert seg.addr % 0x1000 == 0 and seg.end <= nxt.addr
    assert image.end == image.segments[-1].end
    assert not any(image.segments[-1].bytes)
    assert image.ranges_of("bss") == [(image.segments[-1].addr, image.end)]
    assert image.ranges_of("nothing") == []


def test_each_section_aligned_inside_its_segment(arch_built) -> None:
    image = arch_built.link()
    objs = {o.path: o for o in arch_built.objects()}
    for p in image.placements:
        sec = objs[p.obj].section(p.index)
        assert p.addr % sec.align == 0
        seg = next(s for s in image.segments if s.name == p.segment)
        assert seg.addr <= p.addr and p.addr + p.size <= seg.end
    order = [(p.segment, p.addr) for p in image.placements]
    assert [a for _, a in order] == sorted(a for _, a in order)


def test_custom_page_size(arch_built) -> None:
    image = link(arch_built.objects(), 0x100000, arch_built.externals, page=0x10000)
    assert all(s.addr % 0x10000 == 0 for s in image.segments)


def test_link_is_deterministic(arch_built) -> None:
    one, two = arch_built.link(), arch_built.link()
    assert [(s.name, s.addr, bytes(s.bytes)) for s in one.segments] == \
        [(s.name, s.addr, bytes(s.bytes)) for s in two.segments]
    assert one.symbols == two.symbols and one.symbol_table == two.symbol_table
    assert list(one.symbols) == sorted(one.symbols)


def test_symbol_table_has_locals_and_sizes(arch_built) -> None:
    image = arch_built.link()
    by_name = {s.name: s for s in image.symbol_table}
    assert by_name["primes"].binding == "local" and by_name["primes"].size == 32
    assert by_name["arena"].size == 1 << 20
    assert by_name["add1"].type == "func" and by_name["add1"].binding == "local"
    assert "add1" not in image.symbols and image.symbols["call_all"] == by_name["call_all"].addr
    assert "$a" not in by_name and ".text" not in by_name


def test_symbolize_real_image(arch_built) -> None:
    image = arch_built.link()
    call_all = next(s for s in image.symbol_table if s.name == "call_all")
    assert image.symbolize(call_all.addr) == "call_all"
    assert image.symbolize(call_all.addr + 4) == "call_all+0x4"
    assert image.symbolize(arch_built.base - 1) is None
    arena = next(s for s in image.symbol_table if s.name == "arena")
    assert image.symbolize(arena.addr + 0x12345) == "arena+0x12345"


def fake_image() -> Image:
    """Two sized symbols with a gap, one alias pair, and an unsized label."""
    syms = [
        ImageSymbol("f", 0x1000, 0x10, "func", "a.o"),
        ImageSymbol("g_local", 0x1020, 0x8, "func", "a.o", "local"),
        ImageSymbol("g", 0x1020, 0x8, "func", "a.o"),
        ImageSymbol("g_obj", 0x1020, 0x8, "object", "a.o"),
        ImageSymbol("label", 0x1040, 0, "func", "a.o"),
    ]
    return Image("amd64", [Segment("text", 0x1000, bytearray(0x60), "r-x")], {}, syms, end=0x1060)


def test_symbolize_rules() -> None:
    image = fake_image()
    assert image.symbolize(0xFFF) is None
    assert image.symbolize(0x1000) == "f"
    assert image.symbolize(0x100F) == "f+0xf"
    assert image.symbolize(0x1010) == "f+0x10", "the end of a sized symbol still names it"
    assert image.symbolize(0x1011) is None, "past the end of a sized symbol"
    assert image.symbolize(0x1024) == "g+0x4", "globals before locals, functions before objects"
    assert image.symbolize(0x1050) == "label+0x10", "an unsized symbol runs to the segment end"
    assert image.symbolize(0x1060) is None
    assert image.segment_at(0x105F).name == "text" and image.segment_at(0x1060) is None
