"""Mutation testing of the limiter port kit: do the conformance vectors alone catch a faulty port?

    .venv/bin/python -m vectors.mutation                      # the report
    .venv/bin/python -m vectors.mutation --file ticks.py --operator cmp
    .venv/bin/python -m vectors.mutation --jobs 2 --min-score 95   # a gate, when asked

Each mutant is one small, plausible porting mistake in firmware_model/limiter.py or the
modules it takes its arithmetic from, ticks.py and crc.py (a comparison off by one, a constant
or an index off by one, an operator or a sign swapped, a statement, return or `continue`
dropped). It is applied to the module's syntax tree, compiled and exec'd as a fresh module, and
run against every vector of vectors/limiter/*.json with vectors/limiter_runner.py, exactly as a
port's harness would. A crc.py mutant that survives on CPython's path runs again as on a port
(binascii not importable: the nibble table a port implements). A mutant is killed when some vector's results differ from the recorded ones, or when it raises or
runs away (reported separately: a port that crashes fails its vectors too). Mutants that no
vector within the limiter's contract can tell from the original are listed, with a reason, in
vectors/mutation_equivalents.json and docs/limiter.md "Mutation testing" (which also says why
this is a mutator of our own and not mutmut or cosmic-ray).

The score is killed / (generated - known equivalent). This is a report, not a timed test:
exit status 0 unless it cannot run (2), or the score is below --min-score (1).
"""

from __future__ import annotations

import argparse
import ast
import builtins
import io
import json
import multiprocessing
import re
import signal
import sys
import time
import tokenize
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectors.limiter_runner import run_vector

ROOT = Path(__file__).resolve().parent.parent
# limiter.py and the modules it takes its arithmetic from: a port reimplements all of them. A
# mutated helper module replaces the names limiter.py imported from it.
SOURCES = {name: ROOT / "firmware_model" / name for name in ("limiter.py", "ticks.py", "crc.py")}
# What a port lacks that CPython gives a helper module: crc.py takes binascii.crc_hqx when it
# can, so on CPython its nibble table -- the CRC a port implements -- never runs. Its mutants are
# also run with these imports failing, as they do on the micro:bit, to mutate the port's path.
PORT_LACKS = {"crc.py": ("binascii",)}
VECTORS = ROOT / "vectors" / "limiter"
EQUIVALENTS = ROOT / "vectors" / "mutation_equivalents.json"

OPERATORS = ("cmp", "const", "arith", "bool", "not", "index", "return", "flow", "stmt")

# -- mutation operators ------------------------------------------------------------------------
# Each models a porting mistake, not an arbitrary edit: an off-by-one comparison or constant,
# the neighbouring operator, a forgotten statement.

_CMP: dict[type, tuple[type, ...]] = {
    ast.Lt: (ast.LtE,), ast.LtE: (ast.Lt,), ast.Gt: (ast.GtE,), ast.GtE: (ast.Gt,),
    ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
}
_ARITH: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.FloorDiv: (ast.Mod,), ast.Mod: (ast.FloorDiv,),
    ast.LShift: (ast.RShift,), ast.RShift: (ast.LShift,), ast.BitAnd: (ast.BitOr,),
    ast.BitOr: (ast.BitAnd,), ast.BitXor: (ast.BitOr,),
}
_BOOL: dict[type, type] = {ast.And: ast.Or, ast.Or: ast.And}
# Subscripts of these are dict lookups by key, not index arithmetic.
_DICTS = frozenset(("_RANGES", "_MODES", "d"))


@dataclass(frozen=True)
class Mutant:
    """One mutant, keyed as the equivalents file keys it (no line numbers: the files move)."""

    file: str  # "limiter.py", "ticks.py", ...
    function: str  # enclosing qualname, "<module>" at top level
    operator: str
    line: int  # for the report only
    original: str  # the enclosing statement (header line of a compound one), unparsed
    mutated: str  # the same after the mutation
    occurrence: int  # 1-based among mutants with the same file, function, original, mutated
    index: int  # position in this file's generation order (for workers)

    def key(self) -> tuple[str, str, str, str]:
        return (self.file, self.function, self.original, self.mutated)

    def describe(self) -> str:
        return f"firmware_model/{self.file}:{self.line}: {self.original} -> {self.mutated}"


