import os
import re
from pathlib import Path

import pytest

from emu.trace.diff import _writes, diff, diff_readers, format_html, format_text, myers
from emu.trace.native import Record

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
    # clang keeps m in rcx rather than rax around it, so the two loads before it pair as
    # renamed registers (the stubs take cret in AX, as gogo's caller left it in Go).
    assert len(res.hunks) == 2
    for h in res.hunks:
        assert h.only_a == []
        assert [(r.sym, r.text) for r in h.only_b] == [("oldstack+0x8a", "mov qword ptr [rcx + 0x38], 0")]
        (w,) = h.only_b[0].writes
        assert w[1:] == (8, b"\0" * 8)
    assert res.renamed_count == 4
    assert [(d["a_text"], d["b_text"]) for d in res.renamed[:2]] == [
        ("mov rax, qword ptr fs:[0xfffffffffffffff8]", "mov rcx, qword ptr fs:[0xfffffffffffffff8]"),
        ("mov rax, qword ptr [rax + 0x38]", "mov rax, qword ptr [rcx + 0x38]")]
    # no control-flow divergence before the collection: everything else aligned
    assert res.aligned == res.a["records"] == res.b["records"] - 2
    assert res.common_prefix == res.hunks[0].a_start - 2
    # no memory differences at aligned instructions: the return address `call gogo` pushes moved
    # with the inserted store, but aligned calls push "the address after this call" in both runs
    assert res.memory_diffs == []
    calls = [r for h in res.hunks for _a, r in h.after if r.text.startswith("call")]
    assert calls and all(w["return_address"] and w["value"] == "oldstack+0x99"
                         for r in calls for w in _writes(res.sb, r, 8))
    assert res.register_diffs == []
    _gc_outcome(res)
    j = res.to_json()
    assert j["hunks"][0]["only_b"][0]["writes"][0]["name"] == "m0.cret"
    assert j["hunks"][0]["only_b"][0]["writes"][0]["value"] == "0x0"


def test_diff_arm_exact(traces):
    res = diff(traces["arm", "buggy"], traces["arm", "fixed"])
    # one hunk per unsplit, inside oldstack: the fix and nothing else
    assert len(res.hunks) == 2
    for h in res.hunks:
        assert all(r.sym.startswith("oldstack") for r in h.only_a + h.only_b)
        # the fixed oldstack executes 2 more instructions per unsplit: the store of 0 into m->cret
        # (5c also scheduled `add r0, r8, #8` after it: one instruction moved, shown as -/+)
        assert [r.text for r in h.only_b] == ["mov r0, #0", "str r0, [r11, #0x20]", "add r0, r8, #8"]
        assert [r.text for r in h.only_a] == ["add r0, r8, #8"]
        assert h.n_b - h.n_a == 2
        (w,) = [w for r in h.only_b for w in r.writes]
        assert w[1:] == (4, b"\0" * 4) and res.sb.addr(w[0]) == "m0.cret"
        # the renamed instructions inside the hunk are paired, not shown as -/+
        renamed = [(ra.text, rb.text) for op, ra, rb in h.ops if op == "=" and ra.text != rb.text]
        assert ("ldr r1, [r10, #0x20]", "ldr r1, [r11, #0x20]") in renamed
        assert ("strd r0, r1, [r11]", "strd r0, r1, [r10]") in [(ra.text, rb.text) for ra, rb in h.before]
    assert res.a["records"] + 4 == res.b["records"] and res.aligned == res.a["records"] - 2
    # every other difference of the two oldstacks is register allocation: aligned pairs
    assert res.renamed_count == 16
    assert list(res.renamed_by_function) == ["oldstack"]
    assert res.renamed_by_function["oldstack"]["map"] == {"r10": "r11", "r11": "r10", "r4": "r5"}
    assert all(d["a_text"] != d["b_text"] and d["where"].startswith("oldstack") for d in res.renamed)
    # no register difference from the renaming itself (no "(unchanged)" side), and what the
    # callee-saved pushes and pops of the swapped r10/r11 leave is labelled as such
    assert not any("(unchanged)" in v for d in res.register_diffs for vs in d["regs"].values() for v in vs)
    assert res.register_diffs and all(d["swapped"] for d in res.register_diffs)
    assert res.memory_diffs and all(d["swapped"] for d in res.memory_diffs)
    _gc_outcome(res)
    j = res.to_json()
    assert j["renamed"]["count"] == 16 and len(j["renamed"]["pairs"]) == 16
    assert [o for o, _, _ in j["hunks"][0]["ops"]] == ["-", "+", "=", "+", "+"]
    assert (j["hunks"][0]["a_span"], j["hunks"][0]["b_span"]) == (2, 4)
    # each run's collections, with what they retained and through which root
    # (two each: the first allocation's, started by the allocator as Go 1.0's was, and the demo's own)
    assert len(j["collections"]["a"]) == len(j["collections"]["b"]) == 2
    ga, gb = j["collections"]["a"][-1], j["collections"]["b"][-1]
    assert "m0.cret" in [o["root"] for o in ga["retained"]] and "m0.cret" not in [o["root"] for o in gb["retained"]]
    assert (ga["freed"], gb["freed"]) == (0, 1)


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
    assert "<details data-rows=" in page and "mov qword ptr [rcx + 0x38], 0" in page and "<script" not in page
    assert "\033[32m+" in format_text(res, color=True)


