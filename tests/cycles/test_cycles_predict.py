"""Branch predictor: return stack, BTB, bimodal counters; control-flow classes per arch."""
import capstone
import keystone
import pytest

from emu.arch import get_arch
from emu.arch.flow import flow_of
from emu.cycles.predict import BranchPredictor


def pred(ras=8, btb=16, bht=64, shift=0):
    return BranchPredictor(bht, btb, ras, shift)


def test_return_into_never_called_function_mispredicts_on_ras():
    p = pred()
    assert p.observe("call", 0x100, 0x200, 0x105) is False
    # the callee returns somewhere no call pushed (lessstack's trick)
    assert p.observe("ret", 0x210, 0x900, 0x211) is True
    assert p.mispredicts["ret"] == 1


def test_return_with_empty_stack_mispredicts():
    p = pred()
    assert p.observe("ret", 0x210, 0x105, 0x211) is True
    assert p.ras_underflows == 1


def test_matched_call_ret_pairs_predict():
    p = pred()
    p.observe("call", 0x100, 0x200, 0x105)
    p.observe("call", 0x220, 0x300, 0x225)
    assert p.observe("ret", 0x310, 0x225, 0x311) is False
    assert p.observe("ret", 0x210, 0x105, 0x211) is False
    assert p.mispredicts["ret"] == 0 and p.seen["ret"] == 2


def test_ras_overflow_drops_the_oldest():
    p = pred(ras=2)
    for i in range(3):
        p.observe("call", 0x100 + 0x10 * i, 0x500, 0x105 + 0x10 * i)
    assert p.observe("ret", 0x510, 0x125, 0) is False
    assert p.observe("ret", 0x510, 0x115, 0) is False
    assert p.observe("ret", 0x510, 0x105, 0) is True     # pushed first, dropped on overflow
    assert p.ras_overflows == 1


def test_loop_branch_learns():
    p = pred()
    outcomes = [p.observe("cond", 0x40, 0x10, 0x44) for _ in range(20)]   # taken back-edge
    assert any(outcomes[:2])
    assert not any(outcomes[2:])
    assert p.observe("cond", 0x40, 0x44, 0x44) is True                    # the loop exit


def test_btb_learns_an_indirect_target_and_notices_a_change():
    p = pred()
    assert p.observe("indirect_jump", 0x80, 0x400, 0x82) is True
    assert p.observe("indirect_jump", 0x80, 0x400, 0x82) is False
    assert p.observe("indirect_jump", 0x80, 0x500, 0x82) is True
    assert p.observe("indirect_call", 0x90, 0x600, 0x92) is True          # cold BTB entry
    assert p.observe("ret", 0x610, 0x92, 0) is False                      # but the call pushed


def test_direct_transfers_never_mispredict():
    p = pred()
    assert p.observe("jump", 0x10, 0x40, 0x12) is False
    assert p.observe("call", 0x10, 0x40, 0x15) is False


def _insn(arch_name, text, addr=0x1000):
    arch = get_arch(arch_name)
    code, _ = keystone.Ks(arch.ks_arch, arch.ks_mode).asm(text, addr)
    cs = capstone.Cs(arch.cs_arch, arch.cs_mode)
    cs.detail = True
    return next(cs.disasm(bytes(code), addr))


@pytest.mark.parametrize("text,kind,taken", [
    ("ldr pc, [sp], #0x24", "ret", ""), ("ldr pc, [sp], r11", "ret", ""), ("pop {r4, pc}", "ret", ""),
    ("bx lr", "ret", ""), ("mov pc, lr", "ret", ""), ("bl 0x2000", "call", ""),
    ("blx r3", "indirect_call", ""), ("mov pc, r1", "indirect_jump", ""),
    ("ldr pc, [r2, #8]", "indirect_jump", ""), ("b 0x2000", "jump", ""), ("bllo 0x2000", "cond", "call"),
    ("bne 0x2000", "cond", "jump"), ("bxeq lr", "cond", "ret"), ("ldr r0, [sp], #4", "none", ""),
    ("svc #0", "none", ""), ("pop {r4}", "none", ""),
])
def test_arm_flow(text, kind, taken):
    f = flow_of("arm")(_insn("arm", text))
    assert (f.kind, f.taken_kind) == (kind, taken)
    assert f.fallthrough == 0x1004
    if text in ("bl 0x2000", "b 0x2000", "bllo 0x2000"):
        assert f.target == 0x2000


@pytest.mark.parametrize("text,kind", [
    ("ret", "ret"), ("call 0x2000", "call"), ("call rcx", "indirect_call"), ("jmp rbx", "indirect_jump"),
    ("jmp qword ptr [rax]", "indirect_jump"), ("jmp 0x2000", "jump"), ("ja 0x2000", "cond"),
    ("syscall", "none"), ("mov rax, rbx", "none"),
])
def test_amd64_flow(text, kind):
    insn = _insn("amd64", text)
    f = flow_of("amd64")(insn)
    assert f.kind == kind
    assert f.fallthrough == 0x1000 + insn.size
    if kind in ("call", "jump", "cond"):
        assert f.target == 0x2000


def test_global_history_learns_a_loop_exit():
    """A loop of 4 turns run many times: the bimodal table mispredicts every
    exit; with 8 bits of history the exit's pattern (3 taken, 1 not) is learnt."""
    def run(bits):
        p = BranchPredictor(256, 16, 8, 0, bits)
        wrong = 0
        for trip in range(200):
            for turn in range(4):
                taken = turn < 3
                wrong += p.observe("cond", 0x40, 0x30 if taken else 0x44, 0x44) and trip >= 50
        return wrong
    assert run(0) == 150                  # every exit of the last 150 trips
    assert run(8) == 0


def test_history_index_is_address_xor_outcomes():
    p = BranchPredictor(64, 16, 8, 0, 3)
    for taken in (True, False, True):
        p.observe("cond", 0x10, 0x20 if taken else 0x11, 0x11)
    assert p.ghr == 0b101
    before = list(p.bht)
    p.observe("cond", 0x10, 0x20, 0x11)
    changed = [i for i in range(64) if p.bht[i] != before[i]]
    assert changed == [(0x10 ^ 0b101) % 64]
    assert p.ghr == 0b011                 # three bits kept, newest in bit 0
