"""Fuzzing the REPL's command line and expression parser: any line gives
output or one "error:" line, and the session goes on; any expression
evaluates or raises a GoemuError -- never another exception.

One finding is open (test_fuzz_findings.py, strict xfail): reading unmapped
memory while printing (``p *0``, ``p m.curg.sched.pc`` at boot) lets
Unicorn's UcError escape the debugger, and the REPL exits 70.  The
properties count that case apart (``known: UcError``) so that any other
exception still fails them."""
from __future__ import annotations

import io

import pytest
from fuzz_support import FUZZ, Tally
from hypothesis import given
from hypothesis import strategies as st

from emu.debugger import new_debugger
from emu.errors import GoemuError
from emu.repl import Session

try:
    from unicorn import UcError
except ImportError:  # pragma: no cover
    UcError = None


def _known(e: BaseException) -> bool:
    """The open finding: an unmapped read escaping as UcError."""
    return UcError is not None and isinstance(e, UcError) and "UNMAPPED" in str(e)

WORDS = ["si", "ni", "rsi", "rni", "c", "rc", "finish", "reverse-finish", "goto", "b", "tbreak", "watch", "rwatch",
         "awatch", "delete", "info", "p", "print", "x", "x/4x", "x/2gx", "x/s", "x/i", "disassemble", "bt", "stack",
         "context", "gc", "why", "help", "until-split", "until-unsplit", "info registers", "info breakpoints"]
ATOMS = ["$rax", "$rsp", "$pc", "$sp", "$nosuch", "m", "g", "m.cret", "g.stackbase", "m.curg.sched.pc", "*stktop",
         "*(Stktop*)0", "*(M*)$rax", "main", "lessstack", "oldstack+0x10", "runtime·new", "0", "0x10",
         "-1", "99999999999999999999", "m0.cret", "(", ")", "*", "+", "-", "&", "[", "]", ".", "..", "g.nosuch"]
EXPR = st.recursive(st.sampled_from(ATOMS),
                    lambda inner: st.one_of(st.tuples(inner, st.sampled_from(["+", "-", "*", " ", "."]), inner)
                                            .map("".join), inner.map(lambda e: f"({e})"),
                                            inner.map(lambda e: f"*{e}")), max_leaves=6)
LINE = st.one_of(st.tuples(st.sampled_from(WORDS), EXPR).map(lambda t: f"{t[0]} {t[1]}"),
                 st.sampled_from(WORDS), st.text(max_size=30).filter(lambda t: t.split()[:1] != ["quit"]
                                                                    and not t.startswith(("q", "exit", "source"))))


@pytest.fixture(scope="module")
def session():
    out = io.StringIO()
    dbg = new_debugger("amd64", "buggy", None, budget=50_000)
    return Session(dbg, out, echo=True), out


def test_fuzz_repl_lines(session):
    s, out = session
    tally = Tally("REPL command lines")

    @FUZZ
    @given(LINE)
    def prop(line):
        before = out.tell()
        try:
            assert s.execute(line) is True
        except Exception as e:
            if not _known(e):
                raise
            tally("known: UcError")
            return
        text = out.getvalue()[before:]
        assert "internal error" not in text and "Traceback" not in text
        tally("error" if "error:" in text else "ok")
    prop()
    tally.write()


def test_fuzz_expressions(session):
    s, _ = session
    tally = Tally("REPL expressions (eval, print)")

    @FUZZ
    @given(EXPR)
    def prop(expr):
        for fn in (s.dbg.eval, s.dbg.print_value):
            try:
                fn(expr)
                tally("value")
            except GoemuError as e:
                tally(type(e).__name__)
            except Exception as e:
                if not _known(e):
                    raise
                tally("known: UcError")
    prop()
    tally.write()
