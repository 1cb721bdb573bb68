"""C-like expressions over the emulated machine, for the debugger.

    expr    := assign
    assign  := lor ['=' assign]
    lor     := land {'||' land}          land := bor {'&&' bor}
    bor     := bxor {'|' bxor}           bxor := band {'^' band}
    band    := eq {'&' eq}               eq   := rel {('=='|'!=') rel}
    rel     := shift {('<'|'>'|'<='|'>=') shift}
    shift   := add {('<<'|'>>') add}     add  := mul {('+'|'-') mul}
    mul     := unary {('*'|'/'|'%') unary}
    unary   := ('-'|'+'|'~'|'!'|'*'|'&') unary | '(' TYPE ')' unary | postfix
    postfix := primary {'.' NAME | '->' NAME | '[' expr ']'}
    primary := NUMBER | '$'REG | NAME | '(' expr ')'

Names: ``m``, ``g`` (the running goroutine: m->curg while the runtime runs
on g0), ``m0``, ``g0``, ``curg``, ``stktop`` (the current segment's Stktop),
the runtime's struct types for casts (``M``, ``G``, ``Gobuf``, ``Stktop``...),
C scalar types (``long``, ``uintptr``, ``uint8``...), and every symbol: a
global (goasm ``GLOBL`` or the C runtime's data) evaluates to its value, a
function to its address.  ``.`` and ``->`` both follow pointers, so
``m.curg.sched.pc`` and ``m->curg->sched.pc`` are the same.

The evaluator returns ``Value`` objects (a type, and an address when the
value lives in memory or a register) and raises ``BadExpression``; memory
it cannot read raises ``MemoryError_`` with the address, which the REPL
prints as gdb does ("Cannot access memory at address 0x...").
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from unicorn import UcError

from .errors import UsageError


class BadExpression(UsageError):
    """An expression that does not parse or does not make sense."""


class NoSuchSymbol(BadExpression):
    pass


class MemoryError_(UsageError, UcError):
    """Emulated memory that cannot be read or written (``address``).  Also a
    UcError, so that code written against Unicorn's error still catches it."""

    def __init__(self, address: int, errno: int = 6):   # 6: UC_ERR_READ_UNMAPPED
        self.address = address
        self.errno = errno
        self.msg = f"Cannot access memory at address {address:#x}"
        Exception.__init__(self, self.msg)

    def __str__(self) -> str:
        return self.msg


def track_memory_errors(mc) -> None:
    """Make every read of ``mc``'s memory that fails raise MemoryError_ with
    the address (Unicorn's UcError does not say which address)."""
    uc = mc.uc
    if getattr(uc, "_goemu_tracked", False):
        return
    orig = uc.mem_read

    def mem_read(addr: int, size: int):
        try:
            return orig(addr, size)
        except MemoryError_:
            raise
        except UcError as e:
            raise MemoryError_(addr, e.errno) from None

    uc.mem_read = mem_read
    uc._goemu_tracked = True


# -- types -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Type:
    kind: str                 # int, ptr, struct, array, func
    size: int
    name: str = ""            # int: C name; struct: struct name; array: element path
    signed: bool = False
    target: Type | None = None    # ptr: the pointed-to type
    path: str = ""            # struct/array views inside a struct: the member path prefix
    struct: str = ""          # struct/array views: the enclosing struct

    def __str__(self) -> str:
        if self.kind == "ptr":
            return f"{self.target} *" if self.target else "void *"
        if self.kind == "struct" and self.path:
            return f"{self.struct}.{self.path}"
        return self.name


_SCALARS = {
    "char": (1, True), "int8": (1, True), "uint8": (1, False), "byte": (1, False),
    "short": (2, True), "int16": (2, True), "uint16": (2, False),
    "int": (4, True), "int32": (4, True), "uint32": (4, False), "unsigned": (4, False),
    "int64": (8, True), "uint64": (8, False), "bool": (1, False),
}


