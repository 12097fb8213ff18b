"""Tests of the Go-compatible helpers: printing, layouts, durations, JSONPath."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tiphys.errors import ExpressionError
from tiphys.expr import gofmt, golayout, jsonpath

MOMENT = datetime(2024, 3, 5, 14, 7, 9, 123000, tzinfo=timezone.utc)


@pytest.mark.parametrize(("value", "expected"), [
    (3.0, "3"), (0.1, "0.1"), (1e-7, "1e-7"), (1.5e21, "1.5e+21"), (1e20, "100000000000000000000"),
    (-2.5, "-2.5"), (123456789.0, "123456789"), (0.0, "0"), (1e-6, "0.000001"),
])
def test_float_json(value: float, expected: str) -> None:
    assert gofmt.float_json(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (3.0, "3"), (0.1, "0.1"), (1e-5, "1e-05"), (1e6, "1e+06"), (123456.0, "123456"), (1234567.0, "1.234567e+06"),
    (float("inf"), "+Inf"), (float("nan"), "NaN"),
])
def test_float_sprint(value: float, expected: str) -> None:
    assert gofmt.float_sprint(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ({"b": [1, 2.0, "<a>"], "a": None}, '{"a":null,"b":[1,2,"\\u003ca\\u003e"]}'),
    ([True, "x\ny"], '[true,"x\\ny"]'), (MOMENT, '"2024-03-05T14:07:09.123Z"'), (timedelta(seconds=1), "1000000000"),
    ({1: "a"}, '{"1":"a"}'),
])
def test_marshal(value: Any, expected: str) -> None:
    assert gofmt.marshal(value) == expected


@pytest.mark.parametrize("value", [float("nan"), {True: 1}, object()])
def test_marshal_errors(value: Any) -> None:
    with pytest.raises(ExpressionError):
        gofmt.marshal(value)


@pytest.mark.parametrize(("delta", "expected"), [
    (timedelta(hours=1), "1h0m0s"), (timedelta(seconds=90.5), "1m30.5s"), (timedelta(milliseconds=300), "300ms"),
    (timedelta(0), "0s"), (timedelta(microseconds=1), "1µs"), (timedelta(seconds=-5), "-5s"),
])
def test_duration_string(delta: timedelta, expected: str) -> None:
    assert gofmt.duration_string(delta) == expected


@pytest.mark.parametrize(("layout", "expected"), [
    ("2006", "2024"), ("2006-01-02 15:04:05", "2024-03-05 14:07:09"), ("Mon Jan _2 3:04PM", "Tue Mar  5 2:07PM"),
    ("2006-01-02T15:04:05.000Z07:00", "2024-03-05T14:07:09.123Z"), ("January Monday 002", "March Tuesday 065"),
    ("06/1/2 .999 -0700 MST", "24/3/5 .123 +0000 UTC"), ("Janx", "Janx"), ("Jan!", "Mar!"), ("100%", "300%"),
])
def test_format_time(layout: str, expected: str) -> None:
    assert golayout.format_time(MOMENT, layout) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("1h30m", timedelta(hours=1, minutes=30)), ("-1.5s", timedelta(seconds=-1.5)), ("300ms", timedelta(milliseconds=300)),
    ("0", timedelta(0)), ("1h1m1s1ms1us", timedelta(hours=1, minutes=1, seconds=1, milliseconds=1, microseconds=1)),
])
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert golayout.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1", "h", "1x", "1h-1m", ".h", "99999999999h"])
def test_parse_duration_errors(text: str) -> None:
    with pytest.raises(ExpressionError):
        golayout.parse_duration(text)


DOC = {"a": [{"name": "x", "age": 43, "tags": ["p"]}, {"name": "y", "age": 20}, {"name": "z", "age": 44}],
       "store": {"book": [{"price": 8.95}, {"price": 12.99, "isbn": "1"}]}, "k-1": 1}


@pytest.mark.parametrize(("path", "expected"), [
    ("$", DOC), ("$.a[0].name", "x"), ("$['a'][1]['name']", "y"), ("$.a[-1].name", "z"), ("$['k-1']", 1),
    ("$.a[*].name", ["x", "y", "z"]), ("$.a[0:2].name", ["x", "y"]), ("$.a[1:].age", [20, 44]),
    ("$..price", [8.95, 12.99]), ("$.a[?(@.age > 42)].name", ["x", "z"]),
    ("$.a[?(@.age > 42 && @.age < 44)].name", ["x"]), ("$.a[?(@.name == 'y' || @.age == 44)].name", ["y", "z"]),
    ("$.store.book[?(@.isbn)].price", [12.99]), ("$.store.book[?(!@.isbn)].price", [8.95]),
    ("$.a[?(@.name =~ '^[xy]$')].age", [43, 20]), ("$.a[0,2].name", ["x", "z"]), ("$.store.*", [DOC["store"]["book"]]),
    ("$.a[?(@.missing == 1)]", []), ("$.a[?(@.age >= $.a[2].age)].name", ["z"]), ('$.a[?(@.name == "x")].age', [43]),
])
def test_jsonpath(path: str, expected: Any) -> None:
    assert jsonpath.query(DOC, path) == expected


@pytest.mark.parametrize("path", ["a", "$.missing", "$.a[9]", "$[", "$.a[?(@.age >]", "$.a[?(@.age > 1)", "$.", "$x",
                                  "$.a[1:2:3]", "$.a[?(@.age ~ 1)]"])
def test_jsonpath_errors(path: str) -> None:
    with pytest.raises(ExpressionError):
        jsonpath.query(DOC, path)
