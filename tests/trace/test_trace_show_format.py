"""`goemu trace-show` prints for people: events as key=value with addresses in
hex and their symbols, collections object by object, branch targets named."""
from __future__ import annotations

import re

from emu.cli import main


def test_trace_show_events_and_branches(traces, capsys):
    path = str(traces["amd64", "buggy"])
    assert main(["trace-show", path]) == 0
    out = capsys.readouterr().out
    assert "{'" not in out and "': " not in out                  # no Python dicts
    split = re.search(r"<split> (.*)", out).group(1)
    assert re.search(r"morepc=0x[0-9a-f]+ <leak\+0x[0-9a-f]+>", split)
    assert re.search(r"caller_sp=0x[0-9a-f]+", split) and "framesize=4256" in split
    assert re.search(r"<unsplit> cret=0x[0-9a-f]+ stktop=0x[0-9a-f]+", out)
    assert re.search(r"<gc> collection 1: heap \d+ -> \d+ bytes; freed 0, retained 2", out)
    assert re.search(r"retained 0x[0-9a-f]+ \(48 bytes\) via m0\.cret → 0x[0-9a-f]+ 48", out)
    assert "<exit> status=0" in out
    # a direct call names its target, gdb style
    assert re.search(r"call 0x[0-9a-f]+ <gogo>", out)


def test_trace_show_lines_read_like_the_repl(traces, capsys):
    """Each record starts as the REPL's `x/i` does (`0x602733 <oldstack+0x93>`), branch targets
    are named on both architectures, and values that point into code -- the return address a
    call saves in lr or on the stack -- carry their `<symbol+offset>`, named after the caller."""
    from emu.trace.native import NativeReader
    for arch, call in (("amd64", r"call 0x([0-9a-f]+) <gogo>"), ("arm", r"bl? #0x([0-9a-f]+) <gogo>")):
        path = str(traces[arch, "fixed"])
        assert main(["trace-show", path]) == 0
        out = capsys.readouterr().out
        with NativeReader(path) as rd:
            recs = {r.index: r for r in rd}
            gogo = next(f[1] for f in rd.header["functions"] if f[0] == "gogo")
        firsts = [ln for ln in out.splitlines() if ln.startswith("#")]
        assert len(firsts) == len(recs)
        for ln in firsts[::997]:
            m = re.match(r"#(\d+) +0x([0-9a-f]+) <([^>]+)> ", ln)
            r = recs[int(m.group(1))]
            assert int(m.group(2), 16) == r.pc and m.group(3) == r.sym
        targets = {int(t, 16) for t in re.findall(call, out)}
        assert targets == {gogo}
        if arch == "amd64":   # the call at the end of oldstack saves oldstack+0x99, not the next function
            assert re.search(r"W\[0x[0-9a-f]+\]8=0x[0-9a-f]+ <oldstack\+0x99>", out)
        else:                 # bl sets lr to the next instruction, named
            bl = re.search(r"bl #0x[0-9a-f]+ <mallocinit>.*\n\s+lr=0x([0-9a-f]+) <rt0\+0x([0-9a-f]+)>", out)
            assert bl and int(bl.group(1), 16) - int(bl.group(2), 16) == next(
                f[1] for f in rd.header["functions"] if f[0] == "rt0")
        # plain numbers stay plain: no symbol after small values
        assert not re.search(r"=0x[0-9a-f]{1,3} <", out)
