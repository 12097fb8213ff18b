"""Expansion of `withItems`, `withParam` and `withSequence` into (label, item) pairs."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tiphys.errors import ExpressionError

Render = Callable[[Any], Any]


def has_loop(step: dict[str, Any]) -> bool:
    return "withItems" in step or "withParam" in step or "withSequence" in step


def label(item: Any) -> str:
    """How Argo shows an item in a node name: maps as k:v pairs sorted by key."""
    if isinstance(item, dict):
        return ",".join(f"{k}:{_scalar(v)}" for k, v in sorted(item.items()))
    return _scalar(item)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def expand(step: dict[str, Any], render: Render) -> list[Any]:
    """The items of a looped step, rendered in the caller's scope."""
    if "withItems" in step:
        items = render(step["withItems"])
        if not isinstance(items, list):
            raise ExpressionError("withItems must be a list")
        return items
    if "withParam" in step:
        text = render(step["withParam"])
        if isinstance(text, list):
            return text
        try:
            items = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise ExpressionError(f"withParam value could not be parsed as a JSON list: {str(text)[:200]}") from exc
        if not isinstance(items, list):
            raise ExpressionError(f"withParam value is not a JSON list: {str(text)[:200]}")
        return items
    return _sequence(render(step["withSequence"]))


def _sequence(seq: dict[str, Any]) -> list[str]:
    def num(key: str) -> int | None:
        if key not in seq or seq[key] in (None, ""):
            return None
        try:
            return int(str(seq[key]).strip())
        except ValueError as exc:
            raise ExpressionError(f"withSequence.{key} must be an integer, got {seq[key]!r}") from exc

    count, start, end = num("count"), num("start"), num("end")
    fmt = seq.get("format")
    if count is not None and end is not None:
        raise ExpressionError("withSequence: only one of count or end can be defined")
    start = start or 0
    if count is not None:
        values = list(range(start, start + count))
    elif end is not None:
        values = list(range(start, end + 1)) if end >= start else list(range(start, end - 1, -1))
    else:
        raise ExpressionError("withSequence: one of count or end must be defined")
    if fmt:
        try:
            return [fmt % v for v in values]
        except (TypeError, ValueError) as exc:
            raise ExpressionError(f"withSequence.format {fmt!r} is invalid") from exc
    return [str(v) for v in values]
