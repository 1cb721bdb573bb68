"""The cycle model on hand-written blocks: dependency chains cost their
latencies, independent work overlaps up to the core's width and ports, loads
feed their users after the load latency, and costs are deterministic.

Expected values are pinned here by hand from the sources the core data cite
(SNB: uops.info [S1], Agner Fog's microarchitecture guide [S2], Intel's
optimization manual [S3]; Cortex-A9: the TRM [A1]), not read back from the
TOML the model reads: a typo there must fail these tests.  The block costs
below are worked out with those numbers in the comments."""
from __future__ import annotations

import math

import keystone
import pytest

from emu.cycles.calibrate import image_blocks
from emu.cycles.model import BlockCost, CoreModel

KS = {"amd64": (keystone.KS_ARCH_X86, keystone.KS_MODE_64), "arm": (keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM)}
ADDR = 0x10000


@pytest.fixture(scope="module")
def cores():
    return {a: CoreModel.for_arch(a) for a in ("amd64", "arm")}


def insns(core: CoreModel, src: str):
    enc, _ = keystone.Ks(*KS[core.arch]).asm(src, ADDR)
    return core.disassemble(bytes(enc), ADDR)


# Hand-worked from the sources (see each number's comment); NOT from emu/cycles/data.
PINNED = {
    "amd64": {"alu": 1,            # [S1] ADD r,r/i: 1 uop p015, latency 1
              "imul": 3,           # [S1] IMUL r,r: 1 uop p1, latency 3
              "cmov": 2,           # [S1] CMOVcc r,r on SNB: 2 uops, latency 2
              "alu_shift_imm": None},
    "arm": {"alu": 1,              # [A1 B.2] data processing, no shift: result next cycle
            "alu_shift_imm": 2,    # [A1 B.2] immediate-shifted operand needed a cycle early: 2
            "imul": None, "cmov": None},
}
MEMORY = {
    "amd64": {"load_latency": 4,           # [S3 Table 2-6] L1D load-to-use, base + small displacement
              "load_latency_complex": 5},  # [S3 Table 2-6] with an index register
    "arm": {"load_latency": 3,             # [A1 Table B-2] LDR [reg, #imm]: 3
            "load_forward_advance": 1,     # [A1 B.3] forwarded to an unshifted arithmetic op: one cycle less
            "load_latency_byte": 4,        # [A1 Table B-2] LDRB/LDRH: 4
            "load_latency_reg": 4,         # [L1] A9WriteLsi: LDR with a register offset (the TRM: 3)
            "load_latency_byte_reg": 5},   # [L1] A9WriteLbsi: LDRB with a register offset
}
WIDTH = {"amd64": 4,      # [S3 2.2.2] 4 fused uops renamed per cycle
         "arm": 2}        # [A1 1.1] dual issue
ALU_PORTS = {"amd64": 3,  # [S3 2.2.3] ports 0, 1, 5
             "arm": 2}    # [A1 1.1] two integer ALU pipes


def lat(core: CoreModel, cls: str) -> int:
    v = PINNED[core.arch][cls]
    assert v is not None, f"no pinned latency for {cls} on {core.arch}"
    return v


def mem(core: CoreModel) -> dict[str, int]:
    return MEMORY[core.arch]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_core_data_agrees_with_the_pinned_sources(cores, arch):
    """The TOML the model reads holds the numbers worked out above."""
    core = cores[arch]
    for cls, v in PINNED[arch].items():
        if v is not None:
            assert core.classes[cls].latency == v, cls
    for k, v in MEMORY[arch].items():
        assert core.memory[k] == v, k
    assert core.width == WIDTH[arch]
    assert len(core.groups[core.classes["alu"].ports[0]]) == ALU_PORTS[arch]


# -- the data files --------------------------------------------------------------

