"""expr-lang's plain builtin functions plus Argo's additions (asInt, asFloat, toJson, jsonpath).

Each builtin declares its arity so a wrong call is a clear ExpressionError rather than a
Python TypeError; sizes of strings and lists they create are capped.  Predicate
builtins (filter, map, reduce, ...) need closures and live in the evaluator.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from tiphys.errors import ExpressionError
from tiphys.expr import gofmt, golayout
from tiphys.expr.exprvalues import (equal, go_atoi, go_parse_float, is_int, is_number, require_int,
                                    require_list, require_str, type_name)

MAX_SIZE = 1_000_000


_CLOCK: ContextVar[datetime | None] = ContextVar("tiphys_expr_clock", default=None)


def clock() -> datetime:
    """The time `now()` and sprig's date functions see: the caller's (see `clock_at`), else the wall clock."""
    return _CLOCK.get() or datetime.now(timezone.utc)


@contextmanager
def clock_at(now: float | datetime) -> Iterator[None]:
    """Evaluate expressions within as if the time were `now` (the engine passes its own clock,
    so a workflow's expressions are deterministic under a simulated clock)."""
    moment = now if isinstance(now, datetime) else datetime.fromtimestamp(now, timezone.utc)
    token = _CLOCK.set(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))
    try:
        yield
    finally:
        _CLOCK.reset(token)


@dataclass(frozen=True)
class Builtin:
    name: str
    function: Callable[..., Any]
    min_args: int
    max_args: int

    def __call__(self, *args: Any) -> Any:
        if not self.min_args <= len(args) <= self.max_args:
            expected = (str(self.min_args) if self.min_args == self.max_args
                        else f"{self.min_args} to {self.max_args}")
            raise ExpressionError(f"{self.name}() takes {expected} arguments, got {len(args)}")
        return self.function(*args)


def registry(table: dict[str, Builtin]) -> Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]]:
    """A decorator factory registering functions into `table` as Builtins."""
    def register(name: str, min_args: int, max_args: int | None = None):  # type: ignore[no-untyped-def]
        def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
            table[name] = Builtin(name, function, min_args, min_args if max_args is None else max_args)
            return function
        return wrap
    return register


def check_size(size: int, what: str) -> None:
    if size > MAX_SIZE:
        raise ExpressionError(f"{what} would be too large ({size} > {MAX_SIZE})")


FUNCTIONS: dict[str, Builtin] = {}
builtin = registry(FUNCTIONS)


@builtin("len", 1)
def _len(value: Any) -> int:
    if isinstance(value, (str, list, tuple, dict)):
        return len(value)
    raise ExpressionError(f"invalid argument for len (type {type_name(value)})")


@builtin("first", 1)
def _first(value: Any) -> Any:
    items = require_list(value, "first()")
    return items[0] if items else None


@builtin("last", 1)
def _last(value: Any) -> Any:
    items = require_list(value, "last()")
    return items[-1] if items else None