_SYMBOL: dict[type, str] = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+",
    ast.Sub: "-", ast.FloorDiv: "//", ast.Mod: "%", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.And: "and", ast.Or: "or",
}

Edit = tuple[int, int, str]  # replace source[start:end] with the text


@dataclass
class _Site:
    operator: str
    function: str
    stmt: ast.stmt  # the enclosing statement
    line: int  # where the mutated node starts
    context: tuple[int, int]  # the source span the report shows
    edits: list[Edit]  # the mutation as a text edit of that span (for the report and the key)
    apply: Callable[[], None]  # the mutation itself, on the tree
    undo: Callable[[], None]


class _Source:
    """Source text with positions as ast gives them, comments and line joins blanked out."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = [0]
        for line in text.splitlines(keepends=True):
            self._starts.append(self._starts[-1] + len(line))
        blank = list(text)
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                a, b = self.at(*tok.start, chars=True), self.at(*tok.end, chars=True)
                blank[a:b] = " " * (b - a)
        self.bare = "".join(blank).replace("\\\n", "  ")

    def at(self, lineno: int, col: int, chars: bool = False) -> int:
        start = self._starts[lineno - 1]
        if not chars:  # ast columns count UTF-8 bytes
            line = self.text[start:self._starts[lineno]]
            col = len(line.encode()[:col].decode(errors="ignore"))
        return start + col

    def span(self, node: Any) -> tuple[int, int]:
        return self.at(node.lineno, node.col_offset), self.at(node.end_lineno, node.end_col_offset)

    def find(self, a: int, b: int, symbol: str) -> Edit:
        """The operator `symbol` in the gap source[a:b] between two operands."""
        gap = self.bare[a:b]
        pat = r"\s+".join(re.escape(w) for w in symbol.split())
        if symbol.isalpha() or " " in symbol:
            pat = rf"\b{pat}\b"
        else:  # "<" must not match inside "<<" or "<=", "-" not inside "-="
            pat = rf"(?<![<>=!/*%&|^+-]){pat}(?![<>=/*%&|^+-])"
        m = re.search(pat, gap)
        if m is None:
            raise ValueError(f"no {symbol!r} between offsets {a} and {b}")
        return (a + m.start(), a + m.end(), symbol)

    def show(self, span: tuple[int, int], edits: list[Edit]) -> str:
        a, b = span
        out, pos = [], a
        for ea, eb, text in sorted(edits):
            out += [self.bare[pos:ea], text]
            pos = eb
        out.append(self.bare[pos:b])
        return " ".join("".join(out).split())


def _located(new: ast.AST, old: ast.AST) -> ast.AST:
    ast.copy_location(new, old)
    return ast.fix_missing_locations(new)


def _fresh(cls: type) -> Callable[[Any], Any]:
    return lambda cur: cls()  # ast operators are bare nodes: a new one replaces the old


def _constant(n: int) -> Callable[[Any], Any]:
    return lambda cur: _located(ast.Constant(n), cur)


def _offset(sign: type) -> Callable[[Any], Any]:
    return lambda cur: _located(ast.BinOp(left=cur, op=sign(), right=ast.Constant(1)), cur)


def _int_value(node: ast.AST) -> int | None:
    """The value of an int literal, `-literal` included (a port writes -1, not -(1))."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int):
        return -node.operand.value
    return None


def _literal(value: int, like: str) -> str:
    """value written as the literal `like` was (hex stays hex, same case and width)."""
    body = like.lstrip("-")
    if body[:2].lower() != "0x":
        return str(value)
    digits = f"{abs(value):0{len(body) - 2}x}"
    if body[2:] != body[2:].lower():
        digits = digits.upper()
    return ("-" if value < 0 else "") + body[:2] + digits