@pytest.mark.parametrize("arch,name", [("amd64", "sandybridge"), ("arm", "cortex_a9")])
def test_core_data_is_complete_and_sourced(arch, name):
    core = CoreModel.for_arch(arch)
    assert (core.name, core.arch) == (name, arch)
    assert core.sources and all(s["url"].startswith("https://") and s["title"] for s in core.sources)
    assert set(core.branch) == {"mispredict_penalty", "ras_entries", "btb_entries", "bht_entries", "history_bits"}
    assert all(isinstance(v, int) and v > 0 for v in core.branch.values())
    assert {"line", "memory_latency", "l1i", "l1d", "l2"} <= set(core.caches)
    for level in ("l1i", "l1d", "l2"):
        c = core.caches[level]
        assert set(c) == {"size", "ways", "latency"}
        assert c["size"] % (c["ways"] * core.caches["line"]) == 0
    assert core.caches["l1d"]["latency"] < core.caches["l2"]["latency"] < core.caches["memory_latency"]
    assert all(v in core.classes for v in core.rules.values())


def test_published_figures():
    snb, a9 = CoreModel.load("sandybridge"), CoreModel.load("cortex_a9")
    assert (snb.caches["line"], a9.caches["line"]) == (64, 32)
    assert snb.branch["ras_entries"] == 16 and a9.branch["ras_entries"] == 8
    assert snb.caches["l1d"]["size"] == a9.caches["l1d"]["size"] == 32 * 1024
    assert (snb.caches["l1d"]["ways"], a9.caches["l1d"]["ways"]) == (8, 4)


# -- dependencies and overlap ----------------------------------------------------

@pytest.mark.parametrize("arch,step", [("amd64", "add rax, 1"), ("arm", "add r0, r0, #1")])
def test_dependency_chain_costs_its_latencies(cores, arch, step):
    core = cores[arch]
    n = 8
    block = insns(core, "; ".join([step] * n))
    assert core.block_cost(block).total == n * lat(core, "alu")
    assert core.steady_state(block) == pytest.approx(n * lat(core, "alu"))


def test_multiply_chain_amd64(cores):
    core = cores["amd64"]
    assert core.block_cost(insns(core, "imul rax, rbx; imul rax, rcx; imul rax, rdx")).total == 3 * lat(core, "imul")


