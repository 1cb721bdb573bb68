"""--engine on the commands that make a Machine."""
import json
import subprocess
import sys
from pathlib import Path

DEMOS = Path(__file__).resolve().parents[2] / "emu" / "demos"


def _goemu(*args):
    return subprocess.run([sys.executable, "-m", "emu.cli", *args], capture_output=True, text=True, timeout=600)


def test_cli_run_engines_agree_and_bad_engine_is_refused():
    out = {}
    for engine in ("python", "native"):
        r = _goemu("run", str(DEMOS / "leak_arm.s"), "--arch", "arm", "--cycles", "--json", "--engine", engine)
        assert r.returncode == 0, r.stderr
        out[engine] = json.loads(r.stdout)
    assert out["python"] == out["native"]
    assert out["native"]["instructions"] > 1000 and out["native"]["cycles"]["total"] > 0
    r = _goemu("run", "--engine", "jit")
    assert r.returncode == 64 and "--engine" in r.stderr and "native" in r.stderr


def test_cli_trace_engines_write_the_same_bytes(tmp_path):
    files = []
    for engine in ("python", "native"):
        p = tmp_path / f"{engine}.gtr"
        r = _goemu("trace", str(DEMOS / "leak_amd64.s"), "-o", str(p), "--engine", engine)
        assert r.returncode == 0, r.stderr
        files.append(p.read_bytes())
    assert files[0] == files[1] and len(files[0]) > 1000