class _Collector:
    """Walks one module's tree and records every mutation site, in source order."""

    def __init__(self, tree: ast.Module, src: _Source) -> None:
        self.src = src
        self.sites: list[_Site] = []
        self._visit_body(tree, "body", "<module>", top=True)

    def _context(self, stmt: ast.stmt, node: Any) -> tuple[int, int]:
        # A simple statement whole; a compound one by its header; a long statement spread over
        # lines (a table) by the lines of the mutated node.
        a, b = self.src.span(stmt)
        body = getattr(stmt, "body", None)
        if isinstance(body, list) and body:
            b = self.src.at(body[0].lineno, 0)
        if node is not stmt and stmt.lineno != stmt.end_lineno and node.lineno == node.end_lineno:
            if len(" ".join(self.src.bare[a:b].split())) > 100:
                line = self.src.at(node.lineno, 0)
                end = self.src.at(node.lineno + 1, 0) - 1
                text = self.src.bare[line:end]
                a = max(a, line + len(text) - len(text.lstrip()))
                b = min(b, end)
        return a, b

    def _site(self, op: str, fn: str, stmt: ast.stmt, node: Any, parent: Any, field: str,
              idx: int | None, make: Callable[[Any], Any], edits: list[Edit]) -> None:
        state: list[Any] = []

        def get() -> Any:
            return getattr(parent, field) if idx is None else getattr(parent, field)[idx]

        def put(v: Any) -> None:
            if idx is None:
                setattr(parent, field, v)
            else:
                getattr(parent, field)[idx] = v

        def apply() -> None:
            old = get()
            state.append(old)
            put(make(old))

        def undo() -> None:
            put(state.pop())

        self.sites.append(_Site(op, fn, stmt, node.lineno, self._context(stmt, node), edits,
                                apply, undo))

    def _visit_body(self, parent: Any, field: str, fn: str, top: bool = False) -> None:
        for k, stmt in enumerate(getattr(parent, field)):
            if top and isinstance(stmt, ast.Try):
                continue  # module-level try/except: the CPython/MicroPython import shims
            if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str)):
                continue  # docstring
            if isinstance(stmt, ast.Raise):
                continue  # what is raised is checked by type; its message is not the port's
            self._visit_stmt(parent, field, k, stmt, fn)

    def _visit_stmt(self, parent: Any, field: str, k: int, stmt: ast.stmt, fn: str) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            inner = stmt.name if fn == "<module>" else f"{fn}.{stmt.name}"
            if isinstance(stmt, ast.FunctionDef):
                for j, d in enumerate(stmt.args.defaults):
                    self._visit_expr(stmt.args, "defaults", j, d, inner, stmt)
            self._visit_body(stmt, "body", inner)
            return
        # statement-level mutants first, then the expressions inside, in source order
        whole = self.src.span(stmt)

        def instead(text: str, make: Callable[[Any], Any], op: str) -> None:
            self._site(op, fn, stmt, stmt, parent, field, k, make, [whole + (text,)])

        def pass_(cur: Any) -> Any:
            return _located(ast.Pass(), cur)

        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)) or (
                isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
            instead("pass", pass_, "stmt")
        if isinstance(stmt, ast.Return):
            if stmt.value is None:
                instead("pass", pass_, "return")
            elif not (isinstance(stmt.value, ast.Constant) and stmt.value.value is None):
                instead("return None", lambda cur: _located(ast.Return(ast.Constant(None)), cur),
                        "return")
        if isinstance(stmt, (ast.Break, ast.Continue)):
            instead("pass", pass_, "flow")
        if isinstance(stmt, ast.AugAssign):
            gap = (self.src.span(stmt.target)[1], self.src.span(stmt.value)[0])
            for new_op in _ARITH.get(type(stmt.op), ()):
                e = self.src.find(*gap, _SYMBOL[type(stmt.op)] + "=")
                self._site("arith", fn, stmt, stmt, stmt, "op", None, _fresh(new_op),
                           [(e[0], e[1], _SYMBOL[new_op] + "=")])
        for name, value in ast.iter_fields(stmt):
            if name in ("body", "orelse", "finalbody"):
                continue
            if name == "handlers":
                for h in value:
                    self._visit_body(h, "body", fn)
                continue
            self._visit_field(stmt, name, value, fn, stmt)
        for name in ("body", "orelse", "finalbody"):
            if isinstance(getattr(stmt, name, None), list):
                self._visit_body(stmt, name, fn)

    def _visit_field(self, parent: Any, name: str, value: Any, fn: str, stmt: ast.stmt) -> None:
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.expr):
                    self._visit_expr(parent, name, i, item, fn, stmt)
        elif isinstance(value, ast.expr):
            self._visit_expr(parent, name, None, value, fn, stmt)

    def _visit_expr(self, parent: Any, field: str, idx: int | None, node: ast.expr, fn: str,
                    stmt: ast.stmt) -> None:
        src = self.src
        span = src.span(node)
        v = _int_value(node)
        if v is not None:
            for d in (1, -1):
                text = _literal(v + d, src.text[span[0]:span[1]])
                self._site("const", fn, stmt, node, parent, field, idx,
                           _constant(v + d),
                           [span + (text,)])
            return
        if isinstance(node, ast.Compare):
            operands = [node.left] + node.comparators
            for j, op in enumerate(node.ops):
                gap = (src.span(operands[j])[1], src.span(operands[j + 1])[0])
                e = src.find(*gap, _SYMBOL[type(op)])
                for new_op in _CMP.get(type(op), ()):
                    self._site("cmp", fn, stmt, node, node, "ops", j, _fresh(new_op),
                               [(e[0], e[1], _SYMBOL[new_op])])
        elif isinstance(node, ast.BinOp):
            if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
                return  # %-formatting of a message
            gap = (src.span(node.left)[1], src.span(node.right)[0])
            for new_op in _ARITH.get(type(node.op), ()):
                e = src.find(*gap, _SYMBOL[type(node.op)])
                self._site("arith", fn, stmt, node, node, "op", None, _fresh(new_op),
                           [(e[0], e[1], _SYMBOL[new_op])])
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            word = "-" if isinstance(node.op, ast.USub) else "not"
            assert src.text.startswith(word, span[0])
            end = span[0] + len(word)
            while src.text[end] == " ":
                end += 1
            self._site("arith" if word == "-" else "not", fn, stmt, node, parent, field, idx,
                       lambda cur: cur.operand, [(span[0], end, "")])
        elif isinstance(node, ast.BoolOp):
            new = _BOOL[type(node.op)]
            edits = []
            for x, y in zip(node.values, node.values[1:], strict=False):
                e = src.find(src.span(x)[1], src.span(y)[0], _SYMBOL[type(node.op)])
                edits.append((e[0], e[1], _SYMBOL[new]))
            self._site("bool", fn, stmt, node, node, "op", None, _fresh(new), edits)
        elif isinstance(node, ast.Subscript):
            s = node.slice
            plain = not isinstance(s, ast.Slice) and _int_value(s) is None and not (
                isinstance(s, ast.BinOp) and isinstance(s.op, (ast.Add, ast.Sub))
                and (_int_value(s.left) is not None or _int_value(s.right) is not None))
            if plain and not (isinstance(node.value, ast.Name) and node.value.id in _DICTS):
                end = src.span(s)[1]
                for sign in (ast.Add, ast.Sub):
                    self._site("index", fn, stmt, node, node, "slice", None, _offset(sign),
                               [(end, end, f" {_SYMBOL[sign]} 1")])
        for name, value in ast.iter_fields(node):
            self._visit_field(node, name, value, fn, stmt)