@pytest.mark.parametrize("arch,regs,fmt", [
    ("amd64", ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13"], "add {r}, 1"),
    ("arm", ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"], "add {r}, {r}, #1"),
])
def test_independent_instructions_overlap(cores, arch, regs, fmt):
    core = cores[arch]
    n = len(regs)
    per_cycle = min(WIDTH[arch], ALU_PORTS[arch])
    block = insns(core, "; ".join(fmt.format(r=r) for r in regs))
    cost = core.block_cost(block)
    assert cost.total == math.ceil(n / per_cycle) - 1 + lat(core, "alu")
    assert core.steady_state(block) == pytest.approx(n / per_cycle)
    chain = insns(core, "; ".join([fmt.format(r=regs[0])] * n))
    assert core.block_cost(chain).total > cost.total


def test_loop_carried_dependency(cores):
    core = cores["amd64"]
    # rax depends on itself across iterations; rbx does not
    carried = insns(core, "add rax, rbx; imul rax, rax")
    fresh = insns(core, "mov rax, rbx; imul rax, rax")
    assert core.steady_state(carried) == pytest.approx(lat(core, "alu") + lat(core, "imul"))
    assert core.steady_state(fresh) < core.steady_state(carried)


def test_load_feeds_add_amd64(cores):
    core = cores["amd64"]
    m = mem(core)
    assert core.block_cost(insns(core, "mov rax, qword ptr [rsp + 8]; add rax, 1")).total == \
        m["load_latency"] + lat(core, "alu")
    assert core.block_cost(insns(core, "mov rax, qword ptr [rsp + rbx*8 + 8]; add rax, 1")).total == \
        m["load_latency_complex"] + lat(core, "alu")
    # a folded load: load latency, then the ALU uop
    assert core.block_cost(insns(core, "add rax, qword ptr [rsp + 8]")).total == m["load_latency"] + lat(core, "alu")
    # the address register is a dependency too
    assert core.block_cost(insns(core, "add rbx, 1; mov rax, qword ptr [rbx]")).total == \
        lat(core, "alu") + m["load_latency"]


def test_load_feeds_add_arm(cores):
    core = cores["arm"]
    m = mem(core)
    fast = m["load_latency"] - m["load_forward_advance"]
    # the fast-forward path: an unshifted arithmetic op after a LDR
    assert core.block_cost(insns(core, "ldr r0, [sp, #4]; add r0, r0, #1")).total == fast + lat(core, "alu")
    # not to MOV or a logical op ([L1]: A9ReadALU is only on the arithmetic and compare classes)
    for op in ("mov r0, r0", "and r0, r0, #255", "orr r0, r0, r1"):
        assert core.block_cost(insns(core, f"ldr r0, [sp, #4]; {op}")).total == m["load_latency"] + lat(core, "alu")
    # byte loads and register offsets ([A1 Table B-2], [L1] A9WriteLb / A9WriteLsi / A9WriteLbsi), forwarded
    for load, kind in (("ldrb r0, [sp, #4]", "byte"), ("ldr r0, [sp, r1]", "reg"), ("ldrb r0, [sp, r1]", "byte_reg")):
        assert core.block_cost(insns(core, f"{load}; add r0, r0, #1")).total == \
            m[f"load_latency_{kind}"] - m["load_forward_advance"] + lat(core, "alu")
    # a shifted operand cannot take the fast path
    assert core.block_cost(insns(core, "ldr r0, [sp, #4]; add r1, r1, r0, lsl #2")).total == \
        m["load_latency"] + lat(core, "alu_shift_imm")
    assert core.block_cost(insns(core, "ldrb r0, [sp, #4]; add r0, r0, #1")).total > \
        core.block_cost(insns(core, "ldr r0, [sp, #4]; add r0, r0, #1")).total


def test_flags_are_a_dependency(cores):
    x, a = cores["amd64"], cores["arm"]
    assert x.block_cost(insns(x, "cmp rax, rbx; cmovne rcx, rdx")).total == lat(x, "alu") + lat(x, "cmov")
    assert x.block_cost(insns(x, "mov rcx, rdx; cmp rax, rbx")).total == 1
    assert a.block_cost(insns(a, "cmp r0, #1; addeq r1, r1, #1")).total == 2 * lat(a, "alu")
    assert a.block_cost(insns(a, "cmp r0, #1; add r1, r1, #1")).total == lat(a, "alu")


def test_arm_writeback_and_multiple(cores):
    core = cores["arm"]
    wb = insns(core, "ldr r0, [r1], #4; ldr r2, [r1], #4; ldr r3, [r1], #4")
    assert core.steady_state(wb) >= 3            # one load/store pipe
    # LDM of 4 registers: two registers per AGU cycle
    assert core.steady_state(insns(core, "ldm r0, {r1, r2, r3, r4}")) == pytest.approx(2)
    assert core.steady_state(insns(core, "ldm r0, {r1, r2}")) == pytest.approx(1)


def test_zero_idiom_breaks_dependency(cores):
    core = cores["amd64"]
    # xor eax, eax does not wait for the imul that last wrote rax
    assert core.block_cost(insns(core, "imul rax, rbx; xor eax, eax; add rax, 1")).total == lat(core, "imul")


# -- accounting ------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_per_insn_sums_to_total_and_is_deterministic(arch):
    core = CoreModel.for_arch(arch)
    other = CoreModel.for_arch(arch)
    _funcs, blocks = image_blocks(arch, "buggy", core)
    assert len(blocks) > 50
    for b in blocks:
        if not b.insns:
            continue
        cost = core.block_cost(b.insns)
        assert isinstance(cost, BlockCost)
        assert len(cost.per_insn) == len(b.insns)
        assert sum(cost.per_insn) == cost.total >= 1
        assert all(c >= 0 for c in cost.per_insn)
        assert core.block_cost(b.insns) == cost          # same input twice
        assert other.block_cost(b.insns) == cost         # a fresh model agrees
        assert other.steady_state(b.insns) == core.steady_state(b.insns)


def test_cost_of_bytes_matches_block_cost(cores):
    core = cores["arm"]
    enc, _ = keystone.Ks(*KS["arm"]).asm("ldr r0, [sp, #4]; add r0, r0, #1; str r0, [sp, #8]", ADDR)
    assert core.cost_of_bytes(bytes(enc), ADDR) == core.block_cost(core.disassemble(bytes(enc), ADDR))


def test_unknown_mnemonic_uses_default_class_and_is_counted():
    core = CoreModel.for_arch("amd64")
    cost = core.block_cost(insns(core, "cpuid"))
    assert cost.total == core.classes["default"].latency
    assert core.unknown["cpuid"] == 1


# -- per-architecture timing facts ------------------------------------------------

def _info(core, src):
    return [core.info(i) for i in insns(core, src)]


def test_amd64_timing_facts(cores):
    core = cores["amd64"]
    mov_al, store, push, pop, cmov, call = _info(
        core, "mov al, 5; mov qword ptr [rax + rbx*8], rcx; push rbx; pop rbx; cmovne rax, rbx; call 0x20000")
    assert mov_al.writes == {"rax"} and "rax" in mov_al.reads        # partial write merges
    assert store.store and not store.load and store.addr_reads == {"rax", "rbx"} and store.reads == {"rcx"}
    assert push.store and push.reads == {"rbx"} and "rsp" not in push.writes  # stack engine
    assert pop.load and pop.writes == {"rbx"}
    assert {"flags", "rax", "rbx"} <= cmov.reads
    assert call.control == "call" and call.target == 0x20000
    add = _info(core, "add eax, 1")[0]
    assert add.writes == {"rax", "flags"}


def test_arm_timing_facts(cores):
    core = cores["arm"]
    post, push, ldm, addeq, adds, shreg, popret, bxlr = _info(
        core, "ldr r0, [r1], #4; push {r4, lr}; ldm r0!, {r1, r2, r3}; addeq r1, r1, r2; adds r0, r0, #1; "
              "add r0, r1, r2, lsl r3; pop {r4, pc}; bx lr")
    assert post.load and post.writes == {"r0"} and post.base_writes == {"r1"} and post.addr_reads == {"r1"}
    assert push.store and push.nregs == 2 and push.reads == {"r4", "lr"} and push.base_writes == {"sp"}
    assert ldm.load and ldm.nregs == 3 and ldm.writes == {"r1", "r2", "r3"} and ldm.base_writes == {"r0"}
    assert {"flags", "r1", "r2"} <= addeq.reads                     # conditional: flags and old value
    assert "flags" in adds.writes
    assert shreg.key == "dp_shift_reg" and "r3" in shreg.reads
    assert popret.control == "ret" and bxlr.control == "ret"


def test_predicted_branch_does_not_wait_for_its_inputs(cores):
    core = cores["amd64"]
    # the jump's flags come from a 3-cycle multiply chain, but a correct prediction lets the block end
    # when the multiply does, not a cycle later
    cost = core.block_cost(insns(core, "imul rax, rbx; test rax, rax; jne 0x10000"))
    assert cost.total == lat(core, "imul") + lat(core, "alu")
    ret = core.block_cost(insns(core, "add rax, 1; ret"))
    assert ret.total == lat(core, "alu")
    arm = cores["arm"]
    assert arm.block_cost(insns(arm, "ldr r0, [sp]; cmp r0, #0; bne 0x10000")).total == \
        mem(arm)["load_latency"] - mem(arm)["load_forward_advance"] + lat(arm, "alu")


def test_stack_engine_sync_uop(cores):
    core = cores["amd64"]
    # pops run back to back (no RSP chain); naming RSP afterwards costs one synchronisation uop
    pops = insns(core, "pop rbx; pop r12; pop r13; pop r14")
    assert core.steady_state(pops) == pytest.approx(4 / 2)     # [S3 2.2.3] two load ports, 2 and 3
    plain = core.block_cost(insns(core, "push rax; add rbx, 8"))
    synced = core.block_cost(insns(core, "push rax; add rsp, 8"))
    assert plain.total == lat(core, "alu")
    assert synced.total == plain.total + 1            # the sync uop, then the add
