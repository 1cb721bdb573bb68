"""The pipeline that flows across blocks (emu/cycles/pipeline.py), the same
arithmetic in C (emu/native/hooks.c), and values worked by hand from the
cited sources -- not read back from the core data files.

Sources: [S1] Agner Fog, instruction tables, Sandy Bridge; [S2] Agner Fog,
microarchitecture, Sandy Bridge (stack engine, macro-op fusion); [S3] Intel
64 and IA-32 Optimization Reference Manual, 2.2 (4-wide rename, ports 0-5,
one store-data port); [A1] Cortex-A9 TRM r4p1 (DDI 0388I), Appendix B,
Table B-3: LDM/STM (and PUSH/POP) transfer two registers per cycle."""
from __future__ import annotations

import pytest
from keystone import KS_ARCH_ARM, KS_ARCH_X86, KS_MODE_64, KS_MODE_ARM, Ks

from emu.cycles.account import PHASES, CycleAccount
from emu.cycles.model import CoreModel
from emu.machine import Machine
from emu.run import load_program, new_machine

ADDR = 0x10000


def insns(core, text):
    ks = Ks(KS_ARCH_X86, KS_MODE_64) if core.arch == "amd64" else Ks(KS_ARCH_ARM, KS_MODE_ARM)
    enc, _ = ks.asm(text.replace(";", "\n"), ADDR)
    return core.disassemble(bytes(enc), ADDR)


@pytest.fixture(scope="module")
def snb():
    return CoreModel.for_arch("amd64")


@pytest.fixture(scope="module")
def a9():
    return CoreModel.for_arch("arm")


def carried(core, *blocks, drain_before=()):
    """Cycles of blocks run one after the other on one pipeline (``drain_before``:
    indices of blocks entered through a mispredicted branch)."""
    pipe = core.pipeline()
    total = 0
    for i, b in enumerate(blocks):
        if i in drain_before:
            pipe.drain()
        total += sum(pipe.run(core.ops_of(insns(core, b))))
    return total


# -- across blocks ------------------------------------------------------------------------

def test_predicted_branch_costs_no_drain(snb):
    """IMUL has latency 3 [S1]; an independent ADD in the next block dispatches
    behind it in the same cycle and completes long before: the two blocks cost 3
    cycles, not 3 + 1 as two blocks costed apart."""
    a, b = "imul rax, rbx", "add rcx, 1"
    assert snb.block_cost(insns(snb, a)).total + snb.block_cost(insns(snb, b)).total == 4
    assert carried(snb, a, b) == 3


def test_mispredict_drains(snb):
    """Entered through a mispredict, the ADD dispatches after the IMUL has
    completed (cycle 3) and completes at 4 (the refill penalty is charged apart)."""
    assert carried(snb, "imul rax, rbx", "add rcx, 1", drain_before=(1,)) == 4


def test_dependency_carries_across_blocks(snb):
    """A chain split over blocks still waits for its input: IMUL (3) then ADD on
    its result (1) = 4 cycles whether or not a block boundary lies between."""
    assert carried(snb, "imul rax, rbx", "add rax, 1") == 4
    assert carried(snb, "imul rax, rbx; add rax, 1") == 4


def test_dispatch_width_spans_blocks(snb):
    """Rename is 4 wide [S3 2.2.2] and the integer ALUs are ports 0, 1, 5 [S3]:
    12 independent ADDs in three blocks of 4 take 4 cycles (3 per cycle), not
    3 x (1 + something) as blocks costed apart."""
    blk = "add rax, 1; add rbx, 1; add rcx, 1; add rdx, 1"
    blk2 = "add rsi, 1; add rdi, 1; add r8, 1; add r9, 1"
    blk3 = "add r10, 1; add r11, 1; add r12, 1; add r13, 1"
    assert carried(snb, blk, blk2, blk3) == 4


def test_stack_engine(snb):
    """PUSH/POP update RSP in the front end [S2 stack engine]: no chain through
    RSP.  Two pushes and two pops per pass: 2 stores through the one store-data
    port [S3] = 2 cycles per pass (llvm-mca, which has no stack engine, gives 22)."""
    assert snb.steady_state(insns(snb, "push rax; push rbx; pop rbx; pop rax")) == pytest.approx(2)


def test_zero_idiom_breaks_the_chain(snb):
    """XOR r,r depends on nothing [S2]: the chain after it does not wait for IMUL."""
    assert carried(snb, "imul rax, rbx", "xor eax, eax; add rax, 1") == 3


def test_macro_fusion(snb):
    """CMP/TEST with a following Jcc decode into one uop [S2 macro-op fusion]:
    the pair takes one dispatch slot."""
    ops = snb.ops_of(insns(snb, "cmp rax, rbx; jne 0x10000"))
    assert [o.slots for o in ops] == [1, 0]
    ops = snb.ops_of(insns(snb, "cmp qword ptr [rax], 1; jne 0x10000"))     # memory and immediate: no
    assert [o.slots for o in ops] == [1, 1]
    # 4 fused pairs dispatch in 1 cycle at 4 wide
    pairs = "; ".join(f"test {r}, {r}; jne 0x10000" for r in ("rax", "rbx", "rcx", "rdx"))
    pipe = snb.pipeline()
    pipe.run(snb.ops_of(insns(snb, pairs)))
    assert pipe.slot == 4


