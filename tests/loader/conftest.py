"""Shared fixtures for the loader tests: the C fixtures compiled for both
architectures (once per session, in parallel) and the reference link."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from loader import Image, ObjectFile, link, read_object

FIXTURES = Path(__file__).parent / "fixtures"
SOURCES = ("globals", "calls", "bss", "asm", "far")
COMMON_FLAGS = [
    "-ffreestanding", "-fno-pic", "-fno-stack-protector", "-O2",
    "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-fno-addrsig",
    "-fomit-frame-pointer", "-c",
]
TARGETS = {
    "amd64": ["-target", "x86_64-freestanding-none"],
    "arm": ["-target", "arm-freestanding-eabi", "-mcpu=cortex_a15+reserve_r9"],
}
BASES = {"amd64": 0x400000, "arm": 0x10000}
ARCHES = tuple(TARGETS)


def compile_cmd(arch: str, src: Path, out: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """The runtime_c cross-compilation command line for one file."""
    return [sys.executable, "-m", "ziglang", "cc", *TARGETS[arch], *COMMON_FLAGS, *extra,
            str(src), "-o", str(out)]


def compile_many(jobs: list[list[str]]) -> None:
    """Run compiler command lines concurrently; fail with the compiler's output."""
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for cmd in jobs]
    for cmd, proc in zip(jobs, procs):
        out, _ = proc.communicate(timeout=120)
        if proc.returncode:
            pytest.fail(f"compile failed: {' '.join(cmd)}\n{out.decode(errors='replace')}")


def externals_for(arch: str) -> dict[str, int]:
    """Addresses for the symbols the fixtures leave undefined (all in range)."""
    base = BASES[arch]
    return {
        "ext_func": base + 0x200000,
        "ext_var": base + 0x200100,
        "ext_noreturn": base + 0x200200,
        "far_data": base + 0x200300,
        "far_func": base + 0x200400,
    }


@dataclass
class Built:
    """The compiled fixture objects of one architecture."""
    arch: str
    paths: dict[str, Path]

    @property
    def base(self) -> int:
        return BASES[self.arch]

    @property
    def externals(self) -> dict[str, int]:
        return externals_for(self.arch)

    def objects(self, *names: str) -> list[ObjectFile]:
        return [read_object(str(self.paths[n])) for n in (names or SOURCES)]

    def link(self, *names: str, externals: dict[str, int] | None = None) -> Image:
        exts = externals_for(self.arch) if externals is None else externals
        return link(self.objects(*names), BASES[self.arch], exts)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Every fixture source compiled for every architecture."""
    out = tmp_path_factory.mktemp("loader-objs")
    result = {a: Built(a, {s: out / f"{s}.{a}.o" for s in SOURCES}) for a in ARCHES}
    compile_many([compile_cmd(a, FIXTURES / f"{s}.c", p)
                  for a, b in result.items() for s, p in b.paths.items()])
    return result


@pytest.fixture(params=ARCHES)
def arch_built(request: pytest.FixtureRequest, built: dict[str, Built]) -> Built:
    """The compiled fixtures, once per architecture."""
    return built[request.param]


@pytest.fixture(scope="session")
def compile_c(tmp_path_factory: pytest.TempPathFactory):
    """Compile a C source string for one architecture; returns the object path."""
    out = tmp_path_factory.mktemp("loader-extra")
    count = iter(range(1 << 30))

    def run(arch: str, source: str, *extra: str) -> Path:
        n = next(count)
        src, obj = out / f"extra{n}.c", out / f"extra{n}.{arch}.o"
        src.write_text(source)
        compile_many([compile_cmd(arch, src, obj, extra)])
        return obj
    return run
