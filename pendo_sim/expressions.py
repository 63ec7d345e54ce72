"""Pendo aggregation expression language: tokenizer, parser, compiler to closures.

Supports literals (numbers, "double-quoted" strings with backslash escapes, `backtick`
strings, true/false/null), dotted paths with ``[n]`` indexing, ``== != < <= > >= && || !``,
parentheses, ``+ - * /`` and the functions isNull, isNotNull, now, date, dateAdd, hash, len.
A missing field is null; ordering comparisons involving null or mixed types are false;
string comparison is lexicographic by code point.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class ExpressionError(ValueError):
    """The expression cannot be parsed or evaluated (the API answers 400)."""


# ----------------------------------------------------------------------------- tokens

_OPS2 = ("==", "!=", "<=", ">=", "&&", "||")
_OPS1 = "<>!+-*/(),[]."


@dataclass
class Tok:
    kind: str  # num, str, ident, op, end
    value: Any
    pos: int


def _read_string(src: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    n = len(src)
    i += 1
    while i < n:
        c = src[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            i += 1
            if i >= n:
                break
            e = src[i]
            simple = {
                '"': '"',
                "\\": "\\",
                "/": "/",
                "n": "\n",
                "t": "\t",
                "r": "\r",
                "b": "\b",
                "f": "\f",
                "'": "'",
                "`": "`",
            }
            if e in simple:
                out.append(simple[e])
                i += 1
            elif e == "u":
                hexs = src[i + 1 : i + 5]
                if len(hexs) != 4:
                    raise ExpressionError(f"bad \\u escape at {i}")
                try:
                    cp = int(hexs, 16)
                except ValueError:
                    raise ExpressionError(f"bad \\u escape at {i}") from None
                i += 5
                if 0xD800 <= cp < 0xDC00 and src[i : i + 2] == "\\u":
                    try:
                        lo = int(src[i + 2 : i + 6], 16)
                    except ValueError:
                        lo = 0
                    if 0xDC00 <= lo < 0xE000:
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                out.append(chr(cp))
            else:
                raise ExpressionError(f"unknown escape \\{e} at {i}")
        else:
            out.append(c)
            i += 1
    raise ExpressionError("unterminated string literal")


def tokenize(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
            continue
        if c == '"':
            s, j = _read_string(src, i)
            toks.append(Tok("str", s, i))
            i = j
            continue
        if c == "`":
            j = src.find("`", i + 1)
            if j < 0:
                raise ExpressionError("unterminated backtick string")
            toks.append(Tok("str", src[i + 1 : j], i))
            i = j + 1
            continue
        if c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            j = i
            while j < n and (src[j].isdigit() or src[j] == "."):
                j += 1
            if j < n and src[j] in "eE":
                k = j + 1
                if k < n and src[k] in "+-":
                    k += 1
                if k < n and src[k].isdigit():
                    j = k
                    while j < n and src[j].isdigit():
                        j += 1
            text = src[i:j]
            try:
                val: Any = int(text) if text.isdigit() else float(text)
            except ValueError:
                raise ExpressionError(f"bad number {text!r}") from None
            toks.append(Tok("num", val, i))
            i = j
            continue
        if c.isalpha() or c in "_$":
            j = i
            while j < n and (src[j].isalnum() or src[j] in "_$"):
                j += 1
            toks.append(Tok("ident", src[i:j], i))
            i = j
            continue
        two = src[i : i + 2]
        if two in _OPS2:
            toks.append(Tok("op", two, i))
            i += 2
            continue
        if c in _OPS1:
            toks.append(Tok("op", c, i))
            i += 1
            continue
        raise ExpressionError(f"unexpected character {c!r} at {i}")
    toks.append(Tok("end", None, n))
    return toks


# ----------------------------------------------------------------------------- AST

# Nodes are tuples: ("lit", v) ("path", [steps]) ("call", name, [args]) ("un", op, x)
# ("bin", op, a, b)

_PREC = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
}


class _Parser:
    def __init__(self, src: str):
        self.toks = tokenize(src)
        self.i = 0

    def peek(self) -> Tok:
        return self.toks[self.i]

    def next(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, op: str) -> None:
        t = self.next()
        if t.kind != "op" or t.value != op:
            raise ExpressionError(f"expected {op!r} at {t.pos}")

    def parse(self):
        node = self.expr(0)
        if self.peek().kind != "end":
            raise ExpressionError(f"unexpected token {self.peek().value!r} at {self.peek().pos}")
        return node

    def expr(self, min_prec: int):
        """Precedence climbing; all binary operators are left-associative."""
        left = self.unary()
        while True:
            t = self.peek()
            if t.kind != "op" or t.value not in _PREC or _PREC[t.value] < min_prec:
                return left
            self.next()
            right = self.expr(_PREC[t.value] + 1)
            left = ("bin", t.value, left, right)

    def unary(self):
        t = self.peek()
        if t.kind == "op" and t.value in ("!", "-"):
            self.next()
            return ("un", t.value, self.unary())
        return self.primary()

    def primary(self):
        t = self.next()
        if t.kind == "num" or t.kind == "str":
            return ("lit", t.value)
        if t.kind == "op" and t.value == "(":
            node = self.expr(0)
            self.expect(")")
            return node
        if t.kind == "ident":
            if t.value == "true":
                return ("lit", True)
            if t.value == "false":
                return ("lit", False)
            if t.value == "null":
                return ("lit", None)
            nxt = self.peek()
            if nxt.kind == "op" and nxt.value == "(":
                self.next()
                args = []
                if not (self.peek().kind == "op" and self.peek().value == ")"):
                    args.append(self.expr(0))
                    while self.peek().kind == "op" and self.peek().value == ",":
                        self.next()
                        args.append(self.expr(0))
                self.expect(")")
                return ("call", t.value, args)
            steps: list[Any] = [t.value]
            while True:
                nxt = self.peek()
                if nxt.kind == "op" and nxt.value == ".":
                    self.next()
                    name = self.next()
                    if name.kind not in ("ident", "num"):
                        raise ExpressionError(f"expected field name at {name.pos}")
                    steps.append(str(name.value))
                elif nxt.kind == "op" and nxt.value == "[":
                    self.next()
                    idx = self.next()
                    if idx.kind not in ("num", "str"):
                        raise ExpressionError(f"expected index at {idx.pos}")
                    steps.append(idx.value)
                    self.expect("]")
                else:
                    break
            return ("path", steps)
        raise ExpressionError(f"unexpected token {t.value!r} at {t.pos}")


def parse(src: str):
    if not isinstance(src, str):
        raise ExpressionError("expression must be a string")
    return _Parser(src).parse()


# ----------------------------------------------------------------------------- evaluation helpers


def split_path(path: str) -> list[Any]:
    """'a.b[0].c' -> ['a', 'b', 0, 'c']"""
    node = parse(path)
    if node[0] != "path":
        raise ExpressionError(f"not a field path: {path!r}")
    return node[1]


def get_steps(row: Any, steps: list[Any]) -> Any:
    cur = row
    for s in steps:
        if isinstance(cur, dict):
            cur = cur.get(s) if isinstance(s, str) else cur.get(str(s))
        elif isinstance(cur, list) and isinstance(s, int):
            cur = cur[s] if -len(cur) <= s < len(cur) else None
        else:
            return None
        if cur is None:
            return None
    return cur


def path_getter(path: str) -> Callable[[Any], Any]:
    steps = split_path(path)
    if len(steps) == 1:
        k = steps[0]
        return lambda row: row.get(k) if isinstance(row, dict) else None
    if len(steps) == 3 and all(isinstance(s, str) for s in steps):
        a, b, c = steps

        def g3(row):
            x = row.get(a)
            if x.__class__ is dict:
                x = x.get(b)
                if x.__class__ is dict:
                    return x.get(c)
                return None
            return get_steps(row, steps)

        return g3
    return lambda row: get_steps(row, steps)


def _is_num(x: Any) -> bool:
    return x.__class__ is int or x.__class__ is float


def values_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_num(a) and _is_num(b):
        return a == b
    if type(a) is not type(b):
        return False
    return a == b


def _ordered(a: Any, b: Any) -> bool:
    return (_is_num(a) and _is_num(b)) or (a.__class__ is str and b.__class__ is str)


def sort_key(v: Any):
    """Total order used by sort: null first, then booleans, numbers, strings, others."""
    if v is None:
        return (0, 0)
    if isinstance(v, bool):
        return (1, int(v))
    if _is_num(v):
        return (2, v)
    if isinstance(v, str):
        return (3, v)
    return (4, repr(v))


@dataclass
class EvalContext:
    now_ms: int
    date_fn: Callable[..., int]  # date(y, m, d, ...) -> ms in subscription tz
    add_fn: Callable[[int, int, str], int] | None = None


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if not (_is_num(a) and _is_num(b)):
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        return None
    q = a / b
    if isinstance(a, int) and isinstance(b, int) and a % b == 0:
        return a // b
    return q


def _truthy(v: Any) -> bool:
    if v is None or v is False:
        return False
    if v is True:
        return True
    if _is_num(v):
        return v != 0
    if isinstance(v, str):
        return v != ""
    return bool(v)


_FUNCS = {"isNull": 1, "isNotNull": 1, "now": 0, "date": None, "dateAdd": 3, "hash": 1, "len": 1}


def compile_node(node, ctx: EvalContext) -> Callable[[Any], Any]:
    kind = node[0]
    if kind == "lit":
        v = node[1]
        return lambda row: v
    if kind == "path":
        steps = node[1]
        if len(steps) == 1:
            k = steps[0]
            return lambda row: row.get(k)
        return path_getter_steps(steps)
    if kind == "un":
        f = compile_node(node[2], ctx)
        if node[1] == "!":
            return lambda row: not _truthy(f(row))

        def neg(row):
            v = f(row)
            return -v if _is_num(v) else None

        return neg
    if kind == "call":
        name, args = node[1], node[2]
        if name not in _FUNCS:
            raise ExpressionError(f"unknown function {name}()")
        want = _FUNCS[name]
        if want is not None and len(args) != want:
            raise ExpressionError(f"{name}() takes {want} argument(s)")
        fs = [compile_node(a, ctx) for a in args]
        if name == "isNull":
            f0 = fs[0]
            return lambda row: f0(row) is None
        if name == "isNotNull":
            f0 = fs[0]
            return lambda row: f0(row) is not None
        if name == "now":
            return lambda row: ctx.now_ms
        if name == "date":
            if not 1 <= len(fs) <= 6:
                raise ExpressionError("date() takes 1 to 6 arguments")

            def date(row):
                vals = [f(row) for f in fs]
                try:
                    return ctx.date_fn(*vals)
                except (TypeError, ValueError) as exc:
                    raise ExpressionError(f"bad date(): {exc}") from None

            return date
        if name == "dateAdd":

            def date_add(row):
                base, n, unit = (f(row) for f in fs)
                if ctx.add_fn is None or not _is_num(base) or not _is_num(n):
                    return None
                return ctx.add_fn(int(base), int(n), str(unit))

            return date_add
        if name == "hash":
            f0 = fs[0]
            return lambda row: int.from_bytes(
                hashlib.md5(str(f0(row)).encode()).digest()[:4], "big"
            )
        if name == "len":
            f0 = fs[0]

            def length(row):
                v = f0(row)
                return len(v) if isinstance(v, (str, list, dict)) else None

            return length
    if kind == "bin":
        op = node[1]
        fa = compile_node(node[2], ctx)
        fb = compile_node(node[3], ctx)
        # fast paths: path OP literal
        if op == "&&":
            return lambda row: _truthy(fa(row)) and _truthy(fb(row))
        if op == "||":
            return lambda row: _truthy(fa(row)) or _truthy(fb(row))
        if op == "==":
            return lambda row: values_equal(fa(row), fb(row))
        if op == "!=":
            return lambda row: not values_equal(fa(row), fb(row))
        if op in ("<", "<=", ">", ">="):
            return _compile_cmp(op, node, fa, fb)
        return lambda row: _arith(op, fa(row), fb(row))
    raise ExpressionError(f"bad node {kind}")


def _compile_cmp(op, node, fa, fb):
    # constant right-hand side fast path
    if node[3][0] == "lit":
        c = node[3][1]
        if _is_num(c):
            if op == ">=":
                return lambda row: (
                    lambda a: (a.__class__ is int or a.__class__ is float) and a >= c
                )(fa(row))
            if op == ">":
                return lambda row: (
                    lambda a: (a.__class__ is int or a.__class__ is float) and a > c
                )(fa(row))
            if op == "<":
                return lambda row: (
                    lambda a: (a.__class__ is int or a.__class__ is float) and a < c
                )(fa(row))
            return lambda row: (lambda a: (a.__class__ is int or a.__class__ is float) and a <= c)(
                fa(row)
            )
    if op == "<":
        return lambda row: (lambda a, b: _ordered(a, b) and a < b)(fa(row), fb(row))
    if op == "<=":
        return lambda row: (lambda a, b: _ordered(a, b) and a <= b)(fa(row), fb(row))
    if op == ">":
        return lambda row: (lambda a, b: _ordered(a, b) and a > b)(fa(row), fb(row))
    return lambda row: (lambda a, b: _ordered(a, b) and a >= b)(fa(row), fb(row))


def path_getter_steps(steps: list[Any]) -> Callable[[Any], Any]:
    if all(isinstance(s, str) for s in steps) and len(steps) <= 3:
        if len(steps) == 2:
            a, b = steps

            def g2(row):
                x = row.get(a)
                return x.get(b) if x.__class__ is dict else None

            return g2
        if len(steps) == 3:
            a, b, c = steps

            def g3(row):
                x = row.get(a)
                if x.__class__ is dict:
                    x = x.get(b)
                    if x.__class__ is dict:
                        return x.get(c)
                return None

            return g3
    return lambda row: get_steps(row, steps)


def compile_expr(src: str, ctx: EvalContext) -> Callable[[Any], Any]:
    return compile_node(parse(src), ctx)


def compile_predicate(src: str, ctx: EvalContext) -> Callable[[Any], bool]:
    f = compile_expr(src, ctx)
    return lambda row: _truthy(f(row))


def evaluate(src: str, ctx: EvalContext, row: dict | None = None) -> Any:
    return compile_expr(src, ctx)(row or {})


# ----------------------------------------------------------------------------- range analysis


def _const_value(node, ctx: EvalContext):
    """Value of a node that contains no field paths, else raise LookupError."""
    kind = node[0]
    if kind == "path":
        raise LookupError
    if kind == "lit":
        return node[1]
    for child in node[2:] if kind == "bin" else (node[2] if kind == "call" else [node[2]]):
        _const_value(child, ctx)
    return compile_node(node, ctx)({})


def _conjuncts(node):
    if node[0] == "bin" and node[1] == "&&":
        yield from _conjuncts(node[2])
        yield from _conjuncts(node[3])
    else:
        yield node


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "=="}


def path_bounds(src: str, path: list[Any], ctx: EvalContext):
    """Bounds a filter puts on `path` via top-level && conjuncts.

    Returns (lo, lo_incl, hi, hi_incl) with None for no bound; only number/str constants.
    Every row that passes the filter satisfies these bounds (used to skip presorted rows).
    """
    return path_bounds_exact(src, path, ctx)[:4]


def path_bounds_exact(src: str, path: list[Any], ctx: EvalContext):
    """path_bounds plus a flag: True when every conjunct was a bound on `path`."""
    try:
        root = parse(src)
    except ExpressionError:
        return None, True, None, True, False
    return _node_bounds(root, path, ctx)


def _node_bounds(node, path: list[Any], ctx: EvalContext):
    """(lo, lo_incl, hi, hi_incl, exact) for one parsed filter; see path_bounds_exact."""
    lo = hi = None
    lo_incl = hi_incl = True
    exact = True
    for c in _conjuncts(node):
        exact_before = exact
        exact = False
        if c[0] == "bin" and c[1] == "||":
            # a disjunction bounds `path` by the hull of its branches' bounds (never exactly)
            u_lo, u_lo_incl, u_hi, u_hi_incl = _disjunction_bounds(c, path, ctx)
            bounds = []
            if u_lo is not None:
                bounds.append((">=" if u_lo_incl else ">", u_lo))
            if u_hi is not None:
                bounds.append(("<=" if u_hi_incl else "<", u_hi))
        elif c[0] != "bin" or c[1] not in _FLIP:
            continue
        else:
            op, a, b = c[1], c[2], c[3]
            if a[0] == "path" and a[1] == path:
                other = b
            elif b[0] == "path" and b[1] == path:
                other, op = a, _FLIP[op]
            else:
                continue
            try:
                v = _const_value(other, ctx)
            except (LookupError, ExpressionError):
                continue
            if isinstance(v, bool) or not (_is_num(v) or isinstance(v, str)):
                continue
            bounds = [(op, v)]
            exact = exact_before
        for op, v in bounds:
            if (lo is not None and not _ordered(lo, v)) or (hi is not None and not _ordered(hi, v)):
                continue
            if op in (">", ">=", "==") and (
                lo is None or (_ordered(lo, v) and (v > lo or (v == lo and op == ">")))
            ):
                lo, lo_incl = v, op != ">"
            if op in ("<", "<=", "==") and (
                hi is None or (_ordered(hi, v) and (v < hi or (v == hi and op == "<")))
            ):
                hi, hi_incl = v, op != "<"
    return lo, lo_incl, hi, hi_incl, exact


def _disjuncts(node):
    if node[0] == "bin" and node[1] == "||":
        yield from _disjuncts(node[2])
        yield from _disjuncts(node[3])
    else:
        yield node


def _disjunction_bounds(node, path: list[Any], ctx: EvalContext):
    """(lo, lo_incl, hi, hi_incl) holding for every row that passes any branch of `node`:
    the loosest of the branches' bounds; None where a branch leaves that side open."""
    lo = hi = None
    lo_incl = hi_incl = True
    lo_open = hi_open = False
    for n, branch in enumerate(_disjuncts(node)):
        b_lo, b_lo_incl, b_hi, b_hi_incl, _ = _node_bounds(branch, path, ctx)
        if n == 0:
            lo, lo_incl, hi, hi_incl = b_lo, b_lo_incl, b_hi, b_hi_incl
            lo_open, hi_open = b_lo is None, b_hi is None
            continue
        if not lo_open:
            if b_lo is None or not _ordered(lo, b_lo):
                lo_open = True
            elif b_lo < lo or (b_lo == lo and b_lo_incl):
                lo, lo_incl = b_lo, b_lo_incl
        if not hi_open:
            if b_hi is None or not _ordered(hi, b_hi):
                hi_open = True
            elif b_hi > hi or (b_hi == hi and b_hi_incl):
                hi, hi_incl = b_hi, b_hi_incl
    return (None if lo_open else lo, lo_incl, None if hi_open else hi, hi_incl)
