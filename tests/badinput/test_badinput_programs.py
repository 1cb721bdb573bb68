"""The bad-input corpus, part 1: programs.  Each case is a program a user could
write; each must give exactly this error class, this location and this exit
status -- through `goemu run --json` (one JSON object on stdout) and through
the text output (one message on stderr, never a traceback).  None may exit 70.
"""
from __future__ import annotations

import json

import pytest

from emu.cli import main

A, R = "amd64", "arm"
MAIN = "TEXT main, $16-0\n\tRET\n"
AMAIN = "TEXT main, $16-0\n\tRET\n"

# (id, arch, source, exit status, error class, line (None: not a file:line error), text in the message)
CASES = [
    # -- syntax of the directives
    ("text-no-frame", A, "TEXT main\n\tRET\n", 1, "AssemblyError", 1, "malformed TEXT"),
    ("text-no-dollar", A, "TEXT main, 0-0\n\tRET\n", 1, "AssemblyError", 1, "malformed TEXT"),
    ("text-hex-frame", A, "TEXT main, $0x10-0\n\tRET\n", 1, "AssemblyError", 1, "malformed TEXT"),
    ("text-bad-flag", A, "TEXT main, BOGUS, $0\n\tRET\n", 1, "AssemblyError", 1, "unknown TEXT flag"),
    ("text-bad-flag-or", A, "TEXT main, NOSPLIT|BOGUS, $0\n\tRET\n", 1, "AssemblyError", 1, "'BOGUS'"),
    ("text-trailing", A, "TEXT main, $0-0 junk\n\tRET\n", 1, "AssemblyError", 1, "malformed TEXT"),
    ("insn-outside-text", A, "\tmov rax, 1\n" + MAIN, 1, "AssemblyError", 1, "outside a TEXT"),
    ("globl-no-size", A, "GLOBL x\n" + MAIN, 1, "AssemblyError", 1, "malformed GLOBL"),
    ("globl-no-dollar", A, "GLOBL x, 8\n" + MAIN, 1, "AssemblyError", 1, "malformed GLOBL"),
    ("globl-negative", A, "GLOBL x, $-8\n" + MAIN, 1, "AssemblyError", 1, "malformed GLOBL"),
    ("globl-twice", A, "GLOBL x, $8\nGLOBL x, $8\n" + MAIN, 1, "AssemblyError", 2, "declared twice"),
    ("globl-too-big", A, "GLOBL x, $99999999999\n" + MAIN, 1, "AssemblyError", 1, "data region"),
    ("data-before-globl", A, "DATA x+0/8, $1\nGLOBL x, $8\n" + MAIN, 1, "AssemblyError", 1, "before its GLOBL"),
    ("data-malformed", A, "GLOBL x, $8\nDATA x, $1\n" + MAIN, 1, "AssemblyError", 2, "malformed DATA"),
    ("data-width-3", A, "GLOBL x, $8\nDATA x+0/3, $1\n" + MAIN, 1, "AssemblyError", 2, "malformed DATA"),
    ("data-outside", A, "GLOBL x, $4\nDATA x+4/4, $1\n" + MAIN, 1, "AssemblyError", 2, "outside its 4 bytes"),
    ("data-wide", A, "GLOBL x, $4\nDATA x+0/8, $1\n" + MAIN, 1, "AssemblyError", 2, "outside its 4 bytes"),
    ("data-not-number", A, "GLOBL x, $8\nDATA x+0/8, $hello\n" + MAIN, 1, "AssemblyError", 2,
     "neither a number nor a symbol"),
    ("data-too-big", A, "GLOBL x, $8\nDATA x+0/1, $300\n" + MAIN, 1, "AssemblyError", 2, "does not fit 1 bytes"),
    ("data-arm-too-big", R, "GLOBL x, $8\nDATA x+0/2, $0x10000\n" + AMAIN, 1, "AssemblyError", 2, "does not fit"),
    # -- frames and sizes
    ("frame-neg16-args8", A, "TEXT main, $-16-8\n\tRET\n", 1, "AssemblyError", 1, "frame size $-16"),
    ("frame-neg16-arm", R, "TEXT main, $-16-8\n\tRET\n", 1, "AssemblyError", 1, "frame size $-16"),
    ("frame-neg4-amd64", A, "TEXT main, $-4\n\tRET\n", 1, "AssemblyError", 1, "amd64 frames are 0 or more"),
    ("frame-neg8-arm", R, "TEXT main, $-8\n\tRET\n", 1, "AssemblyError", 1, "$-4 means"),
    ("frame-misaligned", A, "TEXT main, $12-0\n\tRET\n", 1, "AssemblyError", 1, "not a multiple of 8"),
    ("frame-misaligned-arm", R, "TEXT main, $6-0\n\tRET\n", 1, "AssemblyError", 1, "not a multiple of 4"),
    ("frame-huge", A, "TEXT main, $99999999992-0\n\tRET\n", 1, "AssemblyError", 1, "too large"),
    ("args-huge", R, "TEXT main, $0-99999999992\n\tRET\n", 1, "AssemblyError", 1, "too large"),
    ("args-negative", A, "TEXT main, $0--8\n\tRET\n", 1, "AssemblyError", 1, "negative"),
    # -- names
    ("fn-twice", A, MAIN + "TEXT main, $0\n\tRET\n", 1, "AssemblyError", 3, "defined twice"),
    ("fn-runtime-asm", A, MAIN + "TEXT gosave, $0\n\tRET\n", 1, "AssemblyError", 3, "asm/amd64/stack.s:"),
    ("fn-runtime-c", A, "TEXT mallocgc, $0\n\tRET\n" + MAIN, 1, "AssemblyError", 1, "runtime_c"),
    ("globl-rbx", A, "GLOBL rbx, $8\n" + MAIN, 1, "AssemblyError", 1, "amd64 register rbx"),
    ("globl-eax", A, "GLOBL eax, $8\n" + MAIN, 1, "AssemblyError", 1, "amd64 register eax"),
    ("globl-r1-arm", R, "GLOBL r1, $4\n" + AMAIN, 1, "AssemblyError", 1, "arm register r1"),
    ("globl-lr-arm", R, "GLOBL lr, $4\n" + AMAIN, 1, "AssemblyError", 1, "arm register lr"),
    ("globl-fp-arm", R, "GLOBL fp, $4\n" + AMAIN, 1, "AssemblyError", 1, "arm register fp"),
    ("fn-rax", A, "TEXT rax, $0\n\tRET\n" + MAIN, 1, "AssemblyError", 1, "amd64 register rax"),
    ("fn-sp-arm", R, "TEXT sp, $0\n\tRET\n" + AMAIN, 1, "AssemblyError", 1, "arm register sp"),
    ("globl-ptr", A, "GLOBL ptr, $8\n" + MAIN, 1, "AssemblyError", 1, "operand keyword"),
    ("globl-lsl-arm", R, "GLOBL lsl, $8\n" + AMAIN, 1, "AssemblyError", 1, "operand keyword"),
    ("globl-const", A, "GLOBL m_cret, $8\n" + MAIN, 1, "AssemblyError", 1, "runtime constant"),
    ("fn-const", R, "TEXT StackGuard, $0\n\tRET\n" + AMAIN, 1, "AssemblyError", 1, "runtime constant"),
    ("label-twice", A, "TEXT main, $0\nx:\n\tnop\nx:\n\tRET\n", 1, "AssemblyError", 4, "label x defined twice"),
    ("label-twice-arm", R, "TEXT main, $0\nloop:\nloop:\n\tRET\n", 1, "AssemblyError", 3, "label loop"),
    ("call-unknown", A, "TEXT main, $0\n\tnop\n\tcall nowhere\n\tRET\n", 1, "AssemblyError", 3,
     "unknown symbol 'nowhere'"),
    ("jmp-unknown", A, "TEXT main, $0\n\tjmp elsewhere\n\tRET\n", 1, "AssemblyError", 2, "'elsewhere'"),
    ("bl-unknown-arm", R, "TEXT main, $0\n\tbl nowhere\n\tRET\n", 1, "AssemblyError", 2, "'nowhere'"),
    ("beq-unknown-arm", R, "TEXT main, $0\n\tcmp r0, #0\n\tbeq far\n\tRET\n", 1, "AssemblyError", 3, "'far'"),
    ("imm-unknown", A, "TEXT main, $0\n\tmov rax, $nosuch\n\tRET\n", 1, "AssemblyError", 2, "'nosuch'"),
    ("imm-unknown-runtime", A, "TEXT main, $0\n\tmov rax, $runtime·nosuch\n\tRET\n", 1, "AssemblyError", 2,
     "runtime.nosuch"),
    ("ldr-unknown-arm", R, "TEXT main, $0\n\tldr r0, =nosuch\n\tRET\n", 1, "AssemblyError", 2, "'nosuch'"),
    ("label-other-fn", A, "TEXT f, $0\nhere:\n\tRET\nTEXT main, $0\n\tjmp here\n\tRET\n", 1, "AssemblyError",
     5, "'here'"),
    # -- instructions and encodings
    ("fp-register", A, "TEXT main, $0\n\tmov rax, FP\n\tRET\n", 1, "AssemblyError", 2, "memory operand"),
    ("fp-register-arm", R, "TEXT main, $0\n\tmov r0, FP\n\tRET\n", 1, "AssemblyError", 2, "memory operand"),
    ("bad-mnemonic", A, "TEXT main, $0\n\tfrob rax\n\tRET\n", 1, "AssemblyError", 2, "cannot assemble"),
    ("too-many-operands", A, "TEXT main, $0\n\tmov rax, rbx, rcx\n\tRET\n", 1, "AssemblyError", 2,
     "cannot assemble"),
    ("arm-on-amd64", A, "TEXT main, $0\n\tldr r0, [sp]\n\tRET\n", 1, "AssemblyError", 2, ""),
    ("amd64-on-arm", R, "TEXT main, $0\n\tmov rax, 1\n\tRET\n", 1, "AssemblyError", 2, ""),
    ("arm-imm-unencodable", R, "TEXT main, $0\n\tmov r0, #0x12345\n\tRET\n", 1, "AssemblyError", 2,
     "cannot assemble"),
    ("amd64-imm-truncated", A, "TEXT main, $0\n\tmov eax, 0x1ffffffff\n\tRET\n", 1, "AssemblyError", 2,
     "Keystone assembled this as"),
    ("rip-relative", A, "GLOBL buf, $8\nTEXT main, $0-0\n\tmov rbx, qword ptr [$buf]\n\tRET\n", 1,
     "AssemblyError", 3, ""),
    ("arm-bad-register", R, "TEXT main, $0\n\tmov r16, r0\n\tRET\n", 1, "AssemblyError", 2, ""),
    # -- programs that do not link
    ("no-main", A, "TEXT f, $0\n\tRET\n", 1, "LinkError", None, "no main function (it defines: f)"),
    ("no-main-arm", R, "TEXT f, $0\n\tRET\n", 1, "LinkError", None, "no main function"),
    ("main-capital", A, "TEXT Main, $0\n\tRET\n", 1, "LinkError", None, "it defines: Main"),
    ("empty", A, "", 1, "LinkError", None, "the program is empty"),
    ("only-comments", R, "// nothing here\n\n   // at all\n", 1, "LinkError", None, "the program is empty"),
    ("only-globl", A, "GLOBL x, $8\n", 1, "LinkError", None, "no main function (it defines: none)"),
    # -- 6l/5l's stack check: NOSPLIT chains must fit in StackLimit (128 bytes)
    ("nosplit-400", A, "TEXT big, NOSPLIT, $400-0\n\tRET\n" + "TEXT main, $16-0\n\tcall big\n\tRET\n", 1,
     "LinkError", 1, "408 bytes below a split-checked caller's frame, more than StackLimit (128): call big +8"),
    ("nosplit-400-arm", R, "TEXT big, NOSPLIT, $400-0\n\tRET\n" + "TEXT main, $16-0\n\tbl big\n\tRET\n", 1,
     "LinkError", 1, "404 bytes"),
    ("nosplit-chain", A, "TEXT a, NOSPLIT, $64-0\n\tcall b\n\tRET\nTEXT b, NOSPLIT, $64-0\n\tRET\n" + MAIN, 1,
     "LinkError", 1, ("144 bytes below a split-checked caller's frame, more than StackLimit (128): "
                     "call a +8 -> a +64 -> call b +8 -> b +64")),
    ("nosplit-chain-arm", R, "TEXT a, NOSPLIT, $64-0\n\tbl b\n\tRET\nTEXT b, NOSPLIT, $64-0\n\tRET\n" + AMAIN,
     1, "LinkError", 1, "136 bytes below a split-checked caller's frame, more than StackLimit (128): a +68 -> b +68"),
    ("nosplit-recursive", A, "TEXT a, NOSPLIT, $16-0\n\tcall a\n\tRET\n" + MAIN, 1, "LinkError", 1,
     "can call itself (a -> a)"),
    ("nosplit-mutual-arm", R, "TEXT a, NOSPLIT, $8-0\n\tbl b\n\tRET\nTEXT b, NOSPLIT, $8-0\n\tbl a\n\tRET\n"
     + AMAIN, 1, "LinkError", 1, "(a -> b -> a)"),
    ("nosplit-tail-jump", A, "TEXT a, NOSPLIT, $64-0\n\tjmp b\n\tRET\nTEXT b, NOSPLIT, $64-0\n\tRET\n" + MAIN,
     1, "LinkError", 1, "136 bytes"),
    # -- programs that run and fail
    ("nil-deref", A, "TEXT main, $0-0\n\tmov rax, 0\n\tmov rax, qword ptr [rax]\n\tRET\n", 2, "MemoryFault",
     "main+", "nil dereference"),
    ("nil-deref-arm", R, "TEXT main, $0-0\n\tmov r0, #0\n\tldr r0, [r0]\n\tRET\n", 2, "MemoryFault", "main+",
     "nil dereference"),
    ("ud2", A, "TEXT main, $0-0\n\tud2\n\tRET\n", 2, "InvalidInstruction", "main+", "invalid instruction"),
    ("udf-arm", R, "TEXT main, $0-0\n\tudf #0\n\tRET\n", 2, "InvalidInstruction", "main", ""),
    ("jump-nowhere", A, "TEXT main, $0-0\n\tmov rax, 0x10\n\tjmp rax\n\tRET\n", 2, "MemoryFault", None, ""),
    ("loop-budget", A, "TEXT main, $0-0\nl:\n\tjmp l\n\tRET\n", 3, "BudgetExhausted", "main+", "budget"),
    ("loop-budget-arm", R, "TEXT main, $0-0\nl:\n\tb l\n\tRET\n", 3, "BudgetExhausted", "main", "budget"),
    ("exit-3", A, "TEXT main, $16-0\n\tmov qword ptr [rsp], 3\n\tcall runtime.exit\n\tRET\n", 1, None, None, ""),
]


