"""Parser from expr-lang tokens to an immutable AST (precedence climbing, like expr's own).

Precedences, the `not in` family, chained comparisons, `??` mixing rules, closures
as predicate arguments (`filter(xs, # > 1)` or `{...}`), pipes and `let` follow
github.com/expr-lang/expr's parser so Argo expressions mean the same thing here.
Nesting is bounded so hostile input cannot exhaust the Python stack.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from tiphys.errors import ExpressionError
from tiphys.expr.exprlex import EOF, NAME, NUMBER, OP, STRING, Token, tokenize

BINARY = {"|": 0, "or": 10, "||": 10, "and": 15, "&&": 15,
          "==": 20, "!=": 20, "<": 20, ">": 20, "<=": 20, ">=": 20, "in": 20,
          "matches": 20, "contains": 20, "startsWith": 20, "endsWith": 20,
          "..": 25, "+": 30, "-": 30, "*": 60, "/": 60, "%": 60, "**": 100, "^": 100, "??": 500}
UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_WORD_OPERATORS = {"or", "and", "in", "matches", "contains", "startsWith", "endsWith", "not"}
_NEGATABLE = {"in", "matches", "contains", "startsWith", "endsWith"}
_CHAINED = {"<", ">", "<=", ">="}
PREDICATE_BUILTINS = {"all", "none", "any", "one", "filter", "map", "count", "sum", "find",
                      "findIndex", "findLast", "findLastIndex", "groupBy", "sortBy", "reduce"}
_CONSTANTS = {"true": True, "false": False, "nil": None}
MAX_NESTING = 100
MAX_AST_DEPTH = 200


class Node:
    """Base class of AST nodes."""


@dataclass(frozen=True, slots=True)
class Const(Node):
    value: Any


@dataclass(frozen=True, slots=True)
class Name(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Pointer(Node):
    """`#` (name ""), `#index`, `#acc` or `.field`'s implicit subject inside a closure."""
    name: str


@dataclass(frozen=True, slots=True)
class Member(Node):
    subject: Node
    key: Node
    optional: bool


@dataclass(frozen=True, slots=True)
class Slice(Node):
    subject: Node
    low: Node | None
    high: Node | None


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Method(Node):
    subject: Node
    name: str
    args: tuple[Node, ...]
    optional: bool


@dataclass(frozen=True, slots=True)
class Closure(Node):
    body: Node


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Conditional(Node):
    test: Node
    yes: Node
    no: Node


@dataclass(frozen=True, slots=True)
class ArrayLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapLit(Node):
    pairs: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Let(Node):
    name: str
    value: Node
    body: Node


def parse(source: str) -> Node:
    """Parse a whole expression; raises ExpressionError on any syntax problem."""
    parser = _Parser(tokenize(source))
    node = parser.expression(0)
    if parser.current.kind != EOF:
        parser.fail()
    _check_depth(node)
    return node