# -- generating mutants ------------------------------------------------------------------------


class Mutator:
    """The mutants of one source file, each compilable on demand."""

    def __init__(self, name: str, source: str | None = None) -> None:
        self.name = name
        self.path = SOURCES[name]
        self.source = source if source is not None else self.path.read_text()
        self.tree = ast.parse(self.source, str(self.path))
        src = _Source(self.source)
        self._sites = _Collector(self.tree, src).sites
        self.mutants: list[Mutant] = []
        seen: dict[tuple[str, str, str, str], int] = {}
        for i, site in enumerate(self._sites):
            original = src.show(site.context, [])
            mutated = src.show(site.context, site.edits)
            key = (name, site.function, original, mutated)
            seen[key] = seen.get(key, 0) + 1
            self.mutants.append(Mutant(name, site.function, site.operator, site.line,
                                       original, mutated, seen[key], i))

    def compile(self, index: int | None) -> types.CodeType:
        """The module's code with mutant `index` applied (None: the original)."""
        if index is None:
            return compile(self.tree, str(self.path), "exec")
        site = self._sites[index]
        site.apply()
        try:
            return compile(self.tree, str(self.path), "exec")
        finally:
            site.undo()


# -- running mutants against the vectors ------------------------------------------------------


class _Runaway(BaseException):
    """Raised into a mutant that takes too long or pops summaries without end (a hang).

    A BaseException, so that no `except ValueError` in the limiter or the runner can swallow it.
    """


