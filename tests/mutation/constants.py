"""Mutants of module-level constants, which mutmut 3 leaves alone (it mutates function bodies only).

The allow-lists and patterns where a silent regression would hide live in constants: the guard's
read verbs, the secret-name patterns, the containment order, the verifier's timing slack. Each
module-level assignment is mutated mechanically, the way mutmut mutates code, plus the hand-made
mutants a module's plan adds:

* a tuple, list or set literal (also inside ``frozenset(...)``/``tuple(...)``): each element dropped;
* a number: ``n + 1``, ``n - 1`` and ``0``; inside ``timedelta(...)`` as well;
* an identifier-like string (no whitespace): ``"XX" + s + "XX"``; prose (messages) is not mutated;
* a ``re.compile`` pattern: each alternative of each ``(a|b|c)`` group dropped, each ``?`` after a
  character or group removed (the optional part made required), each ``{m,}`` bound moved by one,
  and each flag argument removed.

A mutant is the module's source with one expression's text replaced: the rest of the file is
byte-for-byte the original, so a mutant that no longer compiles is a bug here, not a kill.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

_COLLECTION_CALLS = frozenset({"frozenset", "set", "tuple", "list"})


@dataclass(frozen=True, slots=True)
class Mutant:
    path: str
    """The module, relative to the project root."""
    name: str
    """Stable id: ``<CONSTANT>:<what was done>``."""
    source: str
    """The whole mutated module."""
    line: int


@dataclass(frozen=True, slots=True)
class HandMutant:
    """A hand-made mutant of a collection constant: ``element`` (Python source) appended to it
    (``op="add"``), or one of its elements moved to its end (``op="last"``)."""

    name: str
    constant: str
    op: str
    element: str


def _offsets(source: str) -> list[int]:
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def _span(starts: list[int], node: ast.AST) -> tuple[int, int]:
    assert node.end_lineno is not None and node.end_col_offset is not None
    # ast columns are UTF-8 byte offsets; the modules mutated here are ASCII in their constants,
    # and _replace checks that the text it cuts out is the node's own.
    return starts[node.lineno - 1] + node.col_offset, starts[node.end_lineno - 1] + node.end_col_offset


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return ""


def regex_variants(pattern: str) -> Iterator[tuple[str, str]]:
    """(what, mutated pattern) for a regular expression's text: alternatives dropped, optional
    parts made required, ``{m,}`` bounds moved. Escapes and character classes are respected."""
    groups: list[list[int]] = []  # per open group: [start, bar positions...]
    alternations: list[tuple[int, list[int], int]] = []
    i, depth_class = 0, False
    top_bars: list[int] = []
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if depth_class:
            if ch == "]":
                depth_class = False
            i += 1
            continue
        if ch == "[":
            depth_class = True
            i += 1
            if i < len(pattern) and pattern[i] == "^":
                i += 1
            if i < len(pattern) and pattern[i] == "]":
                i += 1
            continue
        if ch == "(":
            groups.append([i])
        elif ch == ")" and groups:
            start, *bars = groups.pop()
            if bars:
                alternations.append((start, bars, i))
        elif ch == "|":
            (groups[-1] if groups else top_bars).append(i)
        elif ch == "?" and i > 0 and pattern[i - 1] not in "(?*+}" and pattern[i - 1] != "\\":
            yield f"required {pattern[max(0, i - 8) : i]!r} at {i}", pattern[:i] + pattern[i + 1 :]
        i += 1
    if top_bars:
        alternations.append((-1, top_bars, len(pattern)))
    for start, bars, end in alternations:
        body_start = start + 1
        if start >= 0 and pattern.startswith("(?", start):
            colon = pattern.find(":", start)
            if colon == -1 or colon > bars[0]:
                continue  # a lookaround or inline-flag group: leave it
            body_start = colon + 1
        cuts = [body_start - 1, *bars, end]
        for k in range(len(cuts) - 1):
            alt = pattern[cuts[k] + 1 : cuts[k + 1]]
            if k == 0:
                mutated = pattern[:body_start] + pattern[cuts[1] + 1 :]
            else:
                mutated = pattern[: cuts[k]] + pattern[cuts[k + 1] :]
            yield f"without {alt.strip()!r} at {cuts[k] + 1}", mutated
    flags = re.match(r"\(\?([a-zA-Z]+)\)", pattern)
    if flags:
        for letter in flags.group(1):
            rest = flags.group(1).replace(letter, "")
            group = f"(?{rest})" if rest else ""
            yield f"inline flag {letter} dropped", group + pattern[flags.end() :]
    for m in re.finditer(r"(?<!\\)\{(\d+),(\d*)\}", pattern):
        low = int(m.group(1))
        for new in (low + 1, low - 1):
            if new >= 0:
                repl = "{" + f"{new},{m.group(2)}" + "}"
                yield f"{m.group(0)} -> {repl}", pattern[: m.start()] + repl + pattern[m.end() :]


def _string_literal(value: str) -> str:
    return repr(value)


class _Generator:
    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.source = source
        self.starts = _offsets(source)
        self.out: list[Mutant] = []

    def _replace(self, const: str, what: str, node: ast.AST, text: str) -> None:
        start, end = _span(self.starts, node)
        original = ast.get_source_segment(self.source, node)
        assert original is not None and self.source[start:end] == original, (self.path, const, what)
        mutated = self.source[:start] + text + self.source[end:]
        compile(mutated, self.path, "exec")  # a mutant that does not compile is a generator bug
        self.out.append(Mutant(self.path, f"{const}:{what}", mutated, node.lineno))

    def _drop(self, const: str, node: ast.AST, elts: list[ast.expr], open_: str, close: str) -> None:
        for k, elt in enumerate(elts):
            rest = [ast.get_source_segment(self.source, e) or "" for j, e in enumerate(elts) if j != k]
            body = ", ".join(rest)
            if open_ == "(" and len(rest) == 1:
                body += ","
            text = "set()" if open_ == "{" and not rest else f"{open_}{body}{close}"
            label = ast.get_source_segment(self.source, elt) or str(k)
            self._replace(const, f"drop {label}", node, text)

    def expr(self, const: str, node: ast.expr) -> None:
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            open_, close = {"Tuple": ("(", ")"), "List": ("[", "]"), "Set": ("{", "}")}[type(node).__name__]
            self._drop(const, node, list(node.elts), open_, close)
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            self._replace(const, f"{node.value} -> {not node.value}", node, repr(not node.value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            for new in dict.fromkeys((node.value + 1, node.value - 1, 0)):
                if new != node.value:
                    self._replace(const, f"{node.value} -> {new}", node, repr(new))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value and not re.search(r"\s", node.value):
                self._replace(const, f"{node.value!r} -> XX", node, _string_literal("XX" + node.value + "XX"))
        elif isinstance(node, ast.BinOp):
            self.expr(const, node.left)
            self.expr(const, node.right)
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            if name in _COLLECTION_CALLS or name == "timedelta":
                for arg in node.args:
                    self.expr(const, arg)
                for kw in node.keywords:
                    self.expr(const, kw.value)
            elif name == "re.compile" and node.args:
                self._regex(const, node)

    def _regex(self, const: str, node: ast.Call) -> None:
        arg = node.args[0]
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            return
        segment = ast.get_source_segment(self.source, arg) or ""
        raw = segment.lstrip("rRbBuU")
        if not segment[: len(segment) - len(raw)].lower().startswith("r") and "\\" in arg.value:
            return  # only raw (or escape-free) patterns are rewritten textually
        quote = raw[:3] if raw[:3] in ('"""', "'''") else raw[0]
        body = raw[len(quote) : -len(quote)]
        assert body == arg.value, (self.path, const)
        for what, mutated in regex_variants(body):
            self._replace(const, f"regex {what}", arg, f"r{quote}{mutated}{quote}")
        for k in range(1, len(node.args)):
            self._replace(const, "regex flags dropped", node.args[k], "0")

    def _assignments(self) -> Iterator[tuple[str, ast.expr]]:
        for stmt in ast.parse(self.source).body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                yield stmt.targets[0].id, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                yield stmt.target.id, stmt.value

    def module(self) -> list[Mutant]:
        for name, value in self._assignments():
            if not name.startswith("__"):
                self.expr(name, value)
        return self.out

    def hand(self, h: HandMutant) -> None:
        values = dict(self._assignments())
        node = values.get(h.constant)
        while isinstance(node, ast.Call) and _call_name(node) in _COLLECTION_CALLS and node.args:
            node = node.args[0]
        if not isinstance(node, ast.Tuple | ast.List | ast.Set):
            raise ValueError(f"{self.path}: hand-made mutant {h.name!r}: no collection constant {h.constant}")
        elements = [ast.get_source_segment(self.source, e) or "" for e in node.elts]
        if h.op == "add":
            elements.append(h.element)
        elif h.op == "last" and h.element in elements:
            elements.remove(h.element)
            elements.append(h.element)
        else:
            raise ValueError(f"{self.path}: hand-made mutant {h.name!r}: {h.element} is not in {h.constant}")
        open_, close = {"Tuple": ("(", ")"), "List": ("[", "]"), "Set": ("{", "}")}[type(node).__name__]
        self._replace(f"hand:{h.constant}", h.name, node, f"{open_}{', '.join(elements)}{close}")


def constant_mutants(path: str, source: str, hand: tuple[HandMutant, ...] = ()) -> list[Mutant]:
    """Every mechanical mutant of ``source``'s module-level constants, then the hand-made ones."""
    generator = _Generator(path, source)
    generator.module()
    for h in hand:
        generator.hand(h)
    return generator.out
