"""The `sprig` namespace of Argo expressions (Masterminds/sprig GenericFuncMap subset).

Sprig functions take Go templates' argument order (`sprig.contains(substr, str)`,
`sprig.replace(old, new, src)`) and convert loosely with spf13/cast: a bad number is 0,
not an error.  Those conversions are reproduced here so `sprig.add('3', 1)` is 4 as in
Argo.  `sprig.date` formats with Go layouts in UTC (the controller's zone).
"""
from __future__ import annotations

import base64
import binascii
import math
import re
from datetime import datetime, timezone
from decimal import Decimal, localcontext
from typing import Any

from tiphys.errors import ExpressionError
from tiphys.expr import exprfuncs, gofmt, golayout
from tiphys.expr.exprfuncs import Builtin, Namespace, check_size, registry
from tiphys.expr.exprvalues import INT64_MAX, INT64_MIN, go_atoi, go_parse_float, is_int, is_number, wrap_int

FUNCTIONS: dict[str, Builtin] = {}
_sprig = registry(FUNCTIONS)
_VARIADIC = 1000
_PREFIXED = re.compile(r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9]*")


def to_int(value: Any) -> int:
    """spf13/cast.ToInt64 with errors turned into 0, as sprig does."""
    if value is None or isinstance(value, (list, dict)):
        return 0
    if isinstance(value, bool):
        return int(value)
    if is_int(value):
        return int(value)
    if isinstance(value, float):
        return 0 if math.isnan(value) or math.isinf(value) else wrap_int(int(value))
    if isinstance(value, str):
        return _parse_int(value)
    return 0


def _parse_int(text: str) -> int:
    if "." in text and set(text[text.index(".") + 1:]) <= {"0"}:
        text = text[:text.index(".")]
    sign, body = (-1, text[1:]) if text[:1] == "-" else (1, text[1:] if text[:1] == "+" else text)
    if not _PREFIXED.fullmatch(body):
        return 0
    clean = body.replace("_", "")
    base = 8 if len(clean) > 1 and clean[0] == "0" and clean[1].isdigit() else 0
    value = sign * int(clean, base)
    return value if INT64_MIN <= value <= INT64_MAX else 0


def to_float(value: Any) -> float:
    """spf13/cast.ToFloat64 with errors turned into 0."""
    if isinstance(value, bool):
        return float(value)
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return go_parse_float(value, "float64")
        except ExpressionError:
            return 0.0
    return 0.0


def strval(value: Any) -> str:
    return value if isinstance(value, str) else gofmt.sprint(value)


def _divisor(value: Any) -> int:
    number = to_int(value)
    if number == 0:
        raise ExpressionError("sprig: integer divide by zero")
    return number


@_sprig("add", 0, _VARIADIC)
def _add(*values: Any) -> int:
    total = 0
    for value in values:
        total = wrap_int(total + to_int(value))
    return total


@_sprig("add1", 1)
def _add1(a: Any) -> int:
    return wrap_int(to_int(a) + 1)


@_sprig("sub", 2)
def _sub(a: Any, b: Any) -> int:
    return wrap_int(to_int(a) - to_int(b))


@_sprig("mul", 1, _VARIADIC)
def _mul(a: Any, *rest: Any) -> int:
    product = to_int(a)
    for value in rest:
        product = wrap_int(product * to_int(value))
    return product


@_sprig("div", 2)
def _div(a: Any, b: Any) -> int:
    numerator, denominator = to_int(a), _divisor(b)
    quotient = abs(numerator) // abs(denominator)
    return wrap_int(quotient if (numerator < 0) == (denominator < 0) else -quotient)


@_sprig("mod", 2)
def _mod(a: Any, b: Any) -> int:
    numerator, denominator = to_int(a), _divisor(b)
    remainder = abs(numerator) % abs(denominator)
    return -remainder if numerator < 0 else remainder


@_sprig("max", 1, _VARIADIC)
def _max(*values: Any) -> int:
    return max(to_int(v) for v in values)


FUNCTIONS["biggest"] = Builtin("biggest", _max, 1, _VARIADIC)


