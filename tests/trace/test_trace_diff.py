from pathlib import Path

import pytest

from emu.trace.diff import diff, format_html, format_text, myers

GOLDEN = Path(__file__).parent / "golden"


def _text(res, d):
    return format_text(res).replace(str(d) + "/", "")


def _unsplits(res):
    return [h for h in res.hunks]


def _gc_outcome(res):
    assert len(res.gc) == 1
    g = res.gc[0]
    assert [o["root"] for o in g["retained_only_in_a"]] == ["m0.cret"]
    assert [o["size"] for o in g["retained_only_in_a"]] == [48]
    assert [o["addr"] for o in g["freed_only_in_b"]] == [o["addr"] for o in g["retained_only_in_a"]]
    assert not g["freed_only_in_a"] and not g["retained_only_in_b"]


def test_diff_amd64_exact(traces):
    res = diff(traces["amd64", "buggy"], traces["amd64", "fixed"])
    # exactly one added instruction per unsplit (oldstack runs twice), nothing removed
    assert len(res.hunks) == 2
    for h in res.hunks:
        assert h.only_a == []
        assert [(r.sym, r.text) for r in h.only_b] == [("oldstack+0x8b", "mov qword ptr [rax + 0x38], 0")]
        (w,) = h.only_b[0].writes
        assert w[1:] == (8, b"\0" * 8)
    # no control-flow divergence before the collection: everything else aligned
    assert res.aligned == res.a["records"] == res.b["records"] - 2
    assert res.common_prefix == res.hunks[0].a_start
    # the only memory differences at aligned instructions: the moved return address of `call gogo`
    assert [res.sa.text(d["text"]) for d in res.memory_diffs] == ["call gogo", "call gogo"]
    assert res.register_diffs == []
    _gc_outcome(res)
    j = res.to_json()
    assert j["hunks"][0]["only_b"][0]["writes"][0]["name"] == "m0.cret"
    assert j["hunks"][0]["only_b"][0]["writes"][0]["value"] == "0x0"


def test_diff_arm_exact(traces):
    res = diff(traces["arm", "buggy"], traces["arm", "fixed"])
    # every hunk is inside oldstack: no other control-flow divergence
    assert all(r.sym.startswith("oldstack") for h in res.hunks for r in h.only_a + h.only_b)
    a_only = [r.text for h in res.hunks for r in h.only_a]
    b_only = [r.text for h in res.hunks for r in h.only_b]
    # the fixed oldstack executes 2 more instructions per unsplit; the compiler also
    # swapped r10/r11 in the whole function, so renamed instructions show up as hunks
    assert len(b_only) - len(a_only) == 4
    assert b_only.count("mov r0, #0") == 2
    assert b_only.count("str r0, [r11, #0x20]") == 2
    cret_stores = [(r.index, r.writes) for h in res.hunks for r in h.only_b
                   if any(w[2] == b"\0" * 4 for w in r.writes) and r.text.startswith("str r0")]
    assert len(cret_stores) == 2
    assert not any(r.text.startswith("str r0, [r11, #0x20]") for h in res.hunks for r in h.only_a)
    _gc_outcome(res)


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_diff_golden(traces, arch):
    res = diff(traces[arch, "buggy"], traces[arch, "fixed"])
    got = _text(res, traces["dir"])
    golden = (GOLDEN / f"diff_{arch}.txt").read_text()
    assert got == golden


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_diff_self_is_empty(traces, arch):
    res = diff(traces[arch, "buggy"], traces[arch, "buggy"])
    assert res.identical and res.hunks == [] and res.common_prefix == res.a["records"]
    assert "traces are identical" in format_text(res)


def test_diff_html_and_color(traces, tmp_path):
    res = diff(traces["amd64", "buggy"], traces["amd64", "fixed"])
    page = format_html(res)
    assert "<details>" in page and "mov qword ptr [rax + 0x38], 0" in page and "<script" not in page
    assert "\033[32m+" in format_text(res, color=True)


def test_myers_small_window(traces):
    # windowed alignment with a tiny window still finds the same hunks
    res = diff(traces["amd64", "buggy"], traces["amd64", "fixed"], window=50)
    assert [len(h.only_b) for h in res.hunks] == [1, 1]
    for a, b in [("abcabba", "cbabac"), ("", "ab"), ("ab", "")]:
        ops = myers(list(a), list(b))
        assert "".join(a[i] for o, i, j in ops if o != "+") == a
        assert "".join(b[j] for o, i, j in ops if o != "-") == b
