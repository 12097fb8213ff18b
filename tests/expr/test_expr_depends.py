"""Tests of Argo's enhanced `depends` logic."""
from __future__ import annotations

import pytest

from tiphys.errors import ExpressionError
from tiphys.expr import depends

STATE = {"A": "Succeeded", "B": "Failed", "C": "Skipped", "D-1": "Errored", "2nd": "Succeeded"}


def operand(task: str, result: str | None) -> bool:
    phase = STATE[task]
    if result is None:
        return phase in ("Succeeded", "Skipped", "Daemoned")
    if result == "AnySucceeded":
        return phase == "Succeeded"
    if result == "AllFailed":
        return phase == "Failed"
    return phase == result


CASES = [
    ("A", True), ("B", False), ("C", True), ("A && B", False), ("A || B", True), ("!B", True),
    ("B.Failed", True), ("A.Succeeded && B.Failed", True), ("(A || B) && !C.Succeeded", True),
    ("D-1.Errored", True), ("2nd", True), ("!(A && B)", True), ("A && B || C", True), ("A || B && !C", True),
    ("!!A", True), ("B.AllFailed && A.AnySucceeded", True), ("C.Skipped && !C.Omitted && !A.Daemoned", True),
    ("", True), ("  ", True),
]


@pytest.mark.parametrize(("expression", "expected"), CASES)
def test_evaluate(expression: str, expected: bool) -> None:
    assert depends.evaluate(expression, operand) is expected


def test_evaluation_short_circuits() -> None:
    seen: list[str] = []

    def record(task: str, result: str | None) -> bool:
        seen.append(task)
        return task == "A"

    assert depends.evaluate("A || B", record) is True
    assert seen == ["A"]


@pytest.mark.parametrize(("expression", "names"), [
    ("A && (B.Failed || !C.Succeeded)", {"A", "B", "C"}), ("x-1 || x_2", {"x-1", "x_2"}), ("", set()),
])
def test_task_names(expression: str, names: set[str]) -> None:
    assert depends.task_names(expression) == names


@pytest.mark.parametrize("expression", ["A &&", "(A", "A)", "A.Unknown", "A.", "A B", "A & B", "!", "A || || B",
                                        "A.succeeded", "A + B"])
def test_errors(expression: str) -> None:
    with pytest.raises(ExpressionError):
        depends.task_names(expression)


def test_non_bool_operand_is_an_error() -> None:
    with pytest.raises(ExpressionError):
        depends.evaluate("A", lambda task, result: 1)  # type: ignore[arg-type, return-value]


def test_from_dependencies() -> None:
    assert depends.from_dependencies(["A", "B"]) == "A && B"
    assert depends.from_dependencies(["A"]) == "A"
    assert depends.from_dependencies([]) == ""
