"""Kubernetes' strategic merge patch, for the fields of a PodSpec: how `podSpecPatch` is
applied to the pod Argo builds (`workflowpod.go` hands it to Kubernetes'
`strategicpatch.StrategicMergePatch` with the PodSpec's patch metadata).

Maps merge key by key, `null` deletes a key. A list whose field Kubernetes marks
`patchStrategy: merge` merges its items by their merge key (a patch item with the key of an
existing item is merged into it, a new key is appended, `$patch: delete` removes one); any
other list is replaced whole. `$patch: replace` in a map replaces that map instead of
merging. Pure data in, data out.
"""
from __future__ import annotations

import copy
from typing import Any

# field name -> merge key, for the list fields of a PodSpec (and its containers) that
# Kubernetes merges instead of replacing
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "tolerations": "key",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}
_DIRECTIVE = "$patch"


def strategic_merge(target: Any, patch: Any) -> Any:
    """`target` with `patch` applied (neither is changed)."""
    return _merge(copy.deepcopy(target), copy.deepcopy(patch))


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    if patch.get(_DIRECTIVE) == "replace":
        return {k: v for k, v in patch.items() if k != _DIRECTIVE}
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if key == _DIRECTIVE:
            continue
        if value is None:
            target.pop(key, None)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(target.get(key), list):
            target[key] = _merge_list(target[key], value, MERGE_KEYS[key])
        elif isinstance(value, dict):
            target[key] = _merge(target.get(key), value)
        else:
            target[key] = _clean(value)
    return target


def _merge_list(items: list[Any], patch: list[Any], key: str) -> list[Any]:
    out = list(items)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            if isinstance(item, dict) and item.get(_DIRECTIVE) == "replace":
                return [_clean(i) for i in patch if i is not item]
            out.append(_clean(item))
            continue
        at = next((i for i, old in enumerate(out) if isinstance(old, dict) and old.get(key) == item[key]), None)
        if item.get(_DIRECTIVE) == "delete":
            if at is not None:
                out.pop(at)
        elif at is None:
            out.append(_clean(item))
        else:
            out[at] = _merge(out[at], item)
    return out


def _clean(value: Any) -> Any:
    """A patch value added as it is, without directives or nulls."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k != _DIRECTIVE and v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