# -- Cortex-A9 load/store multiple: what llvm-mca cannot model ---------------------------------
# [A1 Table B-3]: LDM/STM/PUSH/POP move two registers per load/store-unit cycle, so n
# registers hold the single load/store pipe ceil(n / 2) cycles; back to back, that is
# the block's cost per pass.
A9_MULTIPLE = [
    ("push {r4, lr}", 1),
    ("push {r4, r5, r6, r7, r8, sl, fp, lr}", 4),
    ("pop {r4, r5, r6, r7, fp, lr}", 3),
    ("ldm r6, {r1, r2, r3}", 2),
    ("stm ip, {r1, r2, r3, sl}", 2),
    ("ldm r2, {r3, r4, r5, r6, r7}", 3),
]


@pytest.mark.parametrize("text,cycles", A9_MULTIPLE)
def test_a9_load_store_multiple_by_register_count(a9, text, cycles):
    assert a9.steady_state(insns(a9, text)) == pytest.approx(cycles)


def test_a9_dual_issue(a9):
    """Two instructions dispatched per cycle [A1 1.1] to two ALU pipes: 8
    independent ADDs take 4 cycles; a dependent chain of 8 takes 8 (latency 1,
    [A1 B.2])."""
    free = "; ".join(f"add r{i}, r{i}, #1" for i in range(8))
    chain = "; ".join("add r0, r0, #1" for _ in range(8))
    assert carried(a9, free) == 4
    assert carried(a9, chain) == 8


def test_a9_byte_copy_loop(a9):
    """The stack copy's byte loop (newstack/oldstack's memmove): LDRB with a register offset has
    latency 5 and 2 AGU cycles, STRB with a register offset 3 AGU cycles ([L1] A9WriteLbsi +
    A9WriteAdr2, A9WriteAdr3 on IIC_iStore_bh_si); the store issues with its data, and the next
    LDRB goes through the AGU after it (in order, [L1] A9UnitAGU BufferSize = 1): 5 + 3 = 8
    cycles per byte, what llvm-mca gives; the TRM's cycle counts alone gave 3."""
    assert a9.steady_state(insns(a9, "ldrb r3, [r1, r2]; strb r3, [ip, r2]; subs r2, r2, #1")) == 8


def test_a9_address_unit_in_order(a9):
    """A store waits in the AGU's one-entry buffer for its data; the next load or store through the
    AGU dispatches only after it issues, and everything behind waits in order [L1]: after a 4-cycle
    MUL [A1 B.4], the independent store dispatches at 4 and issues at 5 (the AGU is busy at 4), its
    completion at 6 is the block's.  A plain LDR does not use the AGU [L1] and goes ahead."""
    assert a9.block_cost(insns(a9, "mul r0, r0, r1; str r0, [r2]; str r3, [r4]")).total == 6
    assert a9.block_cost(insns(a9, "mul r0, r0, r1; str r0, [r2]")).total == 5
    assert a9.block_cost(insns(a9, "mul r0, r0, r1; str r0, [r2]; ldr r3, [r4]")).total == 5


def test_a9_conditional_bl_link_register(a9):
    """A BLLO whose condition failed (or that is taken) gives LR no dependency on the flags: a
    store of LR behind it does not wait for the compare's load: the block costs the load's latency (3,
    [A1 Table B-2]), as without the store."""
    assert a9.block_cost(insns(a9, "ldr r1, [sl]; cmp sp, r1; bllo 0x10100; str lr, [sp, #-20]!")).total == 3
    assert a9.block_cost(insns(a9, "ldr r1, [sl]; cmp sp, r1; bllo 0x10100")).total == 3


# -- the account: native == Python, sums exact -------------------------------------------

def _run(arch, engine, text=None, demo=None, caches=True):
    if text is not None:
        unit = load_program(None, text=text, name="prog.s")
    else:
        from pathlib import Path
        unit = load_program(str(Path(__file__).resolve().parents[2] / "emu" / "demos" / demo))
    mc = Machine(new_machine(arch, "buggy", unit).image, engine=engine)
    from emu.gc import attach
    attach(mc)
    acct = CycleAccount(mc, caches=caches).attach()
    assert (acct._native is not None) == (engine == "native")
    mc.run()
    return acct.result()


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_native_equals_python_per_phase_and_split(arch):
    from emu.cycles.hotsplit import program
    for kw in ({"text": program(arch, True, 40)}, {"demo": f"leak_{arch}.s"}):
        py, nat = _run(arch, "python", **kw), _run(arch, "native", **kw)
        assert nat.total == py.total > 0
        assert nat.phases == py.phases and nat.phase_instructions == py.phase_instructions
        assert nat.mispredicts == py.mispredicts and nat.penalties == py.penalties
        assert [r.to_json() for r in nat.splits] == [r.to_json() for r in py.splits]
        assert [r.to_json() for r in nat.unsplits] == [r.to_json() for r in py.unsplits]
        # the sums add up exactly
        assert sum(py.phases.values()) == py.total
        for r in py.splits + py.unsplits:
            assert sum(r.phases.values()) == r.cycles
        assert set(py.phases) == set(PHASES)


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_history_predictor_learns_the_hot_loop(arch):
    """With history, the loop's conditional branches are learnt: fewer than one
    conditional mispredict per call once warm (the bimodal table missed 6-8)."""
    from emu.cycles.hotsplit import measure
    r = measure(arch, 200)
    assert r.hot.mispredicts["cond"] < 200 * 0.5
