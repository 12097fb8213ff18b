"""Value semantics shared by the expr evaluator and its builtins.

expr-lang is Go: booleans are not numbers, `==` compares int and float by value but a
string never equals a number, ints are int64 and wrap, `&&` needs real booleans and a
missing map key reads as nil.  Python's truthiness and duck typing would leak into
results without these helpers, which raise ExpressionError instead of TypeError.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from tiphys.errors import ExpressionError

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
                       re.IGNORECASE)


def type_name(value: Any) -> str:
    """The expr-lang name of a value's type, for messages and `type()`."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, datetime):
        return "time.Time"
    if isinstance(value, timedelta):
        return "time.Duration"
    return type(value).__name__


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def wrap_int(value: int) -> int:
    """Go int64 arithmetic wraps around instead of growing."""
    return (value - INT64_MIN) % 2 ** 64 + INT64_MIN


def require_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"{what} needs a bool, got {type_name(value)} ({value!r})")
    return value


def require_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ExpressionError(f"{what} needs a string, got {type_name(value)}")
    return value


def require_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise ExpressionError(f"{what} needs an array, got {type_name(value)}")
    return list(value)


def require_int(value: Any, what: str) -> int:
    if is_int(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ExpressionError(f"{what} needs an integer, got {type_name(value)} ({value!r})")


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def equal(left: Any, right: Any) -> bool:
    """expr's `==`: numbers by value across int/float, deep for arrays and maps."""
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(equal(a, b) for a, b in zip(left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(equal(v, right[k]) for k, v in left.items())
    if isinstance(left, datetime) and isinstance(right, datetime):
        return aware(left) == aware(right)
    if type(left) is not type(right):
        return False
    return bool(left == right)


def _ordered(left: Any, right: Any) -> tuple[Any, Any] | None:
    if is_number(left) and is_number(right):
        return left, right
    if isinstance(left, str) and isinstance(right, str):
        return left, right
    if isinstance(left, datetime) and isinstance(right, datetime):
        return aware(left), aware(right)
    if isinstance(left, timedelta) and isinstance(right, timedelta):
        return left, right
    return None


def compare(op: str, left: Any, right: Any) -> bool:
    """expr's `<`, `<=`, `>`, `>=` over numbers, strings, times and durations."""
    pair = _ordered(left, right)
    if pair is None:
        raise ExpressionError(f"invalid operation: {type_name(left)} {op} {type_name(right)}")
    a, b = pair
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def fetch(subject: Any, key: Any) -> Any:
    """`subject[key]` / `subject.key`: nil for a missing map key, errors otherwise."""
    if isinstance(subject, dict):
        if not isinstance(key, str):
            raise ExpressionError(f"cannot use {type_name(key)} as a map key")
        return subject.get(key)
    if isinstance(subject, (list, tuple, str)):
        return subject[_index(subject, key)]
    raise ExpressionError(f"cannot fetch {key!r} from {type_name(subject)}")


def _index(subject: Any, key: Any) -> int:
    if not is_number(key):
        raise ExpressionError(f"cannot fetch {key!r} from {type_name(subject)}")
    index = require_int(key, "index")
    position = index + len(subject) if index < 0 else index
    if not 0 <= position < len(subject):
        raise ExpressionError(f"index out of range: {index} (array length {len(subject)})")
    return position


def slice_of(subject: Any, low: Any, high: Any) -> Any:
    """`subject[low:high]` with Go-expr clamping; negative bounds count from the end."""
    if not isinstance(subject, (list, tuple, str)):
        raise ExpressionError(f"cannot slice {type_name(subject)}")
    size = len(subject)
    start = 0 if low is None else require_int(low, "slice bound")
    stop = size if high is None else require_int(high, "slice bound")
    start = max(start + size if start < 0 else start, 0)
    stop = min(stop + size if stop < 0 else stop, size)
    return subject[start:max(start, stop)]


def go_atoi(text: str, what: str) -> int:
    """strconv.ParseInt(text, 10, 64): "3" ok, "3.0" or " 3" is an error."""
    if not _GO_INT.fullmatch(text):
        raise ExpressionError(f"{what}: strconv.ParseInt: parsing {text!r}: invalid syntax")
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ExpressionError(f"{what}: strconv.ParseInt: parsing {text!r}: value out of range")
    return value


def go_parse_float(text: str, what: str) -> float:
    """strconv.ParseFloat(text, 64) for decimal syntax (no surrounding spaces)."""
    if not _GO_FLOAT.fullmatch(text):
        raise ExpressionError(f"{what}: strconv.ParseFloat: parsing {text!r}: invalid syntax")
    return float(text)


@lru_cache(maxsize=256)
def regex(pattern: str) -> re.Pattern[str]:
    """Compile a Go RE2 pattern with Python's re (close enough for Argo's uses)."""
    try:
        return re.compile(pattern.replace(r"\z", r"\Z"))
    except (re.error, RecursionError, OverflowError) as exc:
        raise ExpressionError(f"invalid regular expression {pattern!r}: {exc}") from None
