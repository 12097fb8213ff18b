"""Sensor dependency filters as Argo Events applies them (pkg/sensors/dependencies):
exprs, data, context and time, combined by `filtersLogicalOperator` (and | or).

`event` is the event a Sensor sees: {"context": {...}, "data": <parsed JSON>}."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from tiphys.events import paths
from tiphys.expr import exprlang

_GOVALUATE_MATCH = re.compile(r"(!~|=~)")


class FilterError(Exception):
    """A filter could not be evaluated (a missing path, a bad expression): the event is not
    passed under `and`, and this group counts as failed under `or`."""


def passes(filters: dict | None, event: dict, now: dt.datetime | None = None, operator: str | None = None) -> bool:
    """Whether the event passes a dependency's `filters` (`operator`: its filtersLogicalOperator)."""
    if not filters:
        return True
    groups = []
    order = (("exprs", _exprs), ("data", _data), ("context", _context), ("time", _time))
    operator = (operator or "and").lower()
    for key, check in order:
        if not filters.get(key):
            continue
        try:
            ok = check(filters, event, now) if key == "time" else check(filters, event)
        except FilterError:
            if operator != "or":
                return False
            ok = False
        if operator != "or" and not ok:
            return False
        groups.append(ok)
    return any(groups) if operator == "or" and groups else True


def _logical(values: list[bool], op: str | None) -> bool:
    return any(values) if (op or "and").lower() == "or" else all(values)


def _govaluate(expr: str, env: dict) -> Any:
    """govaluate text read by the expr-lang evaluator: the same operators except regexp
    matches (`=~`, `!~`), rewritten into `matches`."""
    parts = _GOVALUATE_MATCH.split(expr)
    if len(parts) == 3:
        left, op, right = parts
        text = f"({left.strip()}) matches ({right.strip()})"
        expr = text if op == "=~" else f"not ({text})"
    return exprlang.evaluate(expr, env)


def _exprs(filters: dict, event: dict) -> bool:
    data = event.get("data")
    if data is None:
        return True
    results = []
    for entry in filters.get("exprs") or []:
        env = {}
        for field in entry.get("fields") or []:
            value = paths.get(data, str(field.get("path") or ""))
            if value is paths.MISSING:
                raise FilterError(f"path {field.get('path')!r} does not exist")
            env[str(field.get("name"))] = float(value) if isinstance(value, (int, float)) and \
                not isinstance(value, bool) else value
        try:
            result = _govaluate(str(entry.get("expr") or ""), env)
        except Exception as exc:  # noqa: BLE001 - any evaluation failure rejects the event
            raise FilterError(str(exc)) from None
        results.append(result is True)
    return _logical(results, filters.get("exprLogicalOperator"))


def _compare(a: float, b: float, comparator: str) -> bool:
    return {">=": a >= b, ">": a > b, "=": a == b, "": a == b, "!=": a != b, "<": a < b, "<=": a <= b}.get(
        comparator, False)


def _data(filters: dict, event: dict) -> bool:
    data = event.get("data")
    if data is None:
        return True
    results = []
    for entry in filters.get("data") or []:
        value = paths.get(data, str(entry.get("path") or ""))
        if value is paths.MISSING:
            raise FilterError(f"path {entry.get('path')!r} does not exist")
        wanted = [str(v) for v in entry.get("value") or []]
        if not wanted:
            raise FilterError("data filter value is empty")
        text = paths.text(value)
        kind = (entry.get("type") or "string").lower()
        comparator = entry.get("comparator") or "="
        if kind == "bool":
            truth = text.lower() in ("1", "t", "true")
            ok = any(truth == (w.lower() in ("1", "t", "true")) for w in wanted)
        elif kind == "number":
            try:
                number = float(text)
                ok = any(_compare(number, float(w), comparator) for w in wanted)
            except ValueError as exc:
                raise FilterError(str(exc)) from None
        else:
            try:
                matched = any(re.search(w, text) for w in wanted)
            except re.error as exc:
                raise FilterError(str(exc)) from None
            ok = not matched if comparator == "!=" else matched
        results.append(ok)
    return _logical(results, filters.get("dataLogicalOperator"))


def _context(filters: dict, event: dict) -> bool:
    want = filters.get("context") or {}
    ctx = event.get("context") or {}
    return all(not want.get(k) or want.get(k) == ctx.get(k) for k in ("type", "subject", "source", "datacontenttype"))


def _clock(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise FilterError(f"time {text!r} is not HH:MM:SS") from None


def _time(filters: dict, event: dict, now: dt.datetime | None) -> bool:
    window = filters.get("time") or {}
    from tiphys.cron.schedule import zone
    tz = zone(window.get("timezone") or "UTC")
    when = now or dt.datetime.fromisoformat(str((event.get("context") or {}).get("time")).replace("Z", "+00:00"))
    local = when.astimezone(tz).time()
    start, stop = _clock(str(window.get("start") or "00:00:00")), _clock(str(window.get("stop") or "00:00:00"))
    if start <= stop:
        return start <= local < stop
    return local >= start or local < stop
