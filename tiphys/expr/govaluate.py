"""Argo's `when` conditions: govaluate semantics after `{{...}}` substitution.

Argo parses `when` with govaluate and turns every variable into a string literal, so
`heads == heads` and `Failed != Succeeded` work unquoted.  This module emulates that
and is a little more lenient than Argo about bare words (hyphens, slashes, colons and
dots stay inside one word: `hello-world == hello-world`) and about regexes after
`=~` / `!~` (`foo =~ ^f.*` needs no quotes).  Numbers compare numerically, also
against a string that holds a number; anything but a bool result is an error.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

from tiphys.errors import ExpressionError
from tiphys.expr.exprvalues import regex
from tiphys.expr.gofmt import float_sprint

_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SIGNED_NUMBER = re.compile(r"[+-]?" + _NUMBER.pattern)
_SPACE = re.compile(r"\s*")
_OPERATORS = ("==", "!=", ">=", "<=", "=~", "!~", "&&", "||", "**",
              ">", "<", "!", "+", "-", "*", "/", "%", "(", ")", ",")
_COMPARATORS = ("==", "!=", ">", ">=", "<", "<=", "=~", "!~", "in")
_MAX_NESTING = 100
_Token = tuple[str, Any]  # ("num"|"str"|"bool"|"op"|"eof", value)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char in "_-./:"


def _starts_word(text: str, pos: int) -> bool:
    """Words start with a letter, digit or '_'; '.' and '/' start one only when glued to more."""
    char = text[pos]
    if char.isalnum() or char == "_":
        return True
    return char in "./" and pos + 1 < len(text) and _is_word_char(text[pos + 1])


def _word(text: str, pos: int) -> tuple[_Token, int]:
    end = pos
    while end < len(text) and _is_word_char(text[end]):
        end += 1
    word = text[pos:end]
    if _NUMBER.fullmatch(word):
        return ("num", float(word)), end
    if word in ("true", "false"):
        return ("bool", word == "true"), end
    if word in ("in", "IN"):
        return ("op", "in"), end
    return ("str", word), end


def _quoted(text: str, pos: int) -> tuple[_Token, int]:
    quote, out, i = text[pos], [], pos + 1
    while i < len(text) and text[i] != quote:
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        out.append(text[i])
        i += 1
    if i >= len(text):
        raise ExpressionError(f"unclosed string literal at position {pos}")
    return ("str", "".join(out)), i + 1


def _bare_regex(text: str, pos: int) -> tuple[_Token, int]:
    depth, end = 0, pos
    while end < len(text) and not text[end].isspace():
        if text[end] == "(":
            depth += 1
        elif text[end] == ")":
            if depth == 0:
                break
            depth -= 1
        end += 1
    return ("str", text[pos:end]), end


def tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    while pos < len(text):
        char = text[pos]
        after_regex_op = bool(tokens) and tokens[-1] in (("op", "=~"), ("op", "!~"))
        if char in "'\"":
            token, pos = _quoted(text, pos)
        elif after_regex_op and char != "(":
            token, pos = _bare_regex(text, pos)
        elif _starts_word(text, pos):
            token, pos = _word(text, pos)
        else:
            op = next((op for op in _OPERATORS if text.startswith(op, pos)), None)
            if op is None:
                raise ExpressionError(f"invalid token {char!r} at position {pos}")
            token, pos = ("op", op), pos + len(op)
        tokens.append(token)
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
    tokens.append(("eof", None))
    return tokens


def _describe(value: Any) -> str:
    return f"{type(value).__name__.replace('float', 'number').replace('str', 'string')} {value!r}"


def _bool(value: Any, op: str) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"value {_describe(value)} cannot be used with the logical operator {op!r}")
    return value


def _number(value: Any, op: str) -> float:
    if isinstance(value, float):
        return value
    raise ExpressionError(f"value {_describe(value)} cannot be used with the operator {op!r}")


def _as_number(value: Any) -> float | None:
    if isinstance(value, float):
        return value
    if isinstance(value, str) and _SIGNED_NUMBER.fullmatch(value):
        return float(value)
    return None


def _numeric_pair(left: Any, right: Any) -> tuple[float, float] | None:
    if not (isinstance(left, float) or isinstance(right, float)):
        return None
    a, b = _as_number(left), _as_number(right)
    return None if a is None or b is None else (a, b)


def _text(value: Any, op: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return float_sprint(value)
    raise ExpressionError(f"value {_describe(value)} cannot be used with the operator {op!r}")


def compare(op: str, left: Any, right: Any) -> bool:
    if op in ("=~", "!~"):
        found = regex(_text(right, op)).search(_text(left, op)) is not None
        return found if op == "=~" else not found
    if op == "in":
        return any(compare("==", left, item) for item in right)
    pair = _numeric_pair(left, right)
    if op in ("==", "!="):
        same = pair[0] == pair[1] if pair else (type(left) is type(right) and left == right)
        return same if op == "==" else not same
    if pair is None and not (isinstance(left, str) and isinstance(right, str)):
        raise ExpressionError(f"cannot compare {_describe(left)} {op} {_describe(right)}")
    a, b = pair if pair else (left, right)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return _text(left, op) + _text(right, op)
    a, b = _number(left, op), _number(right, op)
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "**":
            return math.pow(a, b)
        if b == 0:
            raise ExpressionError(f"division by zero in {a} {op} {b}")
        return a / b if op == "/" else math.fmod(a, b)
    except (OverflowError, ValueError):
        raise ExpressionError(f"{a} {op} {b} is out of range") from None


_Thunk = Callable[[], Any]


class _Parser:
    """Precedence: || < && < comparators < + - < * / % < ** < prefix ! -."""

    def __init__(self, tokens: list[_Token]):
        self.tokens, self.index, self.nesting = tokens, 0, 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def accept(self, *ops: str) -> str | None:
        kind, value = self.current
        if kind == "op" and value in ops:
            self.index += 1
            return str(value)
        return None

    def fail(self) -> ExpressionError:
        kind, value = self.current
        return ExpressionError("unexpected end of expression" if kind == "eof" else f"unexpected token {value!r}")

    def logical(self, ops: tuple[str, ...], operand: Callable[[], _Thunk]) -> _Thunk:
        left = operand()
        while op := self.accept(*ops):
            right = operand()
            stop = op == "||"
            left = (lambda l, r, o, s: lambda: s if _bool(l(), o) is s else _bool(r(), o))(left, right, op, stop)
        return left

    def disjunction(self) -> _Thunk:
        return self.logical(("||",), self.conjunction)

    def conjunction(self) -> _Thunk:
        return self.logical(("&&",), self.comparison)

    def comparison(self) -> _Thunk:
        left = self.additive()
        while op := self.accept(*_COMPARATORS):
            right = self.in_list() if op == "in" else self.additive()
            left = (lambda l, r, o: lambda: compare(o, l(), r()))(left, right, op)
        return left

    def in_list(self) -> _Thunk:
        if not self.accept("("):
            raise self.fail()
        items = [self.disjunction()]
        while self.accept(","):
            items.append(self.disjunction())
        if not self.accept(")"):
            raise self.fail()
        return lambda: [item() for item in items]

    def binary(self, ops: tuple[str, ...], operand: Callable[[], _Thunk]) -> _Thunk:
        left = operand()
        while op := self.accept(*ops):
            right = operand()
            left = (lambda l, r, o: lambda: _arithmetic(o, l(), r()))(left, right, op)
        return left

    def additive(self) -> _Thunk:
        return self.binary(("+", "-"), self.multiplicative)

    def multiplicative(self) -> _Thunk:
        return self.binary(("*", "/", "%"), self.exponential)

    def exponential(self) -> _Thunk:
        return self.binary(("**",), self.prefix)

    def prefix(self) -> _Thunk:
        self.nesting += 1
        if self.nesting > _MAX_NESTING:
            raise ExpressionError("expression is nested too deeply")
        try:
            if self.accept("!"):
                inner = self.prefix()
                return lambda: not _bool(inner(), "!")
            if self.accept("-"):
                operand = self.prefix()
                return lambda: -_number(operand(), "-")
            return self.atom()
        finally:
            self.nesting -= 1

    def atom(self) -> _Thunk:
        kind, value = self.current
        if kind in ("num", "str", "bool"):
            self.index += 1
            return lambda: value
        if self.accept("("):
            inner = self.disjunction()
            if not self.accept(")"):
                raise self.fail()
            return inner
        raise self.fail()


def evaluate_when(text: str) -> bool:
    """True when the (already substituted) `when` condition holds; "" is true."""
    if not isinstance(text, str):
        raise ExpressionError(f"'when' must be a string, got {type(text).__name__}")
    if not text.strip():
        return True
    try:
        parser = _Parser(tokenize(text))
        thunk = parser.disjunction()
        if parser.current[0] != "eof":
            raise parser.fail()
        result = thunk()
    except ExpressionError as exc:
        raise ExpressionError(f"invalid 'when' expression {text!r}: {exc.message}") from None
    except RecursionError:
        raise ExpressionError(f"invalid 'when' expression {text!r}: nested too deeply") from None
    if not isinstance(result, bool):
        raise ExpressionError(f"expected boolean evaluation for {text!r}, got {result!r}")
    return result
