import pytest

from emu.run import load_program, new_machine
from emu.trace.cli import DEMOS
from emu.trace.record import record


def make_trace(path, arch, variant, fmt="native"):
    mc = new_machine(arch, variant, load_program(str(DEMOS / f"leak_{arch}.s")))
    return record(mc, str(path), fmt, f"leak_{arch}.s")


@pytest.fixture(scope="session")
def traces(tmp_path_factory):
    d = tmp_path_factory.mktemp("traces")
    out = {}
    for arch in ("amd64", "arm"):
        for v in ("buggy", "fixed"):
            p = d / f"{arch}-{v}.gtr"
            make_trace(p, arch, v)
            out[arch, v] = p
    out["dir"] = d
    return out