def test_myers_small_window(traces):
    # windowed alignment with a tiny window still finds the same hunks
    res = diff(traces["amd64", "buggy"], traces["amd64", "fixed"], window=50)
    assert [len(h.only_b) for h in res.hunks] == [1, 1]
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
    # one screen: the second unsplit's hunk folds into one line, renamed registers are summed up
    assert "@@ -17590 +17592 @@ hunk 2 repeats hunk 1" in folded
    assert "oldstack: 16 instructions, first a#17272 b#17272; a's -> b's: r10->r11 r11->r10 r4->r5" in folded
    assert len(folded.splitlines()) == 27           # 30 with the cycles section (traces here have none)
    # expanded: every hunk, and every renamed pair listed
    assert full.count("\n@@ ") == len(res.hunks) == 2 and "repeats" not in full
    assert sum(ln.startswith("  ~a#") for ln in full.splitlines()) == res.renamed_count == 16
    for h in res.hunks:
        assert all(f"-a#{r.index} " in full for r in h.only_a) and all(f"+b#{r.index} " in full for r in h.only_b)
    # a hunk keeps at most HUNK_KEEP records per side; the counts stay exact
    monkeypatch.setattr(D, "HUNK_KEEP", 1)
    capped = diff(traces["arm", "buggy"], traces["arm", "fixed"])
    big = capped.hunks[0]
    assert big.n_b == 3 and len(big.only_b) == 1
    # the hunk's lines stop after 3*HUNK_KEEP (-add, +mov, ~ldr); what is left is counted by kind
    assert [op for op, _, _ in big.ops] == ["-", "+", "="] and big.dropped_by_op == {"+": 2}
    text = format_text(capped)
    assert "+... 2 more records only in b" in text and "-... " not in text
    j = capped.to_json()["hunks"][0]
    assert j["b_len"] == 3 and len(j["only_b"]) == 1


def test_diff_text_lines_say_whose_index(traces):
    """Every line of a hunk names the side(s) its index belongs to: context ` a#N b#M`, renamed
    `~a#N b#M`, `-a#N`, `+b#N`; where the code moved, b's offset follows a's."""
    for arch in ("amd64", "arm"):
        res = diff(traces[arch, "buggy"], traces[arch, "fixed"])
        body = format_text(res, fold=False).split("\n@@ ", 1)[1].split("\nregisters renamed")[0]
        lines = [ln for ln in body.splitlines()[1:] if not ln.startswith(("@@", "collection", "cycles", "  "))]
        lines = [ln for ln in lines if not ln.startswith(("register", "memory"))]
        assert lines
        for ln in lines:
            assert re.match(r"( a#\d+ b#\d+ |~a#\d+ b#\d+ |-a#\d+ |\+b#\d+ )", ln), ln
    res = diff(traces["amd64", "buggy"], traces["amd64", "fixed"])
    assert "oldstack+0x8c→0x94     call gogo" in format_text(res)


