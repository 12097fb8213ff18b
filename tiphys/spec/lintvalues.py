"""Field vocabularies and value-shape helpers shared by every lint check.

The lint is split by concept (lintdocs, linttemplates, lintflows, lintrefs, assembled in
lint.py); what they all need to recognise a value (a duration, an int-like scalar, a
`{{...}}` string) and to word a message (quoting, "declared: ..." hints, field paths)
lives here, once.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

LOOP_FIELDS = ("withItems", "withParam", "withSequence")
ARTIFACT_LOCATIONS = ("s3", "gcs", "azure", "oss", "hdfs", "artifactory", "git", "http", "raw",
                      "plugin", "from", "fromExpression")

_FIELD_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
_PARAM_NAME = re.compile(r"^[-a-zA-Z0-9_]+$")
_DURATION = re.compile(r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d))+$")
_INT = re.compile(r"^\s*[-+]?\d+\s*$")


def _templated(v: Any) -> bool:
    return isinstance(v, str) and "{{" in v


def parameter_value_problems(p: dict, path: str) -> list[tuple[str, str]]:
    """(field path, message) for each value of parameter `p` that is not a string, number or
    bool: Argo's Parameter.value / default / valueFrom.default / enum items are AnyString."""
    found = []
    vf = p.get("valueFrom")
    fields = [("value", p.get("value")), ("default", p.get("default")),
              ("valueFrom.default", vf.get("default") if isinstance(vf, dict) else None)]
    enum = p.get("enum")
    if isinstance(enum, list):
        fields += [(f"enum[{i}]", e) for i, e in enumerate(enum)]
    for field, v in fields:
        if isinstance(v, (dict, list)):
            what = "a list" if isinstance(v, list) else "a mapping"
            found.append((f"{path}.{field}", f"parameter {field} must be a string, number or bool, not {what} "
                                             "(quote it to pass JSON text)"))
    return found


def _s(v: Any) -> str:
    """A scalar as Argo would see it as a string."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _is_int_like(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    return isinstance(v, str) and bool(_INT.match(v))


def _duration_problem(v: Any, *, allow_int: bool = True) -> str | None:
    if _templated(v):
        return None
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        return f"invalid duration {_q(v)}"
    if isinstance(v, int) or v.strip().isdigit():
        return None if allow_int else f"invalid duration {_q(v)}: a bare number is not allowed, add a unit (e.g. {v}s)"
    if _DURATION.match(v.strip()):
        return None
    return f"invalid duration {_q(v)} (expected e.g. 30s, 1m30s, 2h, 1d)"


def _list_of_dicts(v: Any) -> list[dict]:
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _names(items: Any) -> set[str]:
    return {x["name"] for x in _list_of_dicts(items) if isinstance(x.get("name"), str)}


def _dict(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _has_location(art: dict) -> bool:
    return any(art.get(k) not in (None, "") for k in ARTIFACT_LOCATIONS)


def _q(v: Any) -> str:
    return f'"{v}"'


def _declared(names: Iterable[str], what: str = "declared") -> str:
    names = sorted(names)
    if not names:
        return f" (none {what})" if what == "declared" else ""
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    return f" ({what}: {shown})"


def _fmt_path(path: Any) -> str:
    if isinstance(path, str):
        return path
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
