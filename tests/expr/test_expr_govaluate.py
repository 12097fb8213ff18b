"""Tests of the govaluate emulation used for `when`."""
from __future__ import annotations

import pytest

from tiphys.errors import ExpressionError
from tiphys.expr.govaluate import evaluate_when

CASES = [
    ("heads == heads", True), ("tails == heads", False), ("Failed != Succeeded", True),
    ("5 < 10", True), ("10 < 5", False), ('"a" == a', True), ("'a' == \"a\"", True), ("3 > 2.5", True),
    ("hello-world == hello-world", True), ("hello-world == hello-there", False),
    ("(A == A) && (b != c)", True), ("foo =~ ^f.*", True), ("bar =~ ^f.*", False), ("foo !~ ^f", False),
    ("foo =~ 'o+$'", True), ("(foo =~ ^f.*) && true", True),
    ("true", True), ("false", False), ("false && true", False), ("true || false", True), ("!false", True),
    ("!(1 == 2)", True), ("10 == 10.0", True), ("1e3 == 1000", True), ('"5" == 5', True), ('"5" == "5.0"', False),
    ("x in (a, b, x)", True), ("z in (a, b)", False), ("3 in (1, 2, 3)", True),
    ("2 + 3 == 5", True), ("10 / 4 == 2.5", True), ("2 * 3 > 5", True), ("7 % 4 == 3", True), ("2 ** 3 == 8", True),
    ("-5 < 0", True), ("a + b == ab", True), ("b > a", True), ("Succeeded == Succeeded && 1 < 2", True),
    ("gs://bucket/key == gs://bucket/key", True), ("2023-01-01T00:00:00Z == 2023-01-01T00:00:00Z", True),
    ("1.2.3 == 1.2.3", True), ("  ", True), ("", True), ("true == true", True), ("true != false", True),
    ("1 < 2 || undefined-thing", True), ("false && 5", False),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_evaluate_when(text: str, expected: bool) -> None:
    assert evaluate_when(text) is expected


ERRORS = ["heads", "5", "1 +", "(a == b", "a == b)", "a b", "a == 'x", "1 < a", "!5", "5 && true",
          "a - b", "1 / 0", "x in y", "x in (a", "@ == @", "10 ** 1000 == 1", "a =~ '('", "a =="]


@pytest.mark.parametrize("text", ERRORS)
def test_errors(text: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate_when(text)
