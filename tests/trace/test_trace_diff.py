import os
from pathlib import Path

import pytest

from emu.trace.diff import _writes, diff, format_html, format_text, myers

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
    # one added instruction per unsplit (oldstack runs twice): the store of 0 to m->cret.
    # clang keeps m in rcx rather than rax around it, so the two loads before it differ
    # by that register (the stubs take cret in AX, as gogo's caller left it in Go).
    assert len(res.hunks) == 2
    for h in res.hunks:
        assert [r.text for r in h.only_a] == ["mov rax, qword ptr fs:[0xfffffffffffffff8]",
                                             "mov rax, qword ptr [rax + 0x38]"]
        assert [(r.sym, r.text) for r in h.only_b] == [
            ("oldstack+0x7d", "mov rcx, qword ptr fs:[0xfffffffffffffff8]"),
            ("oldstack+0x86", "mov rax, qword ptr [rcx + 0x38]"),
            ("oldstack+0x8a", "mov qword ptr [rcx + 0x38], 0")]
        (w,) = h.only_b[2].writes
        assert w[1:] == (8, b"\0" * 8)
    # no control-flow divergence before the collection: everything else aligned
    assert res.aligned == res.a["records"] - 4 == res.b["records"] - 6
    assert res.common_prefix == res.hunks[0].a_start
    # no memory differences at aligned instructions: the return address `call gogo` pushes moved
    # with the inserted store, but aligned calls push "the address after this call" in both runs
    assert res.memory_diffs == []
    calls = [r for h in res.hunks for _a, r in h.after if r.text.startswith("call")]
    assert calls and all(w["return_address"] and w["value"] == "oldstack+0x99"
                         for r in calls for w in _writes(res.sb, r, 8))
    assert res.register_diffs == []
    _gc_outcome(res)
    j = res.to_json()
    assert j["hunks"][0]["only_b"][2]["writes"][0]["name"] == "m0.cret"
    assert j["hunks"][0]["only_b"][2]["writes"][0]["value"] == "0x0"


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
    path = GOLDEN / f"diff_{arch}.txt"
    if os.environ.get("GOEMU_REGEN_GOLDEN"):      # after a deliberate change: rewrite, then read the diff
        path.write_text(got)
    assert got == path.read_text()


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_diff_self_is_empty(traces, arch):
    res = diff(traces[arch, "buggy"], traces[arch, "buggy"])
    assert res.identical and res.hunks == [] and res.common_prefix == res.a["records"]
    assert "traces are identical" in format_text(res)


def test_diff_html_and_color(traces, tmp_path):
    res = diff(traces["amd64", "buggy"], traces["amd64", "fixed"])
    page = format_html(res)
    assert "<details>" in page and "mov qword ptr [rcx + 0x38], 0" in page and "<script" not in page
    assert "\033[32m+" in format_text(res, color=True)


def test_myers_small_window(traces):
    # windowed alignment with a tiny window still finds the same hunks
    res = diff(traces["amd64", "buggy"], traces["amd64", "fixed"], window=50)
    assert [len(h.only_b) for h in res.hunks] == [3, 3]
    for a, b in [("abcabba", "cbabac"), ("", "ab"), ("ab", "")]:
        ops = myers(list(a), list(b))
        assert "".join(a[i] for o, i, j in ops if o != "+") == a
        assert "".join(b[j] for o, i, j in ops if o != "-") == b


def _lcs(a, b):
    L = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        for j in range(len(b) - 1, -1, -1):
            L[i][j] = L[i + 1][j + 1] + 1 if a[i] == b[j] else max(L[i + 1][j], L[i][j + 1])
    return L[0][0]


def test_myers_is_a_shortest_edit_script():
    import random
    rng = random.Random(5)
    for _ in range(400):
        a = [rng.randint(0, 3) for _ in range(rng.randint(0, 14))]
        b = [rng.randint(0, 3) for _ in range(rng.randint(0, 14))]
        ops = myers(a, b)
        assert [a[i] for o, i, _ in ops if o != "+"] == a
        assert [b[j] for o, _, j in ops if o != "-"] == b
        assert all(a[i] == b[j] for o, i, j in ops if o == "=")
        assert sum(o != "=" for o, _, _ in ops) == len(a) + len(b) - 2 * _lcs(a, b)
    assert myers(list(range(10)), list(range(10, 20)), maxd=5) is None


def test_diff_memory_is_bounded(tmp_path, monkeypatch):
    """Peak memory of diffing 4N records is far from 4x that of N records: the diff keeps
    a bounded window, capped lists and one decoded chunk per trace (window and caps
    lowered here so that both sizes reach them in a few seconds)."""
    import tracemalloc

    import emu.trace.diff as D
    from emu.run import load_program, new_machine
    from emu.trace.native import NativeReader
    from emu.trace.record import record
    from emu.workloads import repeated_leak

    monkeypatch.setattr(D, "CAP", 4)
    monkeypatch.setattr(D, "HUNK_KEEP", 16)
    paths = {}
    for v in ("buggy", "fixed"):
        unit = load_program(None, text=repeated_leak("amd64", 8), name="leak8.s")
        paths[v] = str(tmp_path / f"{v}.gtr")
        record(new_machine("amd64", v, unit), paths[v], "native")
    n = 24_000   # past the allocator's start-up and the first rounds, where buggy and fixed diverge

    def peak(limit):
        with NativeReader(paths["buggy"], limit) as A, NativeReader(paths["fixed"], limit) as B:
            tracemalloc.start()
            res = D.diff_readers(A, B, window=256)
            p = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        return res, p

    small, p1 = peak(n)
    big, p4 = peak(4 * n)
    assert small.a["records"] == n and big.a["records"] == 4 * n
    # both diffs found more than the caps keep (so the caps, not the length, bound memory)
    assert small.dropped["hunks"] > 0 and big.dropped["hunks"] > small.dropped["hunks"]
    # (the first ~18k records -- start-up and the first rounds -- are aligned in both sizes)
    assert big.aligned > small.aligned
    assert p4 < 1.5 * p1, (p1, p4)
    print(f"tracemalloc peak: {n} records {p1} B, {4 * n} records {p4} B")


def test_diff_fold_expand_and_hunk_cap(traces, monkeypatch):
    import emu.trace.diff as D
    res = diff(traces["arm", "buggy"], traces["arm", "fixed"])
    folded, full = format_text(res), format_text(res, fold=False)
    # one screen: the second unsplit's hunks fold into one line, renamed registers pair up
    assert "hunks 7-12 repeat hunks 1-6" in folded and len(folded.splitlines()) <= 60
    assert sum(ln.startswith("~") for ln in folded.splitlines()) == 6
    # expanded: every hunk and every record of it, as -/+ lines
    assert full.count("\n@@ ") == len(res.hunks) == 12
    assert not any(ln.startswith("~") for ln in full.splitlines())
    for h in res.hunks:
        assert all(f"-a#{r.index} " in full for r in h.only_a) and all(f"+b#{r.index} " in full for r in h.only_b)
    # a hunk keeps at most HUNK_KEEP records per side; the counts stay exact
    monkeypatch.setattr(D, "HUNK_KEEP", 1)
    capped = diff(traces["arm", "buggy"], traces["arm", "fixed"])
    big = next(h for h in capped.hunks if h.n_b == 4)
    assert len(big.only_b) == 1
    assert "+... 3 more records only in b" in format_text(capped)
    j = capped.to_json()["hunks"][capped.hunks.index(big)]
    assert j["b_len"] == 4 and len(j["only_b"]) == 1
