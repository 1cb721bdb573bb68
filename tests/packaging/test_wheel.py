"""The wheel: built from the checkout, installed (not editable) into a fresh
venv, `goemu run` works from another directory -- the runtime's sources, stubs
and demos come from the wheel, and the runtime is compiled into the user's
cache folder, not next to the installed package.

The fresh venv borrows the test venv's third-party packages through a .pth
line (its site-packages; .pth files inside it are not run, so the editable
goemu there stays invisible) instead of downloading them again.
`make wheel-check` does the same with a full `pip install` from PyPI."""
from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    [whl] = out.glob("goemu-*.whl")
    return whl


def test_wheel_carries_runtime_sources_stubs_and_demos(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    want = {f"emu/_runtime/asm/{a}/{f}.s" for a in ("amd64", "arm") for f in ("entries", "stack")}
    want |= {f"emu/_runtime/runtime_c/{f.name}" for f in (ROOT / "runtime_c").iterdir()}
    want |= {f"emu/demos/{f.name}" for f in (ROOT / "emu" / "demos").glob("*.s")}
    want |= {"emu/cycles/data/sandybridge.toml", "emu/cycles/data/cortex_a9.toml"}
    want |= {f"emu/arch/{p.parent.parent.name}/programs/{p.name}"
             for p in (ROOT / "emu" / "arch").glob("*/programs/*.s")}
    assert want <= names, sorted(want - names)
    assert not any(n.startswith(("tests/", "asm/", "runtime_c/")) for n in names)


@pytest.mark.slow
def test_installed_wheel_runs_from_any_directory(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "borrowed-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps",
                           "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=600)
    assert inst.returncode == 0, inst.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("GOEMU_CACHE", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    where = subprocess.run([str(py), "-c", "import emu, emu.build as b; print(emu.__file__); print(b.RUNTIME_C)"],
                           capture_output=True, text=True, cwd=elsewhere, env=env, check=True).stdout.split()
    assert where[0].startswith(str(env_dir)) and where[1].startswith(str(env_dir))   # not the checkout
    prog = elsewhere / "add.s"
    prog.write_text("TEXT add3, $4096-32\n\tmov rax, qword ptr [FP]\n\tadd rax, qword ptr [FP+8]\n"
                    "\tmov qword ptr [FP+16], rax\n\tRET\n"
                    "TEXT main, $32-0\n\tmov qword ptr [rsp], 40\n\tmov qword ptr [rsp+8], 2\n\tcall add3\n"
                    "\tmov rax, qword ptr [rsp+16]\n\tmov qword ptr [rsp], rax\n\tcall runtime.printint\n\tRET\n")
    goemu = env_dir / "bin" / "goemu"
    run = subprocess.run([str(goemu), "run", "add.s", "--json"], capture_output=True, text=True, cwd=elsewhere,
                         env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["output"] == ["42"] and out["splits"] == 1 and out["unsplits"] == 1
    # the built-in demo (package data), and the runtime compiled into the user's cache folder
    demo = subprocess.run([str(goemu), "run", "--arch", "amd64", "--variant", "buggy", "--json"],
                          capture_output=True, text=True, cwd=elsewhere, env=env, timeout=600)
    assert demo.returncode == 0, demo.stderr
    leak = next(d for d in json.loads(demo.stdout)["demos"] if d["demo"] == "leak")
    assert "m0.cret" in {o["root"] for o in leak["gcs"][-1]["retained"]}
    assert list((tmp_path / "cache" / "goemu").glob("amd64-buggy-*/*.o"))
    assert not list(Path(purelib).glob(".cache"))      # nothing written next to the installed package