@dataclass
class Value:
    type: Type
    value: int | None = None  # scalars and pointers (read lazily for lvalues)
    addr: int | None = None   # in memory
    reg: str | None = None    # in a register

    @property
    def is_lvalue(self) -> bool:
        return self.addr is not None or self.reg is not None


_TOKEN = re.compile(r"""\s*(?:
    (?P<num>0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO]?[0-7]+|\d+)\b |
    (?P<reg>\$[A-Za-z_][A-Za-z0-9_]*) |
    (?P<name>[A-Za-z_·][A-Za-z0-9_·]*) |
    (?P<op>->|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!<>=()\[\].])
)""", re.VERBOSE)


def tokenize(text: str) -> list[tuple[str, str]]:
    out, i = [], 0
    text = text.rstrip()
    while i < len(text):
        m = _TOKEN.match(text, i)
        if not m or m.end() == i:
            raise BadExpression(f"invalid character {text[i:].strip()[:1]!r} in expression {text!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        i = m.end()
    return out


class Evaluator:
    """Parses and evaluates one expression against a Machine."""

    def __init__(self, mc, text: str, frame_regs: dict[str, int] | None = None):
        self.mc = mc
        self.frame_regs = frame_regs or {}     # a selected outer frame's pc and sp
        self.ps = mc.arch.ptrsize
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        if not self.toks:
            raise BadExpression("empty expression")

    # -- token helpers -------------------------------------------------------------------
    def peek(self, k: int = 0) -> tuple[str, str] | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def accept(self, *ops: str) -> str | None:
        t = self.peek()
        if t and t[0] == "op" and t[1] in ops:
            self.i += 1
            return t[1]
        return None

    def expect(self, op: str) -> None:
        if not self.accept(op):
            t = self.peek()
            raise BadExpression(f"expected {op!r} " + (f"before {t[1]!r}" if t else "at the end")
                                + f" in {self.text!r}")

    def parse(self) -> Value:
        v = self.assign()
        if self.peek() is not None:
            raise BadExpression(f"unexpected {self.peek()[1]!r} in {self.text!r}")
        return v

    # -- types ---------------------------------------------------------------------------
    def word(self) -> Type:
        return Type("int", self.ps, "long", signed=False)

    def struct_type(self, name: str, path: str = "") -> Type:
        L = self.mc.layouts[name]
        size = L.size if not path else self._agg_size(name, path)
        return Type("struct", size, name, path=path, struct=name)

    def _agg_size(self, sname: str, path: str) -> int:
        subs = [f for f in self.mc.layouts[sname].leaves
                if f.path.startswith(path + ".") or f.path.startswith(path + "[")]
        return max(f.offset + f.size for f in subs) - min(f.offset for f in subs)

    def type_from_name(self, tname: str, size: int) -> Type:
        t = tname.strip()
        if t.endswith("*"):
            inner = t[:-1].strip()
            if inner in self.mc.layouts.structs:
                return Type("ptr", self.ps, target=self.struct_type(inner))
            if inner in ("void", "subroutine_type"):
                return Type("ptr", self.ps, target=None)
            return Type("ptr", self.ps, target=self.type_from_name(inner, 1 if "8" in inner or "char" in inner
                                                                   else self.ps))
        signed = not ("unsigned" in t or t.startswith("uint") or t in ("uintptr", "byte", "bool"))
        return Type("int", size or self.ps, t, signed=signed)

    def parse_type(self) -> Type | None:
        """At '(' TYPE ')': the type, consuming it; None (nothing consumed) if not a type."""
        j = self.i
        words = []
        while j < len(self.toks) and self.toks[j][0] == "name":
            words.append(self.toks[j][1])
            j += 1
        if not words:
            return None
        base = " ".join(words)
        if words[0] in self.mc.layouts.structs and len(words) == 1:
            t = self.struct_type(words[0])
        elif base in ("long", "unsigned long", "uintptr", "unsigned long long", "long long", "uintptr_t"):
            t = Type("int", self.ps if "long long" not in base else 8, base, signed="u" not in base[:1])
        elif base in ("unsigned int", "unsigned char", "unsigned short"):
            t = Type("int", {"int": 4, "char": 1, "short": 2}[words[1]], base, signed=False)
        elif base == "void":
            t = Type("int", 1, "void")
        elif len(words) == 1 and words[0] in _SCALARS:
            size, signed = _SCALARS[words[0]]
            t = Type("int", size, words[0], signed=signed)
        else:
            return None
        stars = 0
        while j < len(self.toks) and self.toks[j] == ("op", "*"):
            stars += 1
            j += 1
        if j >= len(self.toks) or self.toks[j] != ("op", ")"):
            return None
        self.i = j
        if t.name == "void" and stars:
            t, stars = Type("ptr", self.ps, target=None), stars - 1
        for _ in range(stars):
            t = Type("ptr", self.ps, target=t)
        return t

    # -- memory ----------------------------------------------------------------------------
    def read(self, addr: int, size: int) -> int:
        try:
            return int.from_bytes(self.mc.read(addr, size), "little")
        except UcError:
            raise MemoryError_(addr) from None

    def load(self, v: Value) -> int:
        """The scalar value of v (reading memory or a register for an lvalue)."""
        if v.type.kind in ("struct", "array"):
            if v.addr is None:
                raise BadExpression(f"{v.type} has no address")
            return v.addr               # an aggregate in arithmetic: its address
        if v.value is not None:
            return v.value
        if v.reg is not None:
            return self.mc.reg(v.reg)
        if v.addr is not None:
            raw = self.read(v.addr, v.type.size)
            return raw
        raise BadExpression("no value")

    def signed(self, t: Type, x: int) -> int:
        bits = 8 * max(t.size, 1)
        x &= (1 << bits) - 1
        if t.signed and x >> (bits - 1):
            x -= 1 << bits
        return x

    # -- grammar ---------------------------------------------------------------------------
    def assign(self) -> Value:
        lhs = self.binary(0)
        if self.accept("="):
            rhs = self.assign()
            return self.store(lhs, self.load(rhs))
        return lhs

    def store(self, lhs: Value, x: int) -> Value:
        if lhs.type.kind not in ("int", "ptr"):
            raise BadExpression(f"cannot assign to {lhs.type}")
        if lhs.reg is not None:
            self.mc.reg_write(lhs.reg, x & ((1 << 8 * self.ps) - 1) if lhs.reg != "fs_base" else x)
        elif lhs.addr is not None:
            size = lhs.type.size
            try:
                self.mc.write(lhs.addr, (x & ((1 << 8 * size) - 1)).to_bytes(size, "little"))
            except UcError:
                raise MemoryError_(lhs.addr) from None
        else:
            raise BadExpression("left operand of assignment is not an lvalue")
        self.stored = True
        return Value(lhs.type, x & ((1 << 8 * lhs.type.size) - 1), lhs.addr, lhs.reg)

    _LEVELS = (("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="),
               ("<<", ">>"), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> Value:
        if level == len(self._LEVELS):
            return self.unary()
        lhs = self.binary(level + 1)
        while True:
            op = self.accept(*self._LEVELS[level])
            if op is None:
                return lhs
            rhs = self.binary(level + 1)
            lhs = self.arith(op, lhs, rhs)

    def arith(self, op: str, a: Value, b: Value) -> Value:
        x, y = self.load(a), self.load(b)
        ta, tb = a.type, b.type
        # pointer arithmetic scales by the pointed-to size, as in C
        if op in "+-" and ta.kind == "ptr" and tb.kind == "int":
            step = ta.target.size if ta.target else 1
            return Value(ta, (x + y * step if op == "+" else x - y * step) & ((1 << 8 * self.ps) - 1))
        if op == "+" and tb.kind == "ptr" and ta.kind == "int":
            step = tb.target.size if tb.target else 1
            return Value(tb, (y + x * step) & ((1 << 8 * self.ps) - 1))
        t = self.word() if ta.kind != "int" or tb.kind != "int" else \
            (ta if ta.size >= tb.size else tb)
        t = Type("int", max(t.size, 4), t.name if t.size >= 4 else "int", signed=ta.signed and tb.signed)
        sx, sy = self.signed(ta, x) if ta.kind == "int" else x, self.signed(tb, y) if tb.kind == "int" else y
        if op in ("/", "%") and sy == 0:
            raise BadExpression("division by zero")
        r = {"+": lambda: sx + sy, "-": lambda: sx - sy, "*": lambda: sx * sy,
             "/": lambda: int(sx / sy), "%": lambda: sx - int(sx / sy) * sy,
             "<<": lambda: sx << (sy & 63), ">>": lambda: sx >> (sy & 63),
             "&": lambda: sx & sy, "|": lambda: sx | sy, "^": lambda: sx ^ sy,
             "==": lambda: int(sx == sy), "!=": lambda: int(sx != sy), "<": lambda: int(sx < sy),
             ">": lambda: int(sx > sy), "<=": lambda: int(sx <= sy), ">=": lambda: int(sx >= sy),
             "&&": lambda: int(bool(sx) and bool(sy)), "||": lambda: int(bool(sx) or bool(sy))}[op]()
        if op in ("==", "!=", "<", ">", "<=", ">=", "&&", "||"):
            t = Type("int", 4, "int", signed=True)
        if ta.kind == "int" and tb.kind == "int" and t.size < 8 and (sx >= 1 << 31 or sy >= 1 << 31 or
                                                                   abs(r) >= 1 << 32):
            t = Type("int", 8, "long", signed=True)     # literals wider than int, as C promotes them
        return Value(t, r & ((1 << 8 * t.size) - 1))

    def unary(self) -> Value:
        op = self.accept("-", "+", "~", "!", "*", "&")
        if op is not None:
            v = self.unary()
            if op == "*":
                return self.deref(v)
            if op == "&":
                if v.reg is not None:
                    raise BadExpression(f"attempt to take address of register ${v.reg}")
                if v.addr is None:
                    if v.type.kind == "func":
                        return Value(Type("ptr", self.ps, target=None), v.value)
                    raise BadExpression("attempt to take address of value not located in memory")
                return Value(Type("ptr", self.ps, target=v.type), v.addr)
            x = self.load(v)
            t = v.type if v.type.kind == "int" else self.word()
            if t.size < 4:
                t = Type("int", 4, "int", signed=True)
            sx = self.signed(t, x)
            r = {"-": -sx, "+": sx, "~": ~sx, "!": int(not sx)}[op]
            return Value(t, r & ((1 << 8 * t.size) - 1))
        if self.peek() == ("op", "("):
            save = self.i
            self.i += 1
            t = self.parse_type()
            if t is not None:
                self.expect(")")
                return self.cast(t, self.unary())
            self.i = save
        return self.postfix()

    def cast(self, t: Type, v: Value) -> Value:
        if t.kind == "struct":
            # (Stktop)x: the struct at address x, as gdb's {Stktop} x
            return Value(t, None, self.load(v))
        if t.kind == "int" and v.is_lvalue and v.type.kind == "int" and v.type.size == t.size:
            return Value(t, None, v.addr, v.reg)
        x = self.load(v)
        if t.kind == "int":
            x &= (1 << 8 * t.size) - 1
        return Value(t, x & ((1 << 8 * self.ps) - 1) if t.kind == "ptr" else x)

    def deref(self, v: Value) -> Value:
        t = v.type
        if t.kind == "struct":
            return v                    # *m, *stktop: the struct itself (lenient, as before)
        if t.kind == "ptr":
            addr = self.load(v)
            if t.target is None:
                raise BadExpression("attempt to take contents of a non-pointer value (void *)")
            return Value(t.target, None, addr)
        # an integer: the word at that address (as x/g would read it)
        return Value(self.word(), None, self.load(v))

    def postfix(self) -> Value:
        v = self.primary()
        while True:
            op = self.accept(".", "->", "[")
            if op is None:
                return v
            if op == "[":
                idx = self.load(self.assign())
                self.expect("]")
                v = self.index(v, idx)
                continue
            t = self.peek()
            if not t or t[0] != "name":
                raise BadExpression(f"expected a field name after {op!r} in {self.text!r}")
            self.i += 1
            v = self.member(v, t[1])

    def member(self, v: Value, name: str) -> Value:
        t = v.type
        if t.kind == "ptr" and t.target is not None and t.target.kind == "struct":
            v, t = Value(t.target, None, self.load(v)), t.target
        if t.kind != "struct":
            raise BadExpression(f"attempt to extract a component of a value that is not a structure ({t})")
        L = self.mc.layouts[t.struct]
        path = f"{t.path}.{name}" if t.path else name
        base = v.addr - (L.offset(t.path) if t.path else 0)
        return self._at_path(t.struct, base, path)

    def _at_path(self, sname: str, base: int, path: str) -> Value:
        L = self.mc.layouts[sname]
        leaf = next((f for f in L.leaves if f.path == path), None)
        if leaf is not None:
            return Value(self.type_from_name(leaf.type_name, leaf.size), None, base + leaf.offset)
        if any(f.path.startswith(path + ".") for f in L.leaves):
            return Value(Type("struct", self._agg_size(sname, path), sname, path=path, struct=sname),
                         None, base + L.offset(path))
        if any(f.path.startswith(path + "[") for f in L.leaves):
            return Value(Type("array", self._agg_size(sname, path), path, path=path, struct=sname),
                         None, base + L.offset(path))
        raise BadExpression(f"{sname} has no field {path!r}")

    def index(self, v: Value, i: int) -> Value:
        t = v.type
        if t.kind == "array":
            L = self.mc.layouts[t.struct]
            base = v.addr - L.offset(t.path)
            return self._at_path(t.struct, base, f"{t.path}[{i}]")
        if t.kind == "ptr":
            step = t.target.size if t.target else 1
            return self.deref(Value(t, self.load(v) + i * step))
        # gdb: an integer is not an array; be useful: word i at that address
        return Value(self.word(), None, self.load(v) + i * self.ps)

    def primary(self) -> Value:
        t = self.peek()
        if t is None:
            raise BadExpression(f"missing operand in {self.text!r}")
        kind, text = t
        self.i += 1
        if kind == "num":
            s = text.lower()
            x = int(s, 8) if len(s) > 1 and s[0] == "0" and s[1] in "01234567" else int(s, 0)
            return Value(Type("int", 4 if x < 1 << 31 else 8, "int" if x < 1 << 31 else "long", signed=True), x)
        if kind == "reg":
            return self.register(text[1:])
        if kind == "op" and text == "(":
            v = self.assign()
            self.expect(")")
            return v
        if kind == "name":
            return self.name(text)
        raise BadExpression(f"unexpected {text!r} in {self.text!r}")

    def register(self, name: str) -> Value:
        a = self.mc.arch
        low = name.lower()
        low = {"pc": a.pc, "sp": a.sp, "ps": a.flags, "fp": a.frame_pointer or "fp"}.get(low, low)
        low = a.reg_aliases.get(low, low)
        if low not in a.regs:
            raise BadExpression(f"no register ${name}")
        t = Type("int", self.ps, "code") if low == a.pc else Type("int", self.ps, "long", signed=True)
        if low in self.frame_regs:
            return Value(t, self.frame_regs[low])
        return Value(t, None, reg=low)

    def name(self, name: str) -> Value:
        mc = self.mc
        structs = {"m": "M", "m0": "M", "g": "G", "g0": "G", "curg": "G", "stktop": "Stktop"}
        if name in structs:
            return Value(self.struct_type(structs[name]), None, var_address(mc, name))
        # a symbol with dots in its name (runtime.new): join as long as it names a symbol
        full = name
        j = self.i
        while (j + 1 < len(self.toks) and self.toks[j] == ("op", ".") and self.toks[j + 1][0] == "name"
               and _has_prefix(mc, f"{full}.{self.toks[j + 1][1]}")):
            full = f"{full}.{self.toks[j + 1][1]}"
            j += 2
        if full != name and _lookup(mc, full) is not None:
            self.i = j
            name = full
        return symbol_value(self, name)


def _has_prefix(mc, s: str) -> bool:
    s = s.replace("·", ".")
    return any(k.startswith((s, "runtime." + s)) for k in mc.image.symbols)


def _lookup(mc, name: str) -> int | None:
    try:
        return mc.image.lookup(name)
    except KeyError:
        return None


def symbol_value(ev: Evaluator, name: str) -> Value:
    mc = ev.mc
    addr = _lookup(mc, name)
    if addr is None:
        raise NoSuchSymbol(f'No symbol "{name}" in current context.')
    if mc.image.func_at(addr) is not None or _c_func(mc, addr):
        return Value(Type("func", ev.ps, "func"), addr)
    size = _data_size(mc, name, addr)
    if name in ("m0",):
        return Value(ev.struct_type("M"), None, addr)
    if name in ("g0",):
        return Value(ev.struct_type("G"), None, addr)
    if size in (1, 2, 4, 8) and size <= max(ev.ps, 8):
        return Value(Type("int", size, "data", signed=False), None, addr)
    return Value(Type("int", ev.ps, "data", signed=False), None, addr)


def _c_func(mc, addr: int) -> bool:
    return any(s.addr == addr and s.type == "func" for s in mc.image.c_image.symbol_table)


def _data_size(mc, name: str, addr: int) -> int:
    d = mc.image.data
    for cand in (name, name.replace("·", ".").removeprefix("runtime.")):
        if cand in d:
            return d[cand][1]
    for s in mc.image.c_image.symbol_table:
        if s.addr == addr and s.type != "func":
            return s.size
    return mc.arch.ptrsize


def on_g0(mc) -> bool:
    from .unwind import on_g0 as _on_g0
    return _on_g0(mc)


def current_g(mc) -> int:
    """The goroutine the user means by ``g``: m->curg while the runtime runs
    on g0 (newstack, oldstack) or has already switched g to g0 (lessstack,
    morestack); the g register/TLS slot otherwise."""
    g = mc.g
    if on_g0(mc):
        curg = _read_or_zero(mc, "M", mc.m, "curg")
        if curg:
            return curg
    return g


def _read_or_zero(mc, s: str, base: int, path: str) -> int:
    try:
        return mc.field(s, base, path)
    except UcError:
        raise MemoryError_(base + mc.layouts[s].offset(path)) from None


def var_address(mc, name: str) -> int:
    if name == "m":
        return mc.m
    if name == "m0":
        return mc.m0
    if name == "g0":
        return mc.g0
    if name == "g":
        return current_g(mc)
    if name == "curg":
        return _read_or_zero(mc, "M", mc.m, "curg")
    if name == "stktop":
        g = current_g(mc)
        if not g:
            raise MemoryError_(0)
        return _read_or_zero(mc, "G", g, "stackbase")
    raise KeyError(name)


def evaluate(mc, text: str) -> Value:
    """Parse and evaluate ``text``; the Value (lvalues are read lazily)."""
    return Evaluator(mc, text).parse()


def value_int(mc, v: Value) -> int:
    """The number a value stands for (an aggregate: its address)."""
    ev = Evaluator.__new__(Evaluator)
    ev.mc, ev.ps = mc, mc.arch.ptrsize
    return ev.load(v)


def struct_fields(mc, v: Value) -> dict[str, int]:
    """Every leaf of a struct value (a whole struct or a member aggregate), by path relative to it."""
    t = v.type
    L = mc.layouts[t.struct]
    base = v.addr - (L.offset(t.path) if t.path else 0)
    pre = t.path + "." if t.path and t.kind == "struct" else (t.path if t.path else "")
    out = {}
    for f in L.leaves:
        if t.path and not (f.path.startswith(t.path + ".") or f.path.startswith(t.path + "[")):
            continue
        try:
            val = int.from_bytes(mc.read(base + f.offset, f.size), "little")
        except UcError:
            raise MemoryError_(base + f.offset) from None
        out[f.path[len(pre):] if pre and f.path.startswith(pre) else f.path] = val
    return out
