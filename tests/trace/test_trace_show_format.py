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