POP_BUDGET = 200000  # pop_summary calls per mutant: far above any vector, far below a hang


def _guarded(mod: types.ModuleType, budget: list[int]) -> types.SimpleNamespace:
    base = mod.Limiter

    class Limiter(base):  # type: ignore[misc,valid-type]
        def pop_summary(self) -> Any:
            budget[0] -= 1
            if budget[0] < 0:
                raise _Runaway("pop_summary never returns None")
            return base.pop_summary(self)

    return types.SimpleNamespace(Config=mod.Config, Limiter=Limiter,
                                 SnapshotError=getattr(mod, "SnapshotError", None),
                                 crc16=getattr(mod, "crc16", None))


def load_vectors(folder: Path = VECTORS) -> list[dict[str, Any]]:
    """Every vector, cheapest first (the kill comes sooner; the order is fixed)."""
    vs = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    return sorted(vs, key=lambda v: (len(v.get("events", ())), v["name"]))


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Runaway("time limit")


@dataclass(frozen=True)
class Outcome:
    status: str  # "killed", "raised", "import", "timeout", "survived"
    vector: str = ""  # the vector that told it apart
    detail: str = ""


def _builtins_without(lacking: tuple[str, ...]) -> dict[str, Any]:
    """The builtins of a module whose imports of `lacking` fail, as on a port without them."""
    real = builtins.__import__

    def import_(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.partition(".")[0] in lacking:
            raise ImportError(f"no module named {name!r} (as on a port)")
        return real(name, *args, **kwargs)

    return dict(vars(builtins), __import__=import_)


def run_module(limiter_code: types.CodeType, helper_code: types.CodeType | None,
               vectors: list[dict[str, Any]], limit_s: float,
               lacking: tuple[str, ...] = ()) -> Outcome:
    """Exec a (possibly mutated) limiter, and a mutated helper module (ticks.py, crc.py) if
    given, as fresh modules, the helper without the modules in `lacking`; run every vector."""
    budget = [POP_BUDGET]
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        try:
            mod = types.ModuleType("limiter_mutant")
            exec(limiter_code, mod.__dict__)
            if helper_code is not None:
                helper = types.ModuleType("helper_mutant")
                if lacking:
                    helper.__dict__["__builtins__"] = _builtins_without(lacking)
                exec(helper_code, helper.__dict__)
                for name, value in helper.__dict__.items():  # what limiter.py imported from it
                    if callable(value) and getattr(mod, name, None) is not None:
                        setattr(mod, name, value)
            lm = _guarded(mod, budget)
        except _Runaway:
            return Outcome("timeout", "", "on import")
        except Exception as e:
            return Outcome("import", "", f"{type(e).__name__}: {e}")
        for v in vectors:
            try:
                got = run_vector(v, lm)
            except _Runaway as e:
                return Outcome("timeout", v["name"], str(e))
            except Exception as e:
                return Outcome("raised", v["name"], f"{type(e).__name__}: {e}")
            for key, want in v["expect"].items():
                if got.get(key) != want:
                    return Outcome("killed", v["name"], key)
        return Outcome("survived")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Session:
    """Both files' mutants, the vectors and the time limit: what one process needs."""

    def __init__(self, vectors: Path = VECTORS, sources: dict[str, str] | None = None) -> None:
        self.vectors = load_vectors(vectors)
        self.mutators = {n: Mutator(n, (sources or {}).get(n)) for n in SOURCES}
        self._limiter = self.mutators["limiter.py"].compile(None)
        t0 = time.perf_counter()
        base = run_module(self._limiter, None, self.vectors, 60.0)
        self.baseline_s = time.perf_counter() - t0
        if base.status != "survived":
            raise RuntimeError(f"the unmutated limiter fails its vectors: {base.status} "
                               f"{base.vector} {base.detail}")
        # generous: a loaded machine, a mutant that takes a slower path; a hang is far beyond
        self.limit_s = max(5.0, 50 * self.baseline_s)
        for name, lacking in PORT_LACKS.items():
            if name in self.mutators:
                own = run_module(self._limiter, self.mutators[name].compile(None), self.vectors,
                                 self.limit_s, lacking)
                if own.status != "survived":
                    raise RuntimeError(f"the unmutated {name} without {', '.join(lacking)} fails "
                                       f"its vectors: {own.status} {own.vector} {own.detail}")

    def mutants(self, file: str | None = None, operator: str | None = None) -> list[Mutant]:
        out = []
        for name, m in self.mutators.items():
            if file is None or file == name:
                out += [x for x in m.mutants if operator is None or x.operator == operator]
        return out

    def run(self, mutant: Mutant | None) -> Outcome:
        """Run one mutant (None: the identity mutant, the code as it is)."""
        if mutant is None:
            return run_module(self._limiter, None, self.vectors, self.limit_s)
        code = self.mutators[mutant.file].compile(mutant.index)
        if mutant.file == "limiter.py":
            return run_module(code, None, self.vectors, self.limit_s)
        out = run_module(self._limiter, code, self.vectors, self.limit_s)
        lacking = PORT_LACKS.get(mutant.file, ())
        if out.status == "survived" and lacking:
            # killed on either path is killed: each path's code is some platform's CRC
            out = run_module(self._limiter, code, self.vectors, self.limit_s, lacking)
            if out.status != "survived":
                out = Outcome(out.status, out.vector, f"{out.detail} (without {', '.join(lacking)})")
        return out


# -- known equivalent mutants -----------------------------------------------------------------


def load_equivalents(path: Path = EQUIVALENTS) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    return list(data["equivalent"])


def match_equivalents(mutants: Iterable[Mutant], entries: list[dict[str, Any]]
                      ) -> tuple[dict[Mutant, dict[str, Any]], list[dict[str, Any]]]:
    """Which mutants the entries name, and which entries name none (stale: the code changed).

    An entry names every mutant with its file, function, original and mutated text, or only
    the n-th of them when it gives "occurrence". If its file has no such mutant, a function
    that moved to another file (crc16 to crc.py, say) is still found by the rest of the key.
    """
    by_key: dict[tuple[str, ...], list[Mutant]] = {}
    for m in mutants:
        by_key.setdefault(m.key(), []).append(m)
        by_key.setdefault(m.key()[1:], []).append(m)
    found: dict[Mutant, dict[str, Any]] = {}
    stale = []
    for e in entries:
        key = (e["file"], e["function"], e["original"], e["mutated"])
        ms = by_key.get(key) or by_key.get(key[1:], [])
        if "occurrence" in e:
            ms = [m for m in ms if m.occurrence == e["occurrence"]]
        if not ms:
            stale.append(e)
        for m in ms:
            found[m] = e
    return found, stale


# -- the report --------------------------------------------------------------------------------

_SESSION: Session | None = None


def _worker_init(vectors: str) -> None:
    global _SESSION
    _SESSION = Session(Path(vectors))


def _worker_run(m: Mutant) -> Outcome:
    assert _SESSION is not None
    return _SESSION.run(m)


def run_all(session: Session, mutants: list[Mutant], jobs: int, vectors: Path) -> Iterator[Outcome]:
    if jobs <= 1:
        for m in mutants:
            yield session.run(m)
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs, _worker_init, (str(vectors),)) as pool:
        yield from pool.imap(_worker_run, mutants, chunksize=8)