# -- synthetic traces: the aligner on hand-made record streams -----------------------------
class _FakeReader:
    def __init__(self, name, texts, funcs=(("f", 0x1000, 0x400),)):
        self.path = name
        self.header = {"arch": "arm", "variant": name, "program": "p", "ptrsize": 4,
                       "registers": [f"r{i}" for i in range(13)] + ["sp", "lr", "pc"],
                       "functions": [list(f) for f in funcs], "data_names": []}
        self.recs = []
        self.state = {}
        for i, t in enumerate(texts):
            text, regs = t if isinstance(t, tuple) else (t, {})
            self.recs.append(Record(i, 0x1000 + 4 * i, b"\0" * 4, text, f"f+{4 * i:#x}" if i else "f",
                                    regs, []))

    def __iter__(self):
        for r in self.recs:
            self.state.update(r.regs)
            yield r


def _run(a, b):
    return diff_readers(_FakeReader("a", a), _FakeReader("b", b))


def test_aligner_pairs_renamed_registers_and_merges_close_hunks():
    common = [f"add r{i % 4}, r{i % 4}, #{i}" for i in range(20)]
    a = common[:5] + [("mov r10, r9", {"r10": 7}), "ldr r0, [r10]", "add r0, r8, #8"] + common[5:]
    b = common[:5] + [("mov r11, r9", {"r11": 7}), "mov r0, #0", "ldr r0, [r11]", "str r0, [r11, #4]",
                      "add r0, r8, #8"] + common[5:]
    res = _run(a, b)
    assert res.renamed_count == 2 and res.renamed_by_function["f"]["map"] == {"r10": "r11"}
    # r10 <- 7 in a and r11 <- 7 in b: the same value through the renaming, no register difference
    assert res.register_diffs == []
    (h,) = res.hunks
    assert [r.text for r in h.only_b] == ["mov r0, #0", "str r0, [r11, #4]"] and h.only_a == []
    assert [op for op, _, _ in h.ops] == ["+", "=", "+"]        # two edits one pair apart: one hunk
    assert res.aligned == len(a)
    # a renamed value that differs is still a difference, named with both registers
    b2 = list(b)
    b2[5] = ("mov r11, r9", {"r11": 8})
    (d,) = _run(a, b2).register_diffs
    assert d["regs"] == {"r10/r11": ["0x7", "0x8"]} and not d["swapped"]


def test_aligner_keeps_far_hunks_apart_and_different_shapes_unpaired():
    common = [f"add r{i % 4}, r{i % 4}, #{i}" for i in range(30)]
    a = common[:5] + ["push {r4}"] + common[5:20] + ["sub r1, r1, #1"] + common[20:]
    b = common[:5] + ["pop {r4}"] + common[5:20] + common[20:]
    res = _run(a, b)
    assert len(res.hunks) == 2 and res.renamed_count == 0
    assert [(op, (ra or rb).text) for op, ra, rb in res.hunks[0].ops] == [("-", "push {r4}"), ("+", "pop {r4}")]
    assert len(res.hunks[0].before) == len(res.hunks[0].after) == 3


def _doc_block(path, after):
    text = path.read_text()
    return text[text.index(after):].split("```\n", 2)[1]


def _no_cycles(out):
    lines = out.splitlines(keepends=True)
    i = next((k for k, ln in enumerate(lines) if ln.startswith("cycles (")), len(lines))
    return "".join(lines[:i])


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_readme_diff_example_is_what_the_tool_prints(arch):
    """The README's amd64 example and docs/trace-diff.md's ARM one are the golden diff (the tool's
    output on the leak demo) plus its cycles section, and the line counts they quote are right."""
    root = Path(__file__).parents[2]
    golden = (GOLDEN / f"diff_{arch}.txt").read_text()
    golden = golden.replace(f"{arch}-buggy.gtr", "a.gtr").replace(f"{arch}-fixed.gtr", "b.gtr")
    if arch == "amd64":
        block = _doc_block(root / "README.md", "What it shows for the leak demo")
    else:
        block = _doc_block(root / "docs/trace-diff.md", "goemu diff a.gtr b.gtr")
    assert _no_cycles(block) == golden
    n, m = len(block.splitlines()), len(golden.splitlines())
    readme = (root / "README.md").read_text()
    claim = f"{n} lines ({m} without the cycles section: `tests/trace/golden/diff_{arch}.txt`"
    assert claim in readme.replace("\n", " ").replace("  ", " "), claim
