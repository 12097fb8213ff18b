"""Tokenizer for the expr-lang subset used by Argo (`{{=...}}`, `expression:` fields).

Kept apart from the parser so each stays small: this module turns source text into
`Token`s (numbers already converted, strings already unescaped with Go's rules,
comments dropped) and reports the position of anything it cannot read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tiphys.errors import ExpressionError

NUMBER, STRING, NAME, OP, EOF = "number", "string", "name", "op", "eof"

# Longest operators first so "**" wins over "*", "?." over "?", "..", over ".".
_OPERATORS = sorted(["!=", "==", "<=", ">=", "&&", "||", "**", "??", "?.", "..", "::",
                     "!", "<", ">", "+", "-", "*", "/", "%", "^", "?", ":", ".", ",",
                     ";", "(", ")", "[", "]", "{", "}", "|", "#", "="], key=len, reverse=True)
_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+"
                     r"|[0-9][0-9_]*(?:\.(?!\.)[0-9_]*)?(?:[eE][+-]?[0-9]+)?")
_SPACE = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)+", re.S)
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", "\\": "\\", "'": "'", '"': '"'}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_INT64_MAX = 2 ** 63 - 1


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    value: Any
    pos: int

    def is_op(self, *values: str) -> bool:
        return self.kind == OP and self.value in values

    def describe(self) -> str:
        return "end of expression" if self.kind == EOF else repr(str(self.value))


def tokenize(source: str) -> list[Token]:
    """Split `source` into tokens ending with an EOF token."""
    tokens: list[Token] = []
    pos = 0
    while True:
        space = _SPACE.match(source, pos)
        if space:
            pos = space.end()
        if pos >= len(source):
            tokens.append(Token(EOF, None, pos))
            return tokens
        token, pos = _next_token(source, pos)
        tokens.append(token)


def _next_token(source: str, pos: int) -> tuple[Token, int]:
    char = source[pos]
    if char in "'\"`":
        end = _string_end(source, pos)
        return Token(STRING, _unquote(source[pos:end], pos), pos), end
    if "0" <= char <= "9":
        match = _NUMBER.match(source, pos)
        assert match
        return Token(NUMBER, _number(match.group(0), pos), pos), match.end()
    name = _NAME.match(source, pos)
    if name:
        return Token(NAME, name.group(0), pos), name.end()
    if source.startswith("/*", pos):
        raise ExpressionError(f"unclosed comment at position {pos}")
    for op in _OPERATORS:
        if source.startswith(op, pos):
            return Token(OP, op, pos), pos + len(op)
    raise ExpressionError(f"unexpected character {char!r} at position {pos}")


def _string_end(source: str, pos: int) -> int:
    quote, i = source[pos], pos + 1
    while i < len(source):
        if source[i] == "\\" and quote != "`":
            i += 2
            continue
        if source[i] == quote:
            return i + 1
        if source[i] == "\n" and quote != "`":
            break
        i += 1
    raise ExpressionError(f"unterminated string literal at position {pos}")


def _unquote(literal: str, pos: int) -> str:
    if literal[0] == "`":
        return literal[1:-1]
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        if body[i] != "\\":
            out.append(body[i])
            i += 1
            continue
        text, i = _escape(body, i + 1, pos)
        out.append(text)
    return "".join(out)


def _escape(body: str, i: int, pos: int) -> tuple[str, int]:
    code = body[i:i + 1]
    if code in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[code], i + 1
    if code in _HEX_ESCAPES:
        digits = body[i + 1:i + 1 + _HEX_ESCAPES[code]]
        return _codepoint(digits, 16, _HEX_ESCAPES[code], pos), i + 1 + len(digits)
    if code in "01234567" and code:
        return _codepoint(body[i:i + 3], 8, 3, pos), i + 3
    raise ExpressionError(f"invalid escape sequence '\\{code}' in string at position {pos}")


def _codepoint(digits: str, base: int, size: int, pos: int) -> str:
    valid = "0123456789abcdefABCDEF" if base == 16 else "01234567"
    if len(digits) != size or any(d not in valid for d in digits):
        raise ExpressionError(f"invalid escape sequence in string at position {pos}")
    value = int(digits, base)
    if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        raise ExpressionError(f"invalid unicode code point in string at position {pos}")
    return chr(value)


def _number(text: str, pos: int) -> int | float:
    clean = text.replace("_", "")
    try:
        if clean[:2].lower() in ("0x", "0o", "0b"):
            value: int | float = int(clean, 0)
        elif any(c in clean for c in ".eE"):
            return float(clean)
        else:
            value = int(clean, 10)
    except ValueError:
        raise ExpressionError(f"invalid number {text!r} at position {pos}") from None
    return value if value <= _INT64_MAX else float(value)
