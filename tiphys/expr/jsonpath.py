"""A small JSONPath evaluator for Argo's `jsonpath(json, path)` expression function.

Argo uses PaesslerAG/jsonpath: `$`, `.key`, `['key']`, `[n]`, `[*]`, `..key`, unions,
slices `[0:2]` and filters `[?(@.age > 42 && @.name == 'x')]`.  A path made only of
plain keys/indices yields one value (a missing key is an error); any wildcard, slice,
union, filter or recursive step yields a list of matches, like the Go library.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from tiphys.errors import ExpressionError
from tiphys.expr.exprvalues import compare, equal, is_number, regex, slice_of

_MISSING = object()
_NAME = re.compile(r"[A-Za-z0-9_$\-]+|\*")
_FILTER_TOKEN = re.compile(r"\s*(?:(&&|\|\||==|!=|<=|>=|=~|[<>!()])|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
                           r"|'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|(true|false|null)\b|([@$]))")
_MAX_DEPTH = 64


@dataclass(frozen=True)
class _Step:
    kind: str  # key, index, wild, slice, union, filter, descend
    arg: Any = None


def query(document: Any, path: str) -> Any:
    """Evaluate `path` against `document`."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise ExpressionError(f"jsonpath: path must start with '$': {path!r}")
    steps, end = _parse_steps(path, 1)
    if end != len(path):
        raise ExpressionError(f"jsonpath: unexpected {path[end]!r} at position {end} in {path!r}")
    matches = _run(steps, [document], document)
    if any(step.kind not in ("key", "index") for step in steps):
        return [m for m in matches if m is not _MISSING]
    if not matches or matches[0] is _MISSING:
        raise ExpressionError(f"jsonpath: unknown key in {path!r}")
    return matches[0]


def _parse_steps(path: str, pos: int, depth: int = 0) -> tuple[list[_Step], int]:
    if depth > _MAX_DEPTH:
        raise ExpressionError("jsonpath: path is nested too deeply")
    steps: list[_Step] = []
    while pos < len(path):
        if path.startswith("..", pos):
            step, pos = _bracket(path, pos + 2, depth) if path[pos + 2:pos + 3] == "[" else _dotted(path, pos + 2)
            steps.append(_Step("descend", step))
        elif path[pos] == ".":
            step, pos = _dotted(path, pos + 1)
            steps.append(step)
        elif path[pos] == "[":
            step, pos = _bracket(path, pos, depth)
            steps.append(step)
        else:
            break
    return steps, pos


def _dotted(path: str, pos: int) -> tuple[_Step, int]:
    name = _NAME.match(path, pos)
    if not name:
        raise ExpressionError(f"jsonpath: expected a name at position {pos} in {path!r}")
    text = name.group(0)
    return (_Step("wild") if text == "*" else _Step("key", text)), name.end()


def _bracket(path: str, pos: int, depth: int) -> tuple[_Step, int]:
    close = path.find("]", pos)
    if path.startswith("[?(", pos):
        parser = _FilterParser(path, pos + 3, depth)
        predicate = parser.disjunction()
        parser.expect(")")
        if not path.startswith("]", parser.pos):
            raise ExpressionError(f"jsonpath: expected ']' at position {parser.pos} in {path!r}")
        return _Step("filter", predicate), parser.pos + 1
    if close < 0:
        raise ExpressionError(f"jsonpath: unclosed '[' at position {pos} in {path!r}")
    body = path[pos + 1:close].strip()
    return _selector(body, path), close + 1


def _selector(body: str, path: str) -> _Step:
    if body == "*":
        return _Step("wild")
    parts = [p.strip() for p in body.split(",")]
    if len(parts) > 1:
        return _Step("union", [_selector(p, path) for p in parts])
    if ":" in body:
        bounds = [b.strip() for b in body.split(":")]
        if len(bounds) != 2 or not all(b == "" or re.fullmatch(r"-?\d+", b) for b in bounds):
            raise ExpressionError(f"jsonpath: bad slice [{body}] in {path!r}")
        return _Step("slice", tuple(int(b) if b else None for b in bounds))
    if re.fullmatch(r"-?\d+", body):
        return _Step("index", int(body))
    if len(body) >= 2 and body[0] == body[-1] and body[0] in "'\"":
        return _Step("key", body[1:-1])
    raise ExpressionError(f"jsonpath: bad selector [{body}] in {path!r}")