def _require_map(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ExpressionError(f"{what} needs a map, got {type_name(value)}")
    return value


@builtin("keys", 1)
def _keys(value: Any) -> list[Any]:
    return sorted(_require_map(value, "keys()"), key=str)


@builtin("values", 1)
def _values(value: Any) -> list[Any]:
    mapping = _require_map(value, "values()")
    return [mapping[k] for k in sorted(mapping, key=str)]


@builtin("get", 2)
def _get(subject: Any, key: Any) -> Any:
    if isinstance(subject, dict):
        return subject.get(key) if isinstance(key, str) else None
    if isinstance(subject, (list, tuple)) and is_int(key) and -len(subject) <= key < len(subject):
        return subject[key]
    return None


@builtin("join", 1, 2)
def _join(items: Any, separator: Any = "") -> str:
    parts = [require_str(item, "join()") for item in require_list(items, "join()")]
    return require_str(separator, "join()").join(parts)


@builtin("split", 2, 3)
def _split(text: Any, separator: Any, count: Any = -1) -> list[str]:
    text, separator, n = require_str(text, "split()"), require_str(separator, "split()"), require_int(count, "split()")
    if n == 0:
        return []
    if separator == "":
        chars = list(text)
        return chars if n < 0 or n >= len(chars) else chars[:n - 1] + ["".join(chars[n - 1:])]
    return text.split(separator, n - 1 if n > 0 else -1)


@builtin("upper", 1)
def _upper(text: Any) -> str:
    return require_str(text, "upper()").upper()


@builtin("lower", 1)
def _lower(text: Any) -> str:
    return require_str(text, "lower()").lower()


@builtin("trim", 1, 2)
def _trim(text: Any, cutset: Any = None) -> str:
    text = require_str(text, "trim()")
    return text.strip() if cutset is None else text.strip(require_str(cutset, "trim()"))


@builtin("trimPrefix", 1, 2)
def _trim_prefix(text: Any, prefix: Any = " ") -> str:
    return require_str(text, "trimPrefix()").removeprefix(require_str(prefix, "trimPrefix()"))


@builtin("trimSuffix", 1, 2)
def _trim_suffix(text: Any, suffix: Any = " ") -> str:
    return require_str(text, "trimSuffix()").removesuffix(require_str(suffix, "trimSuffix()"))


@builtin("replace", 3)
def _replace(text: Any, old: Any, new: Any) -> str:
    text, old, new = (require_str(v, "replace()") for v in (text, old, new))
    check_size(len(text) + (text.count(old) if old else len(text) + 1) * len(new), "replace() result")
    return text.replace(old, new)


@builtin("repeat", 2)
def _repeat(text: Any, count: Any) -> str:
    text, n = require_str(text, "repeat()"), require_int(count, "repeat()")
    if n < 0:
        raise ExpressionError("repeat() count must not be negative")
    check_size(len(text) * n, "repeat() result")
    return text * n


@builtin("hasPrefix", 2)
def _has_prefix(text: Any, prefix: Any) -> bool:
    return require_str(text, "hasPrefix()").startswith(require_str(prefix, "hasPrefix()"))


@builtin("hasSuffix", 2)
def _has_suffix(text: Any, suffix: Any) -> bool:
    return require_str(text, "hasSuffix()").endswith(require_str(suffix, "hasSuffix()"))


@builtin("indexOf", 2)
def _index_of(text: Any, sub: Any) -> int:
    return require_str(text, "indexOf()").find(require_str(sub, "indexOf()"))


@builtin("lastIndexOf", 2)
def _last_index_of(text: Any, sub: Any) -> int:
    return require_str(text, "lastIndexOf()").rfind(require_str(sub, "lastIndexOf()"))


@builtin("concat", 1, 1000)
def _concat(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for items in lists:
        out.extend(require_list(items, "concat()"))
        check_size(len(out), "concat() result")
    return out


def _flatten_into(items: list[Any], out: list[Any], depth: int) -> None:
    for item in items:
        if isinstance(item, (list, tuple)) and depth < 100:
            _flatten_into(list(item), out, depth + 1)
        else:
            out.append(item)


@builtin("flatten", 1)
def _flatten(items: Any) -> list[Any]:
    out: list[Any] = []
    _flatten_into(require_list(items, "flatten()"), out, 0)
    return out


@builtin("uniq", 1)
def _uniq(items: Any) -> list[Any]:
    out: list[Any] = []
    for item in require_list(items, "uniq()"):
        if not any(equal(item, seen) for seen in out):
            out.append(item)
    return out


@builtin("reverse", 1)
def _reverse(items: Any) -> list[Any]:
    return require_list(items, "reverse()")[::-1]


def _numbers(args: tuple[Any, ...], what: str) -> list[int | float]:
    values = require_list(args[0], what) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
    for value in values:
        if not is_number(value):
            raise ExpressionError(f"{what} needs numbers, got {type_name(value)}")
    return values


@builtin("min", 1, 1000)
def _min(*args: Any) -> Any:
    values = _numbers(args, "min()")
    return min(values) if values else None


@builtin("max", 1, 1000)
def _max(*args: Any) -> Any:
    values = _numbers(args, "max()")
    return max(values) if values else None


@builtin("mean", 1, 1000)
def _mean(*args: Any) -> float:
    values = _numbers(args, "mean()")
    return sum(values) / len(values) if values else 0.0


def _number(value: Any, what: str) -> int | float:
    if not is_number(value):
        raise ExpressionError(f"{what} needs a number, got {type_name(value)}")
    return value  # type: ignore[no-any-return]


def _finite(value: Any, what: str) -> float:
    number = float(_number(value, what))
    if math.isnan(number) or math.isinf(number):
        raise ExpressionError(f"{what} needs a finite number, got {number}")
    return number


@builtin("abs", 1)
def _abs(value: Any) -> int | float:
    return abs(_number(value, "abs()"))


@builtin("ceil", 1)
def _ceil(value: Any) -> float:
    return float(math.ceil(_finite(value, "ceil()")))


@builtin("floor", 1)
def _floor(value: Any) -> float:
    return float(math.floor(_finite(value, "floor()")))


@builtin("round", 1)
def _round(value: Any) -> float:
    number = _finite(value, "round()")
    return math.copysign(math.floor(abs(number) + 0.5), number)


@builtin("int", 1)
def _int(value: Any) -> int:
    if is_int(value):
        return int(value)
    if isinstance(value, float):
        return int(_finite(value, "int()"))
    if isinstance(value, str):
        return go_atoi(value, "int()")
    raise ExpressionError(f"invalid operation: int({type_name(value)})")


@builtin("float", 1)
def _float(value: Any) -> float:
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        return go_parse_float(value, "float()")
    raise ExpressionError(f"invalid operation: float({type_name(value)})")


FUNCTIONS["asInt"] = Builtin("asInt", _int, 1, 1)
FUNCTIONS["asFloat"] = Builtin("asFloat", _float, 1, 1)


@builtin("string", 1)
def _string(value: Any) -> str:
    return gofmt.sprint(value)


@builtin("type", 1)
def _type(value: Any) -> str:
    return type_name(value)


@builtin("toJson", 1)
def _to_json(value: Any) -> str:
    return gofmt.marshal(value)


@builtin("toJSON", 1)
def _to_json_indented(value: Any) -> str:
    return gofmt.marshal(value, indent="  ")


def _no_constant(name: str) -> float:
    raise ExpressionError(f"invalid JSON value {name}")


def from_json(text: Any, what: str = "fromJSON()") -> Any:
    """encoding/json.Unmarshal into interface{}: numbers become float64."""
    try:
        return json.loads(require_str(text, what), parse_int=float, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ExpressionError(f"{what}: invalid JSON: {exc}") from None


FUNCTIONS["fromJSON"] = Builtin("fromJSON", from_json, 1, 1)
FUNCTIONS["fromJson"] = Builtin("fromJson", from_json, 1, 1)


@builtin("toBase64", 1)
def _to_base64(text: Any) -> str:
    return base64.b64encode(require_str(text, "toBase64()").encode()).decode()


@builtin("fromBase64", 1)
def _from_base64(text: Any) -> str:
    try:
        return base64.b64decode(require_str(text, "fromBase64()"), validate=True).decode(errors="replace")
    except (binascii.Error, ValueError) as exc:
        raise ExpressionError(f"fromBase64(): {exc}") from None


@builtin("now", 0)
def _now() -> datetime:
    return clock()


@builtin("duration", 1)
def _duration(text: Any) -> Any:
    return golayout.parse_duration(require_str(text, "duration()"))


@builtin("date", 1, 2)
def _date(value: Any, layout: Any = None) -> datetime:
    if isinstance(value, datetime):
        return value
    text = require_str(value, "date()")
    if layout is None:
        return golayout.parse_date(text)
    return golayout.parse_time(text, require_str(layout, "date()"))


class Namespace:
    """A named group of functions reached as `name.function(...)`, like Argo's `sprig`."""

    def __init__(self, name: str, functions: dict[str, Builtin]):
        self.name, self.functions = name, functions

    def call(self, function: str, args: list[Any]) -> Any:
        if function not in self.functions:
            raise ExpressionError(f"unknown function {self.name}.{function}()")
        return self.functions[function](*args)

    def __repr__(self) -> str:
        return f"<namespace {self.name}>"
