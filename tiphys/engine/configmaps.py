"""Parameters read from a ConfigMap (`valueFrom.configMapKeyRef`).

Tiphys runs without a Kubernetes API, so no ConfigMap exists: a parameter that reads one gets
what Argo gives when the ConfigMap or its key is missing, that is its `valueFrom.default`, or,
without one, an error naming the ConfigMap (Argo errors the node, `ToBeErrored`). A parameter
that also has a `value` (an argument overriding an input) never reads the ConfigMap.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tiphys.errors import SpecError


def reads_configmap(param: dict[str, Any]) -> bool:
    """True when `param` takes its value from a ConfigMap (and has no `value` of its own)."""
    vf = param.get("valueFrom")
    return isinstance(vf, dict) and isinstance(vf.get("configMapKeyRef"), dict) and "value" not in param


def default_of(param: dict[str, Any]) -> Any:
    """The value a ConfigMap parameter gets when the ConfigMap is absent (None: no default)."""
    return (param.get("valueFrom") or {}).get("default")


def value_of(param: dict[str, Any], where: str, render: Callable[[Any], Any] = lambda v: v) -> Any:
    """The value of a ConfigMap parameter: its default, or a SpecError naming the ConfigMap."""
    default = default_of(param)
    if default is not None:
        return render(default)
    ref = param["valueFrom"]["configMapKeyRef"]
    name, key = render(ref.get("name", "")), render(ref.get("key", ""))
    raise SpecError(f"parameter {param.get('name')!r}: ConfigMap {name!r} (key {key!r}) not found: Tiphys has no "
                    "ConfigMaps; give valueFrom.default or a value", path=where)