@_sprig("min", 1, _VARIADIC)
def _min(*values: Any) -> int:
    return min(to_int(v) for v in values)


def _decimal(value: Any) -> Decimal:
    number = to_float(value)
    if math.isnan(number) or math.isinf(number):
        raise ExpressionError(f"sprig: cannot convert {gofmt.float_sprint(number)} to a decimal")
    return Decimal(repr(number))


def _decimal_fold(first: Any, rest: tuple[Any, ...], op: Any) -> float:
    """sprig's execDecimalOp: exact decimal arithmetic over the float64 values, then a float."""
    total = _decimal(first)
    with localcontext() as ctx:
        ctx.prec = 40
        for value in rest:
            total = op(total, _decimal(value))
    return float(total)


@_sprig("addf", 0, _VARIADIC)
def _addf(*values: Any) -> float:
    return _decimal_fold(0.0, values, lambda a, b: a + b)


@_sprig("add1f", 1)
def _add1f(value: Any) -> float:
    return _decimal_fold(value, (1,), lambda a, b: a + b)


@_sprig("subf", 1, _VARIADIC)
def _subf(first: Any, *rest: Any) -> float:
    return _decimal_fold(first, rest, lambda a, b: a - b)


@_sprig("mulf", 1, _VARIADIC)
def _mulf(first: Any, *rest: Any) -> float:
    return _decimal_fold(first, rest, lambda a, b: a * b)


def _divide(a: Decimal, b: Decimal) -> Decimal:
    if b == 0:
        raise ExpressionError("sprig: divf by zero")
    return a / b


@_sprig("divf", 1, _VARIADIC)
def _divf(first: Any, *rest: Any) -> float:
    return _decimal_fold(first, rest, _divide)


@_sprig("maxf", 1, _VARIADIC)
def _maxf(*values: Any) -> float:
    return max(to_float(v) for v in values)


@_sprig("minf", 1, _VARIADIC)
def _minf(*values: Any) -> float:
    return min(to_float(v) for v in values)


@_sprig("int", 1)
def _int(value: Any) -> int:
    return to_int(value)


FUNCTIONS["int64"] = Builtin("int64", _int, 1, 1)


@_sprig("float64", 1)
def _float64(value: Any) -> float:
    return to_float(value)


@_sprig("atoi", 1)
def _atoi(value: Any) -> int:
    try:
        return go_atoi(strval(value), "atoi")
    except ExpressionError:
        return 0


@_sprig("toString", 1)
def _to_string(value: Any) -> str:
    return strval(value)


@_sprig("b64enc", 1)
def _b64enc(value: Any) -> str:
    return base64.b64encode(strval(value).encode()).decode()


@_sprig("b64dec", 1)
def _b64dec(value: Any) -> str:
    try:
        return base64.b64decode(strval(value), validate=True).decode(errors="replace")
    except (binascii.Error, ValueError) as exc:
        return f"illegal base64 data: {exc}"


@_sprig("trim", 1)
def _trim(value: Any) -> str:
    return strval(value).strip()


@_sprig("trimAll", 2)
def _trim_all(cutset: Any, value: Any) -> str:
    return strval(value).strip(strval(cutset))


@_sprig("trimPrefix", 2)
def _trim_prefix(prefix: Any, value: Any) -> str:
    return strval(value).removeprefix(strval(prefix))


@_sprig("trimSuffix", 2)
def _trim_suffix(suffix: Any, value: Any) -> str:
    return strval(value).removesuffix(strval(suffix))


@_sprig("upper", 1)
def _upper(value: Any) -> str:
    return strval(value).upper()


@_sprig("lower", 1)
def _lower(value: Any) -> str:
    return strval(value).lower()


@_sprig("title", 1)
def _title(value: Any) -> str:
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), strval(value))


@_sprig("replace", 3)
def _replace(old: Any, new: Any, value: Any) -> str:
    return exprfuncs.FUNCTIONS["replace"](strval(value), strval(old), strval(new))


@_sprig("repeat", 2)
def _repeat(count: Any, value: Any) -> str:
    return exprfuncs.FUNCTIONS["repeat"](strval(value), max(to_int(count), 0))