KILLED = ("killed", "raised", "import", "timeout")


def report(mutants: list[Mutant], outcomes: list[Outcome], equivalent: dict[Mutant, dict[str, Any]],
           stale: list[dict[str, Any]], out: Any) -> float:
    """Print the report; return the score in percent."""
    files = sorted({m.file for m in mutants})
    status = {}
    for m, o in zip(mutants, outcomes, strict=True):
        known = m in equivalent and o.status == "survived"
        status[m] = "equivalent" if known else ("killed" if o.status in KILLED else "survived")
    cols = files + ["total", "killed", "equiv", "survived"]
    out.write(f"{'operator':<9}" + "".join(f"{c:>11}" for c in cols) + "\n")
    for op in OPERATORS + ("total",):
        ms = [m for m in mutants if op in ("total", m.operator)]
        if not ms:
            continue
        row = [sum(1 for m in ms if m.file == f) for f in files] + [len(ms)]
        row += [sum(1 for m in ms if status[m] == s) for s in ("killed", "equivalent", "survived")]
        out.write(f"{op:<9}" + "".join(f"{x:>11}" for x in row) + "\n")
    n = {s: sum(1 for o in outcomes if o.status == s) for s in KILLED}
    killed = sum(1 for m in mutants if status[m] == "killed")
    n_eq = sum(1 for m in mutants if status[m] == "equivalent")
    survivors = [m for m in mutants if status[m] == "survived"]
    denom = len(mutants) - n_eq
    score = 100.0 * killed / denom if denom else 100.0
    out.write(f"\nmutants        {len(mutants):5}\n")
    out.write(f"killed         {killed:5}  (results differ {n['killed']}; raised {n['raised']}, "
              f"on import {n['import']}; ran away {n['timeout']})\n")
    out.write(f"equivalent     {n_eq:5}  (known: vectors/mutation_equivalents.json)\n")
    out.write(f"survived       {len(survivors):5}\n")
    out.write(f"score          {score:5.1f}%  killed / (mutants - equivalent) = "
              f"{killed} / {denom}\n")
    for m in mutants:
        if m in equivalent and status[m] == "killed":
            out.write(f"listed as equivalent but killed (fix the list): {m.describe()}\n")
    for e in stale:
        out.write(f"equivalent entry matches no mutant (fix the list): {e['file']} "
                  f"{e['function']}: {e['original']} -> {e['mutated']}\n")
    if survivors:
        out.write("\nsurvivors (no vector tells them apart):\n")
        for m in survivors:
            out.write(f"  {m.describe()}  [{m.operator}, {m.function}]\n")
    return score


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vectors.mutation",
                                 description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--file", choices=sorted(SOURCES), help="mutate only this file")
    ap.add_argument("--operator", choices=OPERATORS, help="only this mutation operator")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--list-survivors", action="store_true",
                    help="print only the surviving non-equivalent mutants, one JSON key per "
                    "line (the equivalents file's format)")
    ap.add_argument("--min-score", type=float, metavar="PCT",
                    help="exit 1 if the score is below PCT (a gate; default: report only)")
    ap.add_argument("--vectors", type=Path, default=VECTORS,
                    help="vector folder (default: %(default)s)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        session = Session(args.vectors)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"mutation: cannot run: {e}", file=sys.stderr)
        return 2
    mutants = session.mutants(args.file, args.operator)
    outcomes = list(run_all(session, mutants, args.jobs, args.vectors))
    equivalent, stale = match_equivalents(session.mutants(), load_equivalents())
    stale = [e for e in stale if args.file in (None, e["file"])]
    if args.list_survivors:
        for m, o in zip(mutants, outcomes, strict=True):
            if o.status == "survived" and m not in equivalent:
                print(json.dumps({"file": m.file, "function": m.function, "original": m.original,
                                  "mutated": m.mutated, "occurrence": m.occurrence,
                                  "line": m.line, "operator": m.operator}))
        return 0
    names = sorted({m.file for m in mutants})
    paths = ["firmware_model/" + n for n in names]
    what = " and ".join([", ".join(paths[:-1]), paths[-1]] if len(paths) > 2 else paths) or "nothing"
    print(f"Mutation testing of {what} against the {len(session.vectors)} vectors of "
          f"{args.vectors} alone")
    print(f"(ast mutants exec'd as fresh modules; time limit {session.limit_s:.1f} s per mutant)\n")
    score = report(mutants, outcomes, equivalent, stale, sys.stdout)
    jobs = f"{args.jobs} job" + ("" if args.jobs == 1 else "s")
    print(f"\ntime           {time.perf_counter() - t0:5.1f} s ({jobs})")
    if args.min_score is not None and score < args.min_score:
        print(f"score {score:.1f}% is below --min-score {args.min_score:.1f}%")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
