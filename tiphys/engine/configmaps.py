"""Parameters read from a ConfigMap (`valueFrom.configMapKeyRef`).

ConfigMaps are the ones in Tiphys' store (`tiphys apply`, or ConfigMap documents beside the
workflow), in the workflow's namespace; the engine reads them through its registry lookup
(`registry("ConfigMap", name)`). When the ConfigMap or its key is missing a parameter gets what
Argo gives: its `valueFrom.default`, or, without one, an error naming the ConfigMap (Argo errors
the node). A parameter that also has a `value` (an argument overriding an input) never reads it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tiphys.errors import SpecError

Find = Callable[[str], "dict[str, Any] | None"]    # ConfigMap name -> the ConfigMap, None if absent


def _stored(param: dict[str, Any], find: Find | None, render: Callable[[Any], Any]) -> Any:
    """The value the ConfigMap holds for `param`, None when it or its key is absent."""
    ref = param["valueFrom"]["configMapKeyRef"]
    if find is None:
        return None
    found = find(str(render(ref.get("name", ""))))
    data = (found or {}).get("data") if isinstance(found, dict) else None
    key = str(render(ref.get("key", "")))
    return data.get(key) if isinstance(data, dict) else None


def reads_configmap(param: dict[str, Any]) -> bool:
    """True when `param` takes its value from a ConfigMap (and has no `value` of its own)."""
    vf = param.get("valueFrom")
    return isinstance(vf, dict) and isinstance(vf.get("configMapKeyRef"), dict) and "value" not in param


def value_or_default(param: dict[str, Any], find: Find | None = None) -> Any:
    """The ConfigMap's value for `param`, else its default (None: neither)."""
    value = _stored(param, find, lambda v: v)
    return value if value is not None else (param.get("valueFrom") or {}).get("default")


def value_of(param: dict[str, Any], where: str, render: Callable[[Any], Any] = lambda v: v,
             find: Find | None = None) -> Any:
    """The value of a ConfigMap parameter: the ConfigMap's, its default, or a SpecError naming
    the ConfigMap."""
    value = _stored(param, find, render)
    if value is not None:
        return value
    default = (param.get("valueFrom") or {}).get("default")
    if default is not None:
        return render(default)
    ref = param["valueFrom"]["configMapKeyRef"]
    name, key = render(ref.get("name", "")), render(ref.get("key", ""))
    raise SpecError(f"parameter {param.get('name')!r}: ConfigMap {name!r} (key {key!r}) not found "
                    "(tiphys apply -f it, or give valueFrom.default)", path=where)
