"""Property tests: on any input the expression modules return or raise ExpressionError."""
from __future__ import annotations

from typing import Any, Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiphys.errors import ExpressionError
from tiphys.expr import depends, exprlang, govaluate, template

EXPR_PIECES = ["1", "2.5", "-", "+", "*", "/", "%", "**", "^", "(", ")", "[", "]", "{", "}", ",", ":", "?", "??",
               "?.", ".", "..", "#", "#acc", "#index", "==", "!=", "<", ">=", "&&", "||", "!", "not", "in", "matches",
               "contains", "startsWith", "let", "=", ";", "'a'", '"b"', "x", "m", "s", "nil", "true", "filter",
               "map", "reduce", "len", "sprig", "add", "date", "now()", "duration", "'1h'", "jsonpath", "'$.a'",
               "toJson", "asInt", "'3'", "|", " ", "..", "1..3", "string", "/*", "*/", "//", "\\", "'\\u12'"]
WHEN_PIECES = ["a", "b-c", "1", "2.5", "==", "!=", "<", ">=", "&&", "||", "!", "(", ")", "=~", "!~", "^f.*", "in",
               ",", "'q'", '"d"', "true", "false", "+", "-", "*", "/", "%", "**", " ", "x/y", ":"]
DEPENDS_PIECES = ["A", "B-1", "2c", ".Succeeded", ".Failed", ".AnySucceeded", ".Bogus", "&&", "||", "!", "(", ")",
                  " ", ".", "&", "|"]
ENV: dict[str, Any] = {"x": [1, 2, 3], "m": {"a": 1, "b": "2"}, "s": "str", "n": None}
SCOPE: dict[str, Any] = {"inputs.parameters.p": "3", "workflow.name": "wf", "flag": True, "n": None, "num": 2.5}
FAST = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def joined(pieces: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pieces), max_size=25).map("".join)


def returns_or_raises_expression_error(function: Callable[[], Any]) -> None:
    try:
        function()
    except ExpressionError:
        pass


@FAST
@given(st.one_of(st.text(max_size=60), joined(EXPR_PIECES)))
def test_exprlang_evaluate(source: str) -> None:
    returns_or_raises_expression_error(lambda: exprlang.evaluate(source, ENV))


@FAST
@given(st.one_of(st.text(max_size=60), joined(EXPR_PIECES).map(lambda s: "{{=" + s + "}} {{ " + s + " }}"),
                 joined(["{{", "}}", "=", "inputs.parameters.p", "flag", "n", "num", " ", "x", "+", "1"])))
def test_template_render(text: str) -> None:
    returns_or_raises_expression_error(lambda: template.render(text, SCOPE, strict=("inputs.",)))
    returns_or_raises_expression_error(lambda: template.tags(text))


@FAST
@given(st.one_of(st.text(max_size=60), joined(WHEN_PIECES)))
def test_govaluate_evaluate_when(text: str) -> None:
    returns_or_raises_expression_error(lambda: govaluate.evaluate_when(text))


@FAST
@given(st.one_of(st.text(max_size=60), joined(DEPENDS_PIECES)))
def test_depends_evaluate(text: str) -> None:
    returns_or_raises_expression_error(lambda: depends.evaluate(text, lambda task, result: len(task) % 2 == 0))
    returns_or_raises_expression_error(lambda: depends.task_names(text))


@FAST
@given(st.text(max_size=40))
def test_render_without_tags_is_identity(text: str) -> None:
    if "{{" not in text:
        assert template.render(text, SCOPE) == text