def _run(tmp_path, capsys, arch, src, json_mode):
    p = tmp_path / "p.s"
    p.write_text(src)
    argv = ["run", str(p), "--arch", arch, "--max-insns", "200000"] + (["--json"] if json_mode else [])
    rc = main(argv)
    out = capsys.readouterr()
    return p, rc, out


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_program_json(case, tmp_path, capsys):
    _id, arch, src, status, cls, where, text = case
    p, rc, out = _run(tmp_path, capsys, arch, src, True)
    assert rc == status, out
    assert "Traceback" not in out.err
    data = json.loads(out.out)            # one JSON object on stdout, error or not
    if cls is None:
        assert data["exit_status"] != 0
        return
    err = data["error"]
    assert err["class"] == cls and err["exit_code"] == status
    assert text in err["message"]
    loc = err["location"]
    if isinstance(where, int):
        assert loc["file"] == str(p) and loc["line"] == where, loc
        assert err["message"].startswith(f"{p}:{where}: ")
    elif isinstance(where, str):
        assert loc["symbol"].startswith(where) and isinstance(loc["pc"], int), loc
    elif cls == "LinkError":
        assert loc["file"] == str(p) and loc["symbol"] == "main"
    else:
        assert "pc" in loc


@pytest.mark.parametrize("case", CASES[::3], ids=[c[0] for c in CASES[::3]])
def test_program_text(case, tmp_path, capsys):
    """The same, as a person reads it: one 'goemu: Class: message' on stderr, nothing on stdout."""
    _id, arch, src, status, cls, where, text = case
    p, rc, out = _run(tmp_path, capsys, arch, src, False)
    assert rc == status
    if cls is None:
        return
    first = out.err.splitlines()[0]
    assert first.startswith(f"goemu: {cls}: ") and text in out.err
    if isinstance(where, int):
        assert first.startswith(f"goemu: {cls}: {p}:{where}: ")
    assert "Traceback" not in out.err and out.out == ""


