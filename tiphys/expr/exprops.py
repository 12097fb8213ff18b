"""expr-lang operators and the Go methods callable on times and durations.

Separated from the tree walker so the arithmetic rules (int64 wrapping, `/` always
float, `**` float, Go's truncating `%`, time - time = duration, `..` ranges) and the
`.Seconds()`-style methods can be read and tested on their own.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from tiphys.errors import ExpressionError
from tiphys.expr import gofmt, golayout
from tiphys.expr.exprfuncs import MAX_SIZE, check_size
from tiphys.expr.exprvalues import (aware, compare, equal, is_int, is_number, regex, require_int,
                                    require_str, type_name, wrap_int)


def _mismatch(op: str, left: Any, right: Any) -> ExpressionError:
    return ExpressionError(f"invalid operation: {type_name(left)} {op} {type_name(right)}")


def _time_shift(moment: datetime, delta: timedelta) -> datetime:
    try:
        return aware(moment) + delta
    except OverflowError:
        raise ExpressionError("time out of range") from None


def add(left: Any, right: Any) -> Any:
    if is_int(left) and is_int(right):
        return wrap_int(left + right)
    if is_number(left) and is_number(right):
        return float(left) + float(right)
    if isinstance(left, str) and isinstance(right, str):
        check_size(len(left) + len(right), "string")
        return left + right
    if isinstance(left, datetime) and isinstance(right, timedelta):
        return _time_shift(left, right)
    if isinstance(left, timedelta) and isinstance(right, datetime):
        return _time_shift(right, left)
    if isinstance(left, timedelta) and isinstance(right, timedelta):
        return left + right
    raise _mismatch("+", left, right)


def subtract(left: Any, right: Any) -> Any:
    if is_int(left) and is_int(right):
        return wrap_int(left - right)
    if is_number(left) and is_number(right):
        return float(left) - float(right)
    if isinstance(left, datetime) and isinstance(right, datetime):
        return aware(left) - aware(right)
    if isinstance(left, datetime) and isinstance(right, timedelta):
        return _time_shift(left, -right)
    if isinstance(left, timedelta) and isinstance(right, timedelta):
        return left - right
    raise _mismatch("-", left, right)


def multiply(left: Any, right: Any) -> Any:
    if is_int(left) and is_int(right):
        return wrap_int(left * right)
    if is_number(left) and is_number(right):
        return float(left) * float(right)
    if isinstance(left, timedelta) and is_number(right):
        return _scale(left, right)
    if is_number(left) and isinstance(right, timedelta):
        return _scale(right, left)
    raise _mismatch("*", left, right)


def _scale(delta: timedelta, factor: int | float) -> timedelta:
    try:
        return delta * factor
    except (OverflowError, ValueError):
        raise ExpressionError("duration out of range") from None


def divide(left: Any, right: Any) -> float:
    if not (is_number(left) and is_number(right)):
        raise _mismatch("/", left, right)
    if right == 0:
        raise ExpressionError("division by zero")
    return float(left) / float(right)


def modulo(left: Any, right: Any) -> int:
    if not (is_int(left) and is_int(right)):
        raise _mismatch("%", left, right)
    if right == 0:
        raise ExpressionError("integer divide by zero")
    remainder = abs(left) % abs(right)
    return -remainder if left < 0 else remainder


def power(left: Any, right: Any) -> float:
    if not (is_number(left) and is_number(right)):
        raise _mismatch("**", left, right)
    try:
        return math.pow(float(left), float(right))
    except (OverflowError, ValueError):
        raise ExpressionError(f"{left} ** {right} is out of range") from None


def number_range(left: Any, right: Any) -> list[int]:
    if not (is_int(left) and is_int(right)):
        raise _mismatch("..", left, right)
    check_size(right - left + 1, "range")
    return list(range(left, right + 1))


def contains(container: Any, item: Any) -> bool:
    """`item in container` for arrays (by ==) and maps (by key); nil contains nothing."""
    if isinstance(container, (list, tuple)):
        return any(equal(item, element) for element in container)
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    if container is None:
        return False
    raise _mismatch("in", item, container)


def _strings(op: str, test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def apply(left: Any, right: Any) -> bool:
        if not (isinstance(left, str) and isinstance(right, str)):
            raise _mismatch(op, left, right)
        return test(left, right)
    return apply


BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "==": equal,
    "!=": lambda a, b: not equal(a, b),
    "<": lambda a, b: compare("<", a, b),
    "<=": lambda a, b: compare("<=", a, b),
    ">": lambda a, b: compare(">", a, b),
    ">=": lambda a, b: compare(">=", a, b),
    "+": add, "-": subtract, "*": multiply, "/": divide, "%": modulo, "**": power, "^": power,
    "..": number_range,
    "in": lambda a, b: contains(b, a),
    "matches": _strings("matches", lambda a, b: regex(b).search(a) is not None),
    "contains": _strings("contains", lambda a, b: b in a),
    "startsWith": _strings("startsWith", lambda a, b: a.startswith(b)),
    "endsWith": _strings("endsWith", lambda a, b: a.endswith(b)),
}


def negate(value: Any) -> Any:
    if is_int(value):
        return wrap_int(-value)
    if isinstance(value, float):
        return -value
    if isinstance(value, timedelta):
        return -value
    raise ExpressionError(f"invalid operation: -{type_name(value)}")


def _seconds(delta: timedelta) -> float:
    return gofmt.nanoseconds(delta) / 1e9


def _unix(moment: datetime) -> int:
    return math.floor(aware(moment).timestamp())


def _go_weekday(moment: datetime) -> int:
    return (moment.weekday() + 1) % 7


_DURATION_METHODS: dict[str, Callable[..., Any]] = {
    "Hours": lambda d: _seconds(d) / 3600,
    "Minutes": lambda d: _seconds(d) / 60,
    "Seconds": _seconds,
    "Milliseconds": lambda d: gofmt.nanoseconds(d) // 1_000_000,
    "Microseconds": lambda d: gofmt.nanoseconds(d) // 1_000,
    "Nanoseconds": gofmt.nanoseconds,
    "String": gofmt.duration_string,
    "Abs": abs,
}
_TIME_METHODS: dict[str, Callable[..., Any]] = {
    "Year": lambda t: t.year, "Month": lambda t: t.month, "Day": lambda t: t.day,
    "Hour": lambda t: t.hour, "Minute": lambda t: t.minute, "Second": lambda t: t.second,
    "Nanosecond": lambda t: t.microsecond * 1000, "YearDay": lambda t: t.timetuple().tm_yday,
    "Weekday": _go_weekday, "Unix": _unix,
    "UnixMilli": lambda t: math.floor(aware(t).timestamp() * 1000),
    "Format": lambda t, layout: golayout.format_time(aware(t), require_str(layout, "Format()")),
    "Add": lambda t, d: add(t, d), "Sub": lambda t, u: subtract(t, u),
    "Before": lambda t, u: compare("<", t, u), "After": lambda t, u: compare(">", t, u),
    "Equal": lambda t, u: equal(t, u),
    "UTC": lambda t: aware(t).astimezone(timezone.utc),
    "String": gofmt.sprint,
    "AddDate": lambda t, y, m, d: _add_date(t, require_int(y, "AddDate"), require_int(m, "AddDate"),
                                           require_int(d, "AddDate")),
}


def _add_date(moment: datetime, years: int, months: int, days: int) -> datetime:
    total = moment.year * 12 + moment.month - 1 + years * 12 + months
    year, month = divmod(total, 12)
    if not 1 <= year <= 9999 or abs(days) > MAX_SIZE:
        raise ExpressionError("time out of range")
    first = moment.replace(year=year, month=month + 1, day=1)
    return _time_shift(first, timedelta(days=moment.day - 1 + days))


def call_method(subject: Any, name: str, args: list[Any]) -> Any:
    """A Go method on a time.Time or time.Duration value."""
    if isinstance(subject, datetime):
        table = _TIME_METHODS
    elif isinstance(subject, timedelta):
        table = _DURATION_METHODS
    else:
        raise ExpressionError(f"type {type_name(subject)} has no method {name}")
    method = table.get(name)
    if method is None:
        raise ExpressionError(f"type {type_name(subject)} has no method {name}")
    try:
        return method(subject, *args)
    except TypeError:
        raise ExpressionError(f"wrong number of arguments for {name}()") from None
