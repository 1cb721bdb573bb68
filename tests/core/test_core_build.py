"""The runtime_c build cache: a second build compiles nothing; an edit recompiles."""
import shutil

from emu import build


def test_cache_hit_compiles_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("GOEMU_CACHE", str(tmp_path))
    objs = build.compile_runtime("arm", "fixed")
    mtimes = [o.stat().st_mtime_ns for o in objs]
    calls = []
    real_run = build.subprocess.run

    def spy(cmd, *a, **kw):
        if "cc" in cmd:
            calls.append(cmd)
        return real_run(cmd, *a, **kw)
    monkeypatch.setattr(build.subprocess, "run", spy)
    again = build.compile_runtime("arm", "fixed")
    assert again == objs and not calls
    assert [o.stat().st_mtime_ns for o in again] == mtimes


def test_edit_changes_key(tmp_path, monkeypatch):
    src = tmp_path / "runtime_c"
    shutil.copytree(build.RUNTIME_C, src)
    monkeypatch.setattr(build, "RUNTIME_C", src)
    k1 = build.cache_key("amd64", "buggy")
    (src / "stack.c").write_text((src / "stack.c").read_text() + "\n/* edit */\n")
    assert build.cache_key("amd64", "buggy") != k1
    assert build.cache_key("amd64", "fixed") != build.cache_key("amd64", "buggy")


def _functions(variant: str) -> dict[tuple[str, str], bytes]:
    """(object, function) -> the function's bytes, for every function of every runtime_c object."""
    from loader import read_object
    out = {}
    for o in build.compile_runtime("amd64", variant):
        obj = read_object(str(o))
        for sym in obj.symbols:
            if sym.type == "func" and sym.size and sym.section is not None:
                data = obj.section(sym.section).data
                out[o.name, sym.name] = bytes(data[sym.value:sym.value + sym.size])
    return out


def test_variants_differ_only_in_oldstack():
    """fixed adds the store of 0 to m->cret: of every function of every object, only
    oldstack's bytes differ, and by that store (one 8-byte instruction, amd64)."""
    buggy, fixed = _functions("buggy"), _functions("fixed")
    assert buggy.keys() == fixed.keys() and len(buggy) >= 16
    differ = sorted(k for k in buggy if buggy[k] != fixed[k])
    assert differ == [("stack.o", "oldstack")]
    old_b, old_f = buggy["stack.o", "oldstack"], fixed["stack.o", "oldstack"]
    store = bytes.fromhex("48c7413800000000")          # mov qword ptr [rcx+0x38], 0: m->cret = 0
    assert len(old_f) - len(old_b) == len(store) and store in old_f and store not in old_b