@pytest.mark.parametrize("arch,src", [
    ("amd64", ("TEXT a, NOSPLIT, $48-0\n\tcall b\n\tRET\nTEXT b, NOSPLIT, $48-0\n\tcall runtime.printint\n\tRET\n"
              "TEXT main, $16-0\n\tcall a\n\tRET\n")),   # 8+48+8+48+8 (+8: printint's morestack call) = 128
    ("arm", "TEXT a, NOSPLIT, $60-0\n\tbl b\n\tRET\nTEXT b, NOSPLIT, $60-0\n\tRET\nTEXT main, $16-0\n\tbl a\n\tRET\n"),
])
def test_nosplit_chain_at_the_limit_links(arch, src, tmp_path, capsys):
    """Exactly StackLimit is allowed, as in the linkers."""
    _p, rc, out = _run(tmp_path, capsys, arch, src, True)
    assert rc == 0, out


def test_echo_is_the_users_line(tmp_path, capsys):
    """The echoed line is what the user wrote, not goemu's rewriting of it."""
    src = "GLOBL buf, $8\nTEXT main, $0-0\n\tmov rax, $buf   // the address\n\tcall nowhere\n\tRET\n"
    _p, rc, out = _run(tmp_path, capsys, "amd64", src, False)
    assert rc == 1
    assert out.err.splitlines()[1].strip() == "call nowhere"


@pytest.mark.parametrize("what,make,fragment", [
    ("missing", lambda d: d / "nope.s", "No such file"),
    ("directory", lambda d: d, "Is a directory"),
    ("binary", lambda d: (d / "b.s").write_bytes(b"TEXT main, $0\n\xff\xfe\n") and d / "b.s", "not UTF-8 text"),
])
def test_program_file_unreadable(what, make, fragment, tmp_path, capsys):
    path = make(tmp_path)
    rc = main(["run", str(path), "--json"])
    err = json.loads(capsys.readouterr().out)["error"]
    assert rc == 66 and err["class"] == "InputError" and fragment in err["message"]
    assert err["location"]["path"] == str(path)
