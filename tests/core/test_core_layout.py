"""Offsets come from runtime_c's DWARF; pin them to Go 1.0's offsets, worked out by
hand from src/pkg/runtime/runtime.h as 6c (amd64) and 5c (ARM) lay it out: every field that the stubs and the collector rely on."""
import pytest

from emu.build import compile_runtime
from emu.layout import read_layouts

# (struct, field): (amd64, arm) — worked out by hand from Go 1.0's runtime.h.
REFERENCE = {
    ("Gobuf", "sp"): (0, 0), ("Gobuf", "pc"): (8, 4), ("Gobuf", "g"): (16, 8),
    ("G", "stackguard"): (0, 0), ("G", "stackbase"): (8, 4), ("G", "sched"): (32, 16),
    ("G", "sched.sp"): (32, 16), ("G", "sched.pc"): (40, 20), ("G", "sched.g"): (48, 24),
    ("G", "gcstack"): (56, 28), ("G", "alllink"): (96, 48), ("G", "status"): (112, 56),
    ("G", "goid"): (116, 60), ("G", "ispanic"): (145, 77), ("G", "m"): (152, 80), ("G", "gopc"): (208, 108),
    ("M", "g0"): (0, 0), ("M", "morepc"): (8, 4), ("M", "moreargp"): (16, 8), ("M", "morebuf"): (24, 12),
    ("M", "moreframesize"): (48, 24), ("M", "moreargsize"): (52, 28), ("M", "cret"): (56, 32),
    ("M", "procid"): (64, 36), ("M", "gsignal"): (72, 44), ("M", "tls"): (80, 48), ("M", "curg"): (112, 80),
    ("M", "fastrand"): (156, 120), ("M", "ncgocall"): (160, 124), ("M", "havenextg"): (168, 132),
    ("M", "alllink"): (184, 140), ("M", "mcache"): (208, 152), ("M", "createstack"): (240, 168),
    ("M", "freglo"): (496, 296), ("M", "fflag"): (624, 424), ("M", "waitsema"): (640, 432),
    ("M", "waitsemalock"): (652, 440),
    ("Stktop", "stackguard"): (0, 0), ("Stktop", "stackbase"): (8, 4), ("Stktop", "gobuf"): (16, 8),
    ("Stktop", "argsize"): (40, 20), ("Stktop", "argp"): (48, 24), ("Stktop", "free"): (56, 28),
    ("Stktop", "panic"): (64, 32),
}
SIZES = {"Gobuf": (24, 12), "G": (216, 112), "M": (656, 444), "Stktop": (72, 36)}
ZASM = {"g_stackguard": (0, 0), "g_stackbase": (8, 4), "g_sched": (32, 16), "gobuf_sp": (0, 0),
        "gobuf_pc": (8, 4), "gobuf_g": (16, 8), "m_g0": (0, 0), "m_morepc": (8, 4), "m_moreargp": (16, 8),
        "m_morebuf": (24, 12), "m_moreframesize": (48, 24), "m_moreargsize": (52, 28), "m_cret": (56, 32),
        "m_curg": (112, 80)}
CONSTANTS = {"StackSystem": 0, "StackExtra": 1024, "StackMin": 4096, "FixedStack": 4096, "StackBig": 4096,
             "StackGuard": 256, "StackSmall": 128, "StackLimit": 128}


@pytest.fixture(scope="module", params=["amd64", "arm"])
def layouts(request):
    return request.param, read_layouts(compile_runtime(request.param, "buggy"), request.param)


def test_field_offsets_match_go1(layouts):
    arch, L = layouts
    col = 0 if arch == "amd64" else 1
    for (struct, path), offs in REFERENCE.items():
        assert L[struct].offset(path) == offs[col], f"{arch} {struct}.{path}"


def test_struct_sizes_match_go1(layouts):
    arch, L = layouts
    col = 0 if arch == "amd64" else 1
    for struct, sizes in SIZES.items():
        assert L[struct].size == sizes[col], f"{arch} sizeof({struct})"


def test_zasm_names_and_stack_constants(layouts):
    arch, L = layouts
    col = 0 if arch == "amd64" else 1
    z = L.zasm()
    for name, offs in ZASM.items():
        assert z[name] == offs[col], name
    for name, value in CONSTANTS.items():
        assert z[name] == value, name


def test_variants_share_layouts():
    for arch in ("amd64", "arm"):
        a = read_layouts(compile_runtime(arch, "buggy"), arch)
        b = read_layouts(compile_runtime(arch, "fixed"), arch)
        assert a["M"].leaves == b["M"].leaves
