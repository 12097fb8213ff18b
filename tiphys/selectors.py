"""Kubernetes list options as Argo Server reads them: label and field selectors, nameFilter,
createdAfter/finishedBefore, limit/continue pagination and the `fields` projection."""
from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from tiphys.errors import SpecError

Predicate = Callable[[dict], bool]

_LABEL_OP = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(==|=|!=|\s+in\s+|\s+notin\s+)\s*(.*?))?\s*$")


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses (`a in (x,y),b=c`)."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in (p.strip() for p in parts) if p]


def split_terms(text: str) -> list[str]:
    """The comma-separated terms of a label or field selector."""
    return _split_top(text)


def label_selector(text: str | None) -> Predicate:
    """`k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma = AND."""
    tests: list[Predicate] = []
    for part in _split_top(text or ""):
        m = _LABEL_OP.match(part)
        if not m or (m.group(1) and m.group(3)):
            raise SpecError(f"unable to parse requirement: {part!r}")
        neg, key, op, value = m.group(1), m.group(2), (m.group(3) or "").strip(), (m.group(4) or "").strip()
        if op in ("in", "notin"):
            if not (value.startswith("(") and value.endswith(")")):
                raise SpecError(f"unable to parse requirement: {part!r}: expected (v1,v2)")
            values = {v.strip() for v in value[1:-1].split(",") if v.strip()}
            tests.append(_set_test(key, values, op == "in"))
        elif op:
            tests.append(_eq_test(key, value, op != "!="))
        else:
            tests.append(_exists_test(key, not neg))
    return lambda obj: all(t(_labels(obj)) for t in tests)


def _labels(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def _set_test(key: str, values: set[str], inside: bool) -> Callable[[dict], bool]:
    return lambda labels: (key in labels and labels[key] in values) if inside else labels.get(key) not in values


def _eq_test(key: str, value: str, equal: bool) -> Callable[[dict], bool]:
    return lambda labels: (labels.get(key) == value) if equal else labels.get(key) != value


def _exists_test(key: str, present: bool) -> Callable[[dict], bool]:
    return lambda labels: (key in labels) == present


def _path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def field_selector(text: str | None, name_filter: str | None = None) -> Predicate:
    """`metadata.name=x` (matched per nameFilter Exact|Prefix|Contains), `status.phase=Running`,
    `f!=v`, any dotted path; `spec.startedAt>T` style bounds are not supported."""
    mode = (name_filter or "Exact").capitalize()
    if mode not in ("Exact", "Prefix", "Contains"):
        raise SpecError(f"nameFilter {name_filter!r}: expected Exact, Prefix or Contains")
    tests: list[Predicate] = []
    for part in _split_top(text or ""):
        m = re.match(r"^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise SpecError(f"invalid field selector: {part!r}")
        path, op, value = m.group(1), m.group(2), m.group(3).strip()
        if path == "metadata.name" and op != "!=" and mode != "Exact":
            tests.append(_name_test(value, mode))
        else:
            tests.append(_field_test(path, value, op != "!="))
    return lambda obj: all(t(obj) for t in tests)


def _name_test(value: str, mode: str) -> Predicate:
    if mode == "Prefix":
        return lambda obj: str(_path(obj, "metadata.name") or "").startswith(value)
    return lambda obj: value in str(_path(obj, "metadata.name") or "")


def _field_test(path: str, value: str, equal: bool) -> Predicate:
    def test(obj: dict) -> bool:
        got = _path(obj, path)
        got = "" if got is None else (got if isinstance(got, str) else json.dumps(got))
        return (got == value) == equal
    return test


def exact_name(text: str | None, name_filter: str | None) -> tuple[str | None, str | None]:
    """(phase, prefix) the store can filter on before Python does the rest."""
    phase = prefix = None
    for part in _split_top(text or ""):
        m = re.match(r"^([A-Za-z0-9_.]+)\s*(==|=)\s*(.*)$", part)
        if not m:
            continue
        if m.group(1) == "status.phase":
            phase = m.group(3).strip()
        elif m.group(1) == "metadata.name" and (name_filter or "Exact").capitalize() in ("Exact", "Prefix"):
            prefix = m.group(3).strip()
    return phase, prefix


def time_bounds(created_after: str | None, finished_before: str | None) -> Predicate:
    """Argo's createdAfter / finishedBefore (RFC 3339; compared as UTC strings)."""
    after = _rfc3339(created_after, "createdAfter")
    before = _rfc3339(finished_before, "finishedBefore")

    def test(obj: dict) -> bool:
        if after and str(_path(obj, "metadata.creationTimestamp") or "") <= after:
            return False
        if before:
            finished = str(_path(obj, "status.finishedAt") or "")
            return bool(finished) and finished < before
        return True
    return test


def _rfc3339(value: str | None, what: str) -> str | None:
    if not value:
        return None
    import datetime as dt
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SpecError(f"{what} {value!r}: expected an RFC 3339 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- pagination ------------------------------------------------------------------------------

def sort_key(obj: dict) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("creationTimestamp") or ""), str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def paginate(items: list[dict], limit: str | int | None, token: str | None) -> tuple[list[dict], str]:
    """Items sorted newest first (creationTimestamp, namespace, name descending); a page of
    `limit` starting after the item the opaque `continue` token names, and the next token."""
    items = sorted(items, key=sort_key, reverse=True)
    if token:
        try:
            last = tuple(json.loads(base64.urlsafe_b64decode(token.encode() + b"==")))
        except (ValueError, TypeError):
            raise SpecError("listOptions.continue: not a continue token this server issued") from None
        items = [i for i in items if sort_key(i) < last]
    try:
        n = int(limit or 0)
    except ValueError:
        raise SpecError(f"listOptions.limit {limit!r}: expected an integer") from None
    if n <= 0 or len(items) <= n:
        return items, ""
    page = items[:n]
    nxt = base64.urlsafe_b64encode(json.dumps(list(sort_key(page[-1]))).encode()).decode().rstrip("=")
    return page, nxt


# -- fields projection -----------------------------------------------------------------------

def project(answer: dict, fields: str | None) -> dict:
    """Argo's `fields`: `metadata,items.metadata.name,...` keeps only those paths;
    a leading `-` (`-items.status.nodes`) removes them instead."""
    if not fields:
        return answer
    exclude = fields.startswith("-")
    paths = [p.strip().split(".") for p in fields.lstrip("-").split(",") if p.strip()]
    if exclude:
        for p in paths:
            _remove(answer, p)
        return answer
    return _keep(answer, paths)


def _remove(obj: Any, path: list[str]) -> None:
    if isinstance(obj, list):
        for item in obj:
            _remove(item, path)
    elif isinstance(obj, dict) and path:
        if len(path) == 1:
            obj.pop(path[0], None)
        elif path[0] in obj:
            _remove(obj[path[0]], path[1:])


def _keep(obj: Any, paths: Iterable[list[str]]) -> Any:
    paths = list(paths)
    if any(not p for p in paths):
        return obj
    if isinstance(obj, list):
        return [_keep(item, paths) for item in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for key in dict.fromkeys(p[0] for p in paths):
        if key in obj:
            out[key] = _keep(obj[key], [p[1:] for p in paths if p[0] == key])
    return out
