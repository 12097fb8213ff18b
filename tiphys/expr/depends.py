"""Argo's enhanced `depends` logic for DAG tasks.

`depends: "A && (B.Failed || !C.Succeeded)"` is a boolean over task results; a bare
name `A` means `A.Succeeded || A.Skipped || A.Daemoned` — that expansion is the
engine's job, done through the `operand(task, None)` callback.  The parse is cached
and validated here (only the result names Argo knows), so the engine never sees a
malformed dependency expression.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Union

from tiphys.errors import ExpressionError

RESULTS = frozenset({"Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned",
                     "AnySucceeded", "AllFailed"})
_TOKEN = re.compile(r"\s*(?:(&&|\|\||!|\(|\))|([A-Za-z0-9_-]+)(?:\.([A-Za-z0-9_]*))?)")
_MAX_NESTING = 100
Operand = Callable[[str, Union[str, None]], bool]


@dataclass(frozen=True)
class _Task:
    name: str
    result: str | None


@dataclass(frozen=True)
class _Not:
    operand: "_Node"


@dataclass(frozen=True)
class _Op:
    op: str
    left: "_Node"
    right: "_Node"


_Node = Union[_Task, _Not, _Op]
_Token = tuple[str, str, str | None]  # (kind "op"|"task"|"eof", text, result)


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while expression[pos:].strip():
        match = _TOKEN.match(expression, pos)
        if not match:
            raise ExpressionError(f"invalid character {expression[pos:].lstrip()[0]!r} in depends "
                                  f"{expression!r}")
        op, name, result = match.groups()
        if op:
            tokens.append(("op", op, None))
        else:
            if result is not None and result not in RESULTS:
                raise ExpressionError(f"unknown task result {result!r} in depends {expression!r}; "
                                      f"expected one of {', '.join(sorted(RESULTS))}")
            tokens.append(("task", name, result))
        pos = match.end()
    tokens.append(("eof", "", None))
    return tokens


class _Parser:
    """|| binds loosest, then &&, then !."""

    def __init__(self, tokens: list[_Token], expression: str):
        self.tokens, self.index, self.expression, self.nesting = tokens, 0, expression, 0

    def accept(self, op: str) -> bool:
        kind, text, _ = self.tokens[self.index]
        if kind == "op" and text == op:
            self.index += 1
            return True
        return False

    def fail(self) -> ExpressionError:
        kind, text, _ = self.tokens[self.index]
        found = "end of expression" if kind == "eof" else repr(text)
        return ExpressionError(f"unexpected {found} in depends {self.expression!r}")

    def disjunction(self) -> _Node:
        node = self.conjunction()
        while self.accept("||"):
            node = _Op("||", node, self.conjunction())
        return node

    def conjunction(self) -> _Node:
        node = self.negation()
        while self.accept("&&"):
            node = _Op("&&", node, self.negation())
        return node

    def negation(self) -> _Node:
        self.nesting += 1
        if self.nesting > _MAX_NESTING:
            raise ExpressionError(f"depends {self.expression!r} is nested too deeply")
        try:
            if self.accept("!"):
                return _Not(self.negation())
            if self.accept("("):
                node = self.disjunction()
                if not self.accept(")"):
                    raise self.fail()
                return node
            kind, text, result = self.tokens[self.index]
            if kind != "task":
                raise self.fail()
            self.index += 1
            return _Task(text, result)
        finally:
            self.nesting -= 1


@lru_cache(maxsize=1024)
def _parse_text(expression: str) -> _Node | None:
    tokens = _tokenize(expression)
    if len(tokens) == 1:
        return None
    parser = _Parser(tokens, expression)
    node = parser.disjunction()
    if tokens[parser.index][0] != "eof":
        raise parser.fail()
    return node


def _parse(expression: str) -> _Node | None:
    if not isinstance(expression, str):
        raise ExpressionError(f"depends must be a string, got {type(expression).__name__}")
    return _parse_text(expression)


def _names(node: _Node | None, out: set[str]) -> set[str]:
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, _Task):
            out.add(current.name)
        elif isinstance(current, _Not):
            stack.append(current.operand)
        else:
            stack.extend((current.left, current.right))
    return out


def task_names(expression: str) -> set[str]:
    """The tasks an expression depends on; raises ExpressionError on bad syntax."""
    return _names(_parse(expression), set())


def _evaluate(node: _Node, operand: Operand) -> bool:
    if isinstance(node, _Task):
        value = operand(node.name, node.result)
        if not isinstance(value, bool):
            raise ExpressionError(f"depends operand {node.name} did not yield a bool")
        return value
    if isinstance(node, _Not):
        return not _evaluate(node.operand, operand)
    left = _evaluate(node.left, operand)
    if left is (node.op == "||"):
        return left
    return _evaluate(node.right, operand)


def evaluate(expression: str, operand: Operand) -> bool:
    """Evaluate `expression`; an empty expression (no dependencies) is true."""
    node = _parse(expression)
    return True if node is None else _evaluate(node, operand)


def from_dependencies(dependencies: Iterable[str]) -> str:
    """The `depends` equivalent of a `dependencies: [A, B]` list: "A && B"."""
    return " && ".join(dependencies)
