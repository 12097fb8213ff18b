"""Trigger parameters (pkg/sensors/triggers/params.go): a value taken from the events that
fired a trigger (`dataKey`, `dataTemplate`, `contextKey`, `contextTemplate`, `value`,
`useRawData`) written at `dest` with `operation` overwrite | append | prepend."""
from __future__ import annotations

import base64
import json
import re
from typing import Any

from tiphys.events import paths

_TEMPLATE = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)


class ParameterError(Exception):
    pass


def _render(template: str, root: Any) -> str:
    """A Go template over `.Input` (the event's data or context) with the sprig functions a
    pipeline names: `{{ .Input.body.name }}`, `{{ .Input.body.name | upper }}`."""
    from tiphys.expr import sprig

    def one(match: re.Match) -> str:
        stages = [s.strip() for s in match.group(1).split("|")]
        value: Any = _lookup(stages[0], root)
        for stage in stages[1:]:
            name, *args = stage.split()
            fn = sprig.FUNCTIONS.get(name) if hasattr(sprig, "FUNCTIONS") else None
            if fn is None:
                raise ParameterError(f"template function {name!r} is not known")
            value = fn(*[json.loads(a) if a[:1] in "\"0123456789-" else a for a in args], value)
        if value is None or value is paths.MISSING:
            return "<no value>"
        return paths.text(value) if not isinstance(value, str) else value
    return _TEMPLATE.sub(one, template)


def _lookup(expr: str, root: Any) -> Any:
    if expr.startswith('"') and expr.endswith('"'):
        return json.loads(expr)
    if not expr.startswith(".Input"):
        raise ParameterError(f"template expression {expr!r} is not supported (use .Input...)")
    rest = expr[len(".Input"):].lstrip(".")
    return root if not rest else paths.get(root, rest)


def _event_json(event: dict) -> str:
    """json.Marshal of the event as Go sees it: data is []byte, so base64."""
    data = json.dumps(event.get("data"), separators=(",", ":")).encode()
    return json.dumps({"context": event.get("context"), "data": base64.b64encode(data).decode()},
                      separators=(",", ":"))


def resolve(src: dict, events: dict[str, dict]) -> tuple[Any, bool]:
    """(value, raw): the parameter's value, and whether it is to be written as raw JSON."""
    event = events.get(str(src.get("dependencyName") or ""))
    default = src.get("value")
    if event is None:
        if default is not None:
            return default, False
        raise ParameterError(f"no event for dependency {src.get('dependencyName')!r} and no default value")
    keys = ("dataKey", "dataTemplate", "contextKey", "contextTemplate")
    if not any(src.get(k) for k in keys):
        return (default, False) if default is not None else (_event_json(event), False)
    use_data = bool(src.get("dataKey") or src.get("dataTemplate"))
    root = event.get("data") if use_data else event.get("context")
    template = src.get("dataTemplate") if use_data else src.get("contextTemplate")
    key = src.get("dataKey") if use_data else src.get("contextKey")
    if template:
        rendered = _render(str(template), root)
        if rendered and rendered != "<no value>":
            return rendered, False
    if key:
        found = paths.get(root, str(key))
        if found is not paths.MISSING:
            return found, bool(src.get("useRawData")) and not isinstance(found, str)
    if default is not None:
        return default, False
    raise ParameterError(f"unable to resolve {key or template!r} from the event of "
                         f"dependency {src.get('dependencyName')!r}")


def apply(obj: Any, parameters: list[dict] | None, events: dict[str, dict]) -> Any:
    """Write every parameter into `obj` (a dict, changed in place and returned)."""
    for i, param in enumerate(parameters or []):
        src, dest = param.get("src") or {}, str(param.get("dest") or "")
        if not dest:
            raise ParameterError(f"parameters[{i}].dest is required")
        value, raw = resolve(src, events)
        new: Any = value if raw else (value if isinstance(value, str) else paths.text(value))
        op = (param.get("operation") or "overwrite").lower()
        if op in ("append", "prepend"):
            old = paths.get(obj, dest)
            if old is not paths.MISSING:
                old_text = old if isinstance(old, str) else paths.text(old)
                new = old_text + paths.text(new) if op == "append" else paths.text(new) + old_text
        try:
            paths.put(obj, dest, new)
        except (KeyError, ValueError) as exc:
            raise ParameterError(f"parameters[{i}].dest {dest!r}: {exc}") from None
    return obj
