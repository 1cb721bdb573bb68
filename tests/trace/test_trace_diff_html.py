"""`goemu diff --html`: the page parsed, not grepped -- two columns in every row, folds that hold
every hidden row (as many as their summary says), every record of both traces on the page exactly
once, the collections of both runs side by side with the root that kept the object, and a layout
whose columns wrap inside their own half of the page (no browser here to render it)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from emu.cli import main
from emu.trace.diff import diff, format_html


class _Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children: list[_Node] = []
        self.text = ""

    def all(self, tag=None):
        for c in self.children:
            if tag is None or c.tag == tag:
                yield c
            yield from c.all(tag)

    def classes(self):
        return set((self.attrs.get("class") or "").split())

    def full_text(self):
        return self.text + "".join(c.full_text() for c in self.children)


class _Tree(HTMLParser):
    VOID = frozenset({"meta", "col", "br", "link", "img"})

    def __init__(self, page):
        super().__init__()
        self.root = self.cur = _Node("root", [])
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        n = _Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in self.VOID:
            self.cur = n

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        assert n is not self.root, f"</{tag}> closes nothing"
        self.cur = n.parent

    def handle_data(self, data):
        self.cur.text += data


def _rows(table):
    """The rows of this table, not of the tables nested in it."""
    out = []

    def walk(n):
        for c in n.children:
            if c.tag == "tr":
                out.append(c)
            elif c.tag != "table":
                walk(c)
    walk(table)
    return out


@pytest.fixture(scope="module", params=["amd64", "arm"])
def page(request, traces):
    arch = request.param
    res = diff(traces[arch, "buggy"], traces[arch, "fixed"])
    html = format_html(res)
    tree = _Tree(html)
    assert tree.cur is tree.root, "unclosed element"
    return arch, res, html, tree.root


def _table(root, tid):
    return next(t for t in root.all("table") if t.attrs.get("id") == tid)


def test_html_two_columns_everywhere(page):
    _arch, _res, html, root = page
    trace = _table(root, "trace")
    ths = [th for th in trace.all("th")]
    assert [th.classes() for th in ths] == [{"a"}, {"b"}]
    assert ths[0].full_text().startswith("a: ") and "buggy" in ths[0].full_text()
    assert ths[1].full_text().startswith("b: ") and "fixed" in ths[1].full_text()
    for tr in trace.all("tr"):
        tds = [c for c in tr.children if c.tag in ("td", "th")]
        if tds and tds[0].attrs.get("colspan"):
            assert len(tds) == 1 and tds[0].attrs["colspan"] == "2" and tr.classes() & {"fold", "more"}
        else:
            assert [("a" in td.classes(), "b" in td.classes()) for td in tds] == [(True, False), (False, True)]
    # self-contained: no scripts, nothing loaded from elsewhere
    assert "<script" not in html and not re.search(r"\b(src|href)=", html)


def test_html_folds_hold_every_hidden_row(page):
    arch, res, _html, root = page
    trace = _table(root, "trace")
    folds = list(trace.all("details"))
    assert len(folds) >= 2 and max(int(d.attrs['data-rows']) for d in folds) > 10_000   # the prefix
    for d in folds:
        n = int(d.attrs["data-rows"])
        summary = next(d.all("summary")).full_text()
        assert summary.startswith(f"{n} aligned instructions hidden")
        inner = [tr for tr in _rows(next(d.all("table"))) if "data-a" in tr.attrs]
        assert len(inner) == n
        a0, a1 = re.search(r"a#(\d+)\.\.a#(\d+)", summary).groups()
        assert [int(tr.attrs["data-a"]) for tr in inner] == list(range(int(a0), int(a1) + 1))
    # every record of both traces is on the page exactly once (shown, or inside a fold)
    for side, total in (("data-a", res.a["records"]), ("data-b", res.b["records"])):
        idx = [int(tr.attrs[side]) for tr in trace.all("tr") if side in tr.attrs]
        assert sorted(idx) == list(range(total)), side
    # the fix: b's column holds the store of 0 into m0.cret, on a row of its own (a's cell empty)
    adds = [tr for tr in trace.all("tr") if "add" in tr.classes()]
    store = [tr for tr in adds if "[m0.cret]=0x0" in tr.full_text()]
    assert len(store) == 2 and all(tr.children[0].full_text() == "" for tr in store)
    if arch == "arm":   # renamed pairs: both texts, each in its column
        ren = [tr for tr in trace.all("tr") if "ren" in tr.classes()]
        assert len(ren) == res.renamed_count == 16
        assert any("strd r0, r1, [r11]" in tr.children[0].full_text()
                   and "strd r0, r1, [r10]" in tr.children[1].full_text() for tr in ren)


def test_html_gc_outcome_side_by_side(page):
    _arch, _res, _html, root = page
    for tid in ("collections", "trace"):
        t = _table(root, tid)
        heads = [tr for tr in t.all("tr") if "gc" in tr.classes()]
        # two collections: the first allocation's (started by the allocator) and the demo's own
        assert len(heads) == 2
        a_head, b_head = (td.full_text() for td in heads[-1].children)
        assert re.match(r"collection 2 at a#\d+: heap \d+ -> \d+ bytes; freed 0, retained 2", a_head)
        assert re.match(r"collection 2 at b#\d+: heap \d+ -> \d+ bytes; freed 1, retained 1", b_head)
        objs = [tr for tr in t.all("tr") if "gcobj" in tr.classes()]
        cret = [tr for tr in objs if "m0.cret" in tr.full_text()]
        assert len(cret) == 1
        a, b = cret[0].children
        assert {"retained-only", "only-a"} <= a.classes() and "via m0.cret" in a.full_text()
        assert "freed" in b.classes() and re.match(r"freed 0x[0-9a-f]+ \(48 bytes\)", b.full_text())
        # the object both runs keep (allg) is retained in both columns
        both = [tr for tr in objs if all("retained" in td.classes() for td in tr.children)]
        # in both runs: allg at each collection, and at the first one the object being allocated,
        # held by the allocator's frames (scanned from the collector's own frame, as Go 1.0 did)
        assert len(both) == 3 and sum("allg" in tr.full_text() for tr in both) == 2
        assert any("(frame of gc1)" in tr.full_text() for tr in both)


def test_html_columns_fit_their_half(page):
    """Layout by rule: fixed table layout, two 50% columns, cells that wrap (pre-wrap and break
    anywhere) -- a long line makes its row taller, never the page wider."""
    _arch, _res, _html, root = page
    css = next(root.all("style")).full_text()
    rules = dict(re.findall(r"([^{}]+)\{([^{}]*)\}", css))
    assert "table-layout:fixed" in rules["table.sbs"] and "width:100%" in rules["table.sbs"]
    assert rules["table.sbs col"] == "width:50%"
    cell = rules["table.sbs td,table.sbs th"]
    assert "white-space:pre-wrap" in cell and "overflow-wrap:anywhere" in cell
    assert not any("white-space:pre;" in r or r.endswith("white-space:pre") for r in rules.values())
    for t in root.all("table"):
        assert "sbs" in t.classes()
        assert [c.tag for c in t.children[0].children] == ["col", "col"]


def test_html_from_the_cli(traces, tmp_path):
    out = tmp_path / "d.html"
    assert main(["diff", str(traces["arm", "buggy"]), str(traces["arm", "fixed"]), "--html", str(out)]) == 1
    root = _Tree(out.read_text()).root
    assert _table(root, "trace") and _table(root, "collections")


def test_html_page_size_is_bounded(traces, monkeypatch):
    """The folds write at most HTML_ROWS hidden rows in all; their counts stay exact and the page
    says how many rows it did not write."""
    import emu.trace.diff as D
    monkeypatch.setattr(D, "HTML_ROWS", 100)
    res = diff(traces["amd64", "buggy"], traces["amd64", "fixed"])
    root = _Tree(format_html(res)).root
    trace = _table(root, "trace")
    folds = list(trace.all("details"))
    hidden = sum(int(d.attrs["data-rows"]) for d in folds)
    written = sum(1 for d in folds for tr in d.all("tr") if "data-a" in tr.attrs)
    assert written == 100 and hidden > 15_000
    notes = [tr.full_text() for tr in trace.all("tr") if "more" in tr.classes()]
    assert sum(int(re.match(r"\.\.\. (\d+) more rows not written", t).group(1)) for t in notes) == hidden - 100
