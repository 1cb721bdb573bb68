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


def test_variants_differ_only_in_oldstack():
    """fixed adds the store of 0 to m->cret: oldstack differs, newstack does not."""
    from loader import read_object
    def text_of(variant, fn):
        obj = read_object(str(next(o for o in build.compile_runtime("amd64", variant) if o.name == "stack.o")))
        sym = next(s for s in obj.symbols if s.name == fn)
        sec = obj.section(sym.section)
        return bytes(sec.data[sym.value:sym.value + sym.size])
    assert text_of("buggy", "newstack") == text_of("fixed", "newstack")
    assert text_of("buggy", "oldstack") != text_of("fixed", "oldstack")
    assert len(text_of("fixed", "oldstack")) > len(text_of("buggy", "oldstack")) - 16
