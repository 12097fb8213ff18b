"""Go-compatible printing of values: what `json.Marshal` and `fmt.Sprint("%v")` produce.

Argo renders `{{=expr}}` results with Go's encoding/json, Argo's `toJson` is
`json.Marshal`, and expr's `string()` is `fmt.Sprintf("%v")`.  Python's defaults differ
(integral floats print `30.0`, other exponent thresholds, no HTML escaping, unsorted
maps), so every place that turns a value into text goes through this module.
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from tiphys.errors import ExpressionError

_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                 "\u2028": "\\u2028", "\u2029": "\\u2029"}
_NS_PER_SECOND = 1_000_000_000


def _digits(x: float) -> tuple[str, int]:
    """Shortest round-trip digits of |x| and the decimal exponent of the first digit."""
    _, digits, exponent = Decimal(repr(abs(x))).as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    stripped = text.rstrip("0")
    return stripped, len(text) + exponent - 1


def _fixed(digits: str, exp: int) -> str:
    if exp < 0:
        return "0." + "0" * (-exp - 1) + digits
    if len(digits) <= exp + 1:
        return digits + "0" * (exp + 1 - len(digits))
    return digits[:exp + 1] + "." + digits[exp + 1:]


def _scientific(digits: str, exp: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _check_finite(x: float) -> None:
    if math.isnan(x) or math.isinf(x):
        raise ExpressionError(f"unsupported value: {x!r} cannot be printed as JSON")


def float_json(x: float) -> str:
    """A float64 as Go's encoding/json writes it (3.0 -> "3", 1e-7 -> "1e-7")."""
    _check_finite(x)
    if x == 0:
        return "0"
    digits, exp = _digits(x)
    sign = "-" if x < 0 else ""
    if 1e-6 <= abs(x) < 1e21:
        return sign + _fixed(digits, exp)
    text = _scientific(digits, exp)
    if "e-0" in text:
        text = text.replace("e-0", "e-")
    return sign + text


def float_sprint(x: float) -> str:
    """A float64 as Go's %v writes it (3.0 -> "3", 1e6 -> "1e+06")."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    digits, exp = _digits(x)
    sign = "-" if x < 0 else ""
    if exp < -4 or exp >= 6:
        return sign + _scientific(digits, exp)
    return sign + _fixed(digits, exp)


def quote(text: str) -> str:
    """A JSON string literal with Go's HTML-safe escaping."""
    out = json.dumps(text, ensure_ascii=False)
    for raw, escaped in _HTML_ESCAPES.items():
        out = out.replace(raw, escaped)
    return out


def rfc3339(moment: datetime) -> str:
    """Go's time.RFC3339Nano text of a datetime (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    offset = moment.utcoffset() or timedelta(0)
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return text + f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def nanoseconds(delta: timedelta) -> int:
    """A timedelta as Go's time.Duration (int64 nanoseconds)."""
    return (delta.days * 86_400 + delta.seconds) * _NS_PER_SECOND + delta.microseconds * 1000


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    tail = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{tail}" if tail else str(whole)


def duration_string(delta: timedelta) -> str:
    """Go's Duration.String(): "1h0m0s", "1m30s", "1.5s", "500ms"."""
    ns = nanoseconds(delta)
    if ns == 0:
        return "0s"
    sign, value = ("-" if ns < 0 else ""), abs(ns)
    if value < 1000:
        return f"{sign}{value}ns"
    if value < 1_000_000:
        return f"{sign}{_fraction(value, 1000)}µs"
    if value < _NS_PER_SECOND:
        return f"{sign}{_fraction(value, 1_000_000)}ms"
    hours, rest = divmod(value, 3600 * _NS_PER_SECOND)
    minutes, rest = divmod(rest, 60 * _NS_PER_SECOND)
    seconds = _fraction(rest, _NS_PER_SECOND) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    return f"{sign}{minutes}m{seconds}" if minutes else sign + seconds


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise ExpressionError(f"json: unsupported map key type {type(key).__name__}")


def marshal(value: Any, indent: str | None = None) -> str:
    """Go's json.Marshal (or MarshalIndent with `indent`) of a JSON-like value."""
    try:
        return _marshal(value, indent, 0)
    except RecursionError:
        raise ExpressionError("json: value is nested too deeply") from None


def _marshal(value: Any, indent: str | None, level: int) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_json(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, datetime):
        return quote(rfc3339(value))
    if isinstance(value, timedelta):
        return str(nanoseconds(value))
    if isinstance(value, (list, tuple)):
        return _container("[", "]", [_marshal(v, indent, level + 1) for v in value], indent, level)
    if isinstance(value, dict):
        pairs = sorted((_key(k), v) for k, v in value.items())
        sep = ": " if indent is not None else ":"
        items = [quote(k) + sep + _marshal(v, indent, level + 1) for k, v in pairs]
        return _container("{", "}", items, indent, level)
    raise ExpressionError(f"json: unsupported type {type(value).__name__}")


def _container(open_: str, close: str, items: list[str], indent: str | None, level: int) -> str:
    if indent is None or not items:
        return open_ + ",".join(items) + close
    inner = "\n" + indent * (level + 1)
    return open_ + inner + ("," + inner).join(items) + "\n" + indent * level + close


def sprint(value: Any) -> str:
    """Go's fmt.Sprintf("%v", value) for JSON-like values, times and durations."""
    try:
        return _sprint(value)
    except RecursionError:
        raise ExpressionError("value is nested too deeply to print") from None


def _sprint(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return float_sprint(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_sprint(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = sorted((_sprint(k), _sprint(v)) for k, v in value.items())
        return "map[" + " ".join(f"{k}:{v}" for k, v in pairs) + "]"
    if isinstance(value, datetime):
        return _time_string(value)
    if isinstance(value, timedelta):
        return duration_string(value)
    return str(value)


def _time_string(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    offset = moment.strftime("%z") or "+0000"
    name = "UTC" if moment.utcoffset() == timedelta(0) else offset
    return f"{text} {offset} {name}"