def _run(steps: list[_Step], values: list[Any], root: Any) -> list[Any]:
    for step in steps:
        values = [out for value in values if value is not _MISSING for out in _apply(step, value, root)]
    return values


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, list) else []


def _apply(step: _Step, value: Any, root: Any) -> list[Any]:
    if step.kind == "key":
        return [value.get(step.arg, _MISSING) if isinstance(value, dict) else _MISSING]
    if step.kind == "index":
        ok = isinstance(value, list) and -len(value) <= step.arg < len(value)
        return [value[step.arg] if ok else _MISSING]
    if step.kind == "wild":
        return _children(value)
    if step.kind == "slice":
        return list(slice_of(value, *step.arg)) if isinstance(value, list) else []
    if step.kind == "union":
        return [out for part in step.arg for out in _apply(part, value, root)]
    if step.kind == "filter":
        return [child for child in _children(value) if _truthy(step.arg(child, root))]
    return [out for node in _descendants(value) for out in _apply(step.arg, node, root) if out is not _MISSING]


def _descendants(value: Any) -> list[Any]:
    out, stack = [], [value]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(_children(node)))
    return out


_Expr = Callable[[Any, Any], Any]


class _FilterParser:
    """Recursive descent over a filter body; builds closures taking (current, root)."""

    def __init__(self, path: str, pos: int, depth: int):
        self.path, self.pos, self.depth = path, pos, depth

    def peek(self) -> re.Match[str] | None:
        return _FILTER_TOKEN.match(self.path, self.pos)

    def accept(self, op: str) -> bool:
        token = self.peek()
        if token and token.group(1) == op:
            self.pos = token.end()
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.accept(op):
            raise ExpressionError(f"jsonpath: expected {op!r} at position {self.pos} in {self.path!r}")

    def disjunction(self) -> _Expr:
        left = self.conjunction()
        while self.accept("||"):
            left = (lambda a, b: lambda c, r: _truthy(a(c, r)) or _truthy(b(c, r)))(left, self.conjunction())
        return left

    def conjunction(self) -> _Expr:
        left = self.negation()
        while self.accept("&&"):
            left = (lambda a, b: lambda c, r: _truthy(a(c, r)) and _truthy(b(c, r)))(left, self.negation())
        return left

    def negation(self) -> _Expr:
        if self.accept("!"):
            inner = self.negation()
            return lambda c, r: not _truthy(inner(c, r))
        return self.comparison()

    def comparison(self) -> _Expr:
        left = self.operand()
        token = self.peek()
        if token and token.group(1) in ("==", "!=", "<", "<=", ">", ">=", "=~"):
            self.pos = token.end()
            op, right = token.group(1), self.operand()
            return lambda c, r: _compare(op, left(c, r), right(c, r))
        return left

    def operand(self) -> _Expr:
        token = self.peek()
        if token is None:
            raise ExpressionError(f"jsonpath: bad filter at position {self.pos} in {self.path!r}")
        self.pos = token.end()
        if token.group(1) == "(":
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise ExpressionError("jsonpath: filter is nested too deeply")
            inner = self.disjunction()
            self.expect(")")
            self.depth -= 1
            return inner
        return self.literal_or_path(token)

    def literal_or_path(self, token: re.Match[str]) -> _Expr:
        number, single, double, word, anchor = token.group(2, 3, 4, 5, 6)
        if number is not None:
            value: Any = float(number)
        elif single is not None or double is not None:
            value = re.sub(r"\\(.)", r"\1", single if single is not None else double)
        elif word is not None:
            value = {"true": True, "false": False, "null": None}[word]
        elif anchor is not None:
            steps, self.pos = _parse_steps(self.path, self.pos, self.depth + 1)
            relative = anchor == "@"
            return lambda c, r: (_run(steps, [c if relative else r], r) or [_MISSING])[0]
        else:
            raise ExpressionError(f"jsonpath: unexpected {token.group(1)!r} in filter of {self.path!r}")
        return lambda c, r: value


def _truthy(value: Any) -> bool:
    return value is not _MISSING and value is not None and value is not False


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is _MISSING or right is _MISSING:
        return op == "!="
    if op == "==":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    if op == "=~":
        return isinstance(left, str) and isinstance(right, str) and bool(regex(right).search(left))
    same = (is_number(left) and is_number(right)) or (isinstance(left, str) and isinstance(right, str))
    return same and compare(op, left, right)