def _children(node: Node) -> list[Node]:
    out: list[Node] = []
    for field in fields(node):  # type: ignore[arg-type]
        value = getattr(node, field.name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            out.extend(item if isinstance(item, tuple) else (item,))
    return [child for child in out if isinstance(child, Node)]


def _check_depth(root: Node) -> None:
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_AST_DEPTH:
            raise ExpressionError(f"expression is nested too deeply (more than {MAX_AST_DEPTH} levels)")
        stack.extend((child, depth + 1) for child in _children(node))


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens, self.index = tokens, 0
        self.current = tokens[0]
        self.nesting = 0
        self.closures = 0

    def advance(self) -> Token:
        token = self.current
        self.index = min(self.index + 1, len(self.tokens) - 1)
        self.current = self.tokens[self.index]
        return token

    def fail(self, token: Token | None = None) -> None:
        token = token or self.current
        raise ExpressionError(f"unexpected token {token.describe()} at position {token.pos}")

    def expect_op(self, value: str) -> None:
        if not self.current.is_op(value):
            raise ExpressionError(f"expected {value!r} but found {self.current.describe()} "
                                  f"at position {self.current.pos}")
        self.advance()

    def expect_name(self) -> str:
        if self.current.kind != NAME:
            self.fail()
        return str(self.advance().value)

    def operator(self) -> str | None:
        token = self.current
        if token.kind == OP and token.value in BINARY:
            return str(token.value)
        if token.kind == NAME and token.value in _WORD_OPERATORS:
            return str(token.value)
        return None

    def expression(self, precedence: int) -> Node:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise ExpressionError(f"expression is nested too deeply (more than {MAX_NESTING} levels)")
        try:
            if precedence == 0 and self.current.kind == NAME and self.current.value == "let":
                return self.let()
            node = self.binary(self.primary(), precedence)
            return self.conditional(node) if precedence == 0 else node
        finally:
            self.nesting -= 1

    def binary(self, left: Node, precedence: int) -> Node:
        previous = ""
        while (op := self.operator()) is not None:
            negate = op == "not"
            if negate:
                following = self.tokens[self.index + 1]
                if following.kind != NAME or following.value not in _NEGATABLE:
                    self.fail(following)
                if BINARY[str(following.value)] < precedence:
                    break
                self.advance()
                op = str(following.value)
            if BINARY[op] < precedence:
                break
            token = self.advance()
            if previous == "??" and op != "??":
                raise ExpressionError(f"operator {op!r} and coalesce expressions (??) cannot be mixed "
                                      f"at position {token.pos}; wrap either in parentheses")
            left = self.operand(left, op)
            if negate:
                left = Unary("not", left)
            previous = op
        return left

    def operand(self, left: Node, op: str) -> Node:
        if op == "|":
            name = self.expect_name()
            return self.call(name, [left])
        if op in _CHAINED:
            return self.comparison(left, op)
        right_precedence = BINARY[op] if op in ("**", "^") else BINARY[op] + 1
        return Binary(op, left, self.expression(right_precedence))

    def comparison(self, left: Node, op: str) -> Node:
        root: Node | None = None
        while True:
            right = self.expression(BINARY[op] + 1)
            node = Binary(op, left, right)
            root = node if root is None else Binary("&&", root, node)
            if not (self.current.kind == OP and self.current.value in _CHAINED):
                return root
            op, left = str(self.advance().value), right

    def conditional(self, node: Node) -> Node:
        while self.current.is_op("?"):
            self.advance()
            if self.current.is_op(":"):
                self.advance()
                node = Conditional(node, node, self.expression(0))
                continue
            yes = self.expression(0)
            self.expect_op(":")
            node = Conditional(node, yes, self.expression(0))
        return node

    def let(self) -> Node:
        self.advance()
        name = self.expect_name()
        self.expect_op("=")
        value = self.expression(0)
        self.expect_op(";")
        return Let(name, value, self.expression(0))

    def primary(self) -> Node:
        token = self.current
        if (token.kind == OP or token.kind == NAME) and token.value in UNARY:
            self.advance()
            return Unary(str(token.value), self.expression(UNARY[str(token.value)]))
        if token.is_op("("):
            self.advance()
            node = self.expression(0)
            self.expect_op(")")
            return self.postfix(node)
        if self.closures and token.is_op("#", "."):
            return self.postfix(self.pointer())
        return self.postfix(self.secondary())

    def pointer(self) -> Node:
        if self.current.is_op("."):
            return Pointer("")
        hash_token = self.advance()
        token = self.current
        if token.kind == NAME and token.pos == hash_token.pos + 1 and token.value not in _WORD_OPERATORS:
            return Pointer(str(self.advance().value))
        return Pointer("")

    def secondary(self) -> Node:
        token = self.current
        if token.kind in (NUMBER, STRING):
            self.advance()
            return Const(token.value)
        if token.kind == NAME:
            return self.name()
        if token.is_op("["):
            self.advance()
            return ArrayLit(tuple(self.sequence("]")))
        if token.is_op("{"):
            self.advance()
            return self.map_literal()
        self.fail()
        raise AssertionError("unreachable")

    def name(self) -> Node:
        token = self.advance()
        name = str(token.value)
        if name in _CONSTANTS:
            return Const(_CONSTANTS[name])
        if name in _WORD_OPERATORS or name == "let":
            self.fail(token)
        if self.current.is_op("("):
            return self.call(name, [])
        return Name(name)

    def sequence(self, close: str) -> list[Node]:
        items: list[Node] = []
        while not self.current.is_op(close):
            items.append(self.expression(0))
            if not self.current.is_op(close):
                self.expect_op(",")
        self.advance()
        return items

    def map_literal(self) -> Node:
        pairs: list[tuple[Node, Node]] = []
        while not self.current.is_op("}"):
            key = self.map_key()
            self.expect_op(":")
            pairs.append((key, self.expression(0)))
            if not self.current.is_op("}"):
                self.expect_op(",")
        self.advance()
        return MapLit(tuple(pairs))

    def map_key(self) -> Node:
        token = self.current
        if token.kind in (NAME, STRING, NUMBER):
            self.advance()
            return Const(token.value if token.kind != NAME else str(token.value))
        if token.is_op("("):
            self.advance()
            key = self.expression(0)
            self.expect_op(")")
            return key
        self.fail()
        raise AssertionError("unreachable")

    def call(self, name: str, args: list[Node]) -> Node:
        self.expect_op("(")
        while not self.current.is_op(")"):
            if name in PREDICATE_BUILTINS and len(args) == 1:
                args.append(self.closure())
            else:
                args.append(self.expression(0))
            if not self.current.is_op(")"):
                self.expect_op(",")
        self.advance()
        return Call(name, tuple(args))

    def closure(self) -> Node:
        self.closures += 1
        try:
            if self.current.is_op("{"):
                self.advance()
                body = self.expression(0)
                self.expect_op("}")
            else:
                body = self.expression(0)
            return Closure(body)
        finally:
            self.closures -= 1

    def postfix(self, node: Node) -> Node:
        while True:
            token = self.current
            if token.is_op(".", "?."):
                self.advance()
                optional = token.value == "?."
                if optional and self.current.is_op("["):
                    node = self.index_or_slice(node, optional=True)
                    continue
                name = self.expect_name()
                if self.current.is_op("("):
                    self.advance()
                    node = Method(node, name, tuple(self.sequence(")")), optional)
                else:
                    node = Member(node, Const(name), optional)
            elif token.is_op("["):
                node = self.index_or_slice(node, optional=False)
            else:
                return node

    def index_or_slice(self, node: Node, *, optional: bool) -> Node:
        self.expect_op("[")
        low = None if self.current.is_op(":") else self.expression(0)
        if self.current.is_op(":"):
            self.advance()
            high = None if self.current.is_op("]") else self.expression(0)
            self.expect_op("]")
            return Slice(node, low, high)
        self.expect_op("]")
        assert low is not None
        return Member(node, low, optional)