@_sprig("substr", 3)
def _substr(start: Any, end: Any, value: Any) -> str:
    text, first, last = strval(value), to_int(start), to_int(end)
    if first < 0:
        return text[:last]
    return text[first:] if last < 0 or last > len(text) else text[first:last]


@_sprig("contains", 2)
def _contains(sub: Any, value: Any) -> bool:
    return strval(sub) in strval(value)


@_sprig("hasPrefix", 2)
def _has_prefix(prefix: Any, value: Any) -> bool:
    return strval(value).startswith(strval(prefix))


@_sprig("hasSuffix", 2)
def _has_suffix(suffix: Any, value: Any) -> bool:
    return strval(value).endswith(strval(suffix))


@_sprig("quote", 0, _VARIADIC)
def _quote(*values: Any) -> str:
    return " ".join(gofmt.quote(strval(v)) for v in values if v is not None)


@_sprig("squote", 0, _VARIADIC)
def _squote(*values: Any) -> str:
    return " ".join(f"'{strval(v)}'" for v in values if v is not None)


def empty(value: Any) -> bool:
    """sprig's notion of an empty value: nil, false, 0, "", empty list or map."""
    if value is None or value is False:
        return True
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) == 0
    return is_number(value) and value == 0


@_sprig("empty", 1)
def _empty(value: Any) -> bool:
    return empty(value)


@_sprig("default", 1, _VARIADIC)
def _default(fallback: Any, *given: Any) -> Any:
    return fallback if not given or empty(given[0]) else given[0]


@_sprig("coalesce", 0, _VARIADIC)
def _coalesce(*values: Any) -> Any:
    return next((v for v in values if not empty(v)), None)


@_sprig("ternary", 3)
def _ternary(yes: Any, no: Any, condition: Any) -> Any:
    return yes if condition is True else no


@_sprig("list", 0, _VARIADIC)
def _list(*values: Any) -> list[Any]:
    return list(values)


@_sprig("join", 2)
def _join(separator: Any, values: Any) -> str:
    items = values if isinstance(values, (list, tuple)) else [values]
    return strval(separator).join(strval(v) for v in items if v is not None)


@_sprig("splitList", 2)
def _split_list(separator: Any, value: Any) -> list[str]:
    sep, text = strval(separator), strval(value)
    if sep == "":
        return list(text)
    return text.split(sep)


@_sprig("toJson", 1)
def _to_json(value: Any) -> str:
    return gofmt.marshal(value)


@_sprig("fromJson", 1)
def _from_json(value: Any) -> Any:
    return exprfuncs.from_json(strval(value), "sprig.fromJson()")


def _moment(value: Any) -> datetime:
    """The time sprig's date functions see; anything unreadable is "now", as in Go."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if is_number(value) and not math.isnan(value) and abs(value) < 1e11:
        return datetime.fromtimestamp(int(value), timezone.utc)
    if isinstance(value, str):
        try:
            return golayout.parse_date(value)
        except ExpressionError:
            return exprfuncs.clock()
    return exprfuncs.clock()


@_sprig("date", 2)
def _date(layout: Any, value: Any) -> str:
    return golayout.format_time(_moment(value).astimezone(timezone.utc), strval(layout))


@_sprig("now", 0)
def _now() -> datetime:
    return exprfuncs.clock()


@_sprig("dateModify", 2)
def _date_modify(change: Any, value: Any) -> datetime:
    moment = _moment(value)
    try:
        return moment + golayout.parse_duration(strval(change))
    except ExpressionError:
        return moment
    except OverflowError:
        raise ExpressionError("sprig.dateModify: date out of range") from None


@_sprig("unixEpoch", 1)
def _unix_epoch(value: Any) -> str:
    return str(int(_moment(value).timestamp()))


@_sprig("until", 1)
def _until(count: Any) -> list[int]:
    n = to_int(count)
    check_size(abs(n), "sprig.until() result")
    return list(range(n)) if n >= 0 else list(range(0, n, -1))


NAMESPACE = Namespace("sprig", FUNCTIONS)
