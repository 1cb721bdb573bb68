"""A branch predictor as data: 2-bit counters with global history, a BTB and
a return stack.

- Conditional branches: a table of ``bht_entries`` 2-bit saturating
  counters (predict taken at 2 and 3) indexed gshare-style: the branch
  address (shifted by the instruction alignment) XOR the outcomes of the
  last ``history_bits`` conditional branches, modulo the table size.  With
  ``history_bits = 0`` it is the plain bimodal table.  History lets a
  branch whose outcome follows a pattern -- a loop exit after the same
  number of turns, the split check that alternates -- be predicted.
- Indirect jumps and calls: a direct-mapped BTB of ``btb_entries`` (tag =
  the branch address) holding the last target; a miss or a changed target
  is a mispredict.
- Returns: a return address stack of ``ras_entries``.  A call pushes its
  fall-through address (when full, the oldest entry is dropped); a return
  pops and compares.  An empty stack is a mispredict.
- Direct jumps and calls are resolved at decode and never mispredict.

``observe(kind, pc, target, fallthrough)`` takes the transfer that happened
(``target`` is where execution actually went) and says whether the
predictor got it wrong.  Split stacks defeat the return stack twice: a
function that was started by gogocall returns into lessstack, an address no
call pushed, and gogo/gogocall jump to frames no call entered.
"""
from __future__ import annotations

from ..arch.flow import KINDS


class BranchPredictor:
    def __init__(self, bht_entries: int, btb_entries: int, ras_entries: int, align_bits: int = 0,
                 history_bits: int = 0):
        if bht_entries <= 0 or btb_entries <= 0 or ras_entries <= 0:
            raise ValueError("predictor tables need at least one entry")
        if not 0 <= history_bits <= 31:
            raise ValueError("history_bits must be 0..31")
        self.shift = align_bits
        self.history_mask = (1 << history_bits) - 1
        self.ghr = 0                          # the last outcomes, newest in bit 0
        self.bht = [1] * bht_entries          # weakly not taken
        self.btb_tag = [-1] * btb_entries
        self.btb_target = [0] * btb_entries
        self.ras: list[int] = []
        self.ras_entries = ras_entries
        self.seen = {k: 0 for k in KINDS if k != "none"}
        self.mispredicts = {k: 0 for k in KINDS if k != "none"}
        self.ras_underflows = 0
        self.ras_overflows = 0

    # -- the return stack ----------------------------------------------------
    def push(self, addr: int) -> None:
        ras = self.ras
        if len(ras) >= self.ras_entries:
            del ras[0]                        # wraps: the oldest entry is lost
            self.ras_overflows += 1
        ras.append(addr)

    def _pop(self) -> int | None:
        if not self.ras:
            self.ras_underflows += 1
            return None
        return self.ras.pop()

    def _btb(self, pc: int, target: int) -> bool:
        i = (pc >> self.shift) % len(self.btb_tag)
        hit = self.btb_tag[i] == pc and self.btb_target[i] == target
        self.btb_tag[i] = pc
        self.btb_target[i] = target
        return not hit

    def _bht(self, pc: int, taken: bool) -> bool:
        bht = self.bht
        i = ((pc >> self.shift) ^ self.ghr) % len(bht)
        c = bht[i]
        wrong = (c >= 2) != taken
        bht[i] = min(c + 1, 3) if taken else max(c - 1, 0)
        self.ghr = ((self.ghr << 1) | int(taken)) & self.history_mask
        return wrong

    # -- one transfer ----------------------------------------------------------
    def observe(self, kind: str, pc: int, target: int, fallthrough: int) -> bool:
        """Feed one executed transfer; True when it was mispredicted."""
        if kind == "cond":
            wrong = self._bht(pc, target != fallthrough)
        elif kind == "ret":
            wrong = self._pop() != target
        elif kind == "call":
            self.push(fallthrough)
            wrong = False
        elif kind == "indirect_call":
            self.push(fallthrough)
            wrong = self._btb(pc, target)
        elif kind == "indirect_jump":
            wrong = self._btb(pc, target)
        elif kind == "jump":
            wrong = False
        else:
            raise ValueError(f"unknown branch kind {kind!r}")
        self.seen[kind] += 1
        if wrong:
            self.mispredicts[kind] += 1
        return wrong

    @property
    def total_mispredicts(self) -> int:
        return sum(self.mispredicts.values())
