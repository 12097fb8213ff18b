"""Argo's memoize cache on the store's ConfigMaps: what LookupCache and SaveCache do.

A cache is a ConfigMap labelled `workflows.argoproj.io/configmap-type: Cache` whose data[key] is
the JSON entry {nodeID, outputs, creationTimestamp, lastHitTimestamp}. Reading an entry stamps
its lastHitTimestamp; a ConfigMap of that name without the label is refused (as Argo does), so a
user's ConfigMap is never overwritten. Whether an entry is fresh enough is the engine's call.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from tiphys.errors import TiphysError

LABEL = "workflows.argoproj.io/configmap-type"
CACHE = "Cache"


class CacheError(TiphysError):
    pass


def _stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check(cm: dict[str, Any]) -> None:
    labels = (cm.get("metadata") or {}).get("labels") or {}
    if LABEL not in labels:
        raise CacheError(f"memoization configmap doesn't have {LABEL} label, refusing to use it")
    if labels[LABEL] != CACHE:
        raise CacheError(f"memoization configmap doesn't have label {LABEL} = {CACHE}, refusing to use it")


def load(store: Any, namespace: str, name: str, key: str) -> dict[str, Any] | None:
    """The entry `key` of cache `name` (its lastHitTimestamp now), None when there is none."""
    found: list[dict[str, Any]] = []

    def change(cm: dict[str, Any] | None) -> dict[str, Any] | None:
        if cm is None:
            return None
        _check(cm)
        raw = (cm.get("data") or {}).get(key)
        if not raw:
            return None
        try:
            entry = json.loads(raw)
        except ValueError as exc:
            raise CacheError(f"malformed cache entry: could not unmarshal JSON; unable to parse: {exc}") from exc
        if not isinstance(entry, dict):
            raise CacheError("malformed cache entry: not a JSON object")
        entry["lastHitTimestamp"] = _stamp()
        found.append(entry)
        cm.setdefault("data", {})[key] = json.dumps(entry, separators=(",", ":"))
        return cm

    store.update_configmap(namespace, name, change)
    return found[0] if found else None


def save(store: Any, namespace: str, name: str, key: str, node_id: str, outputs: dict[str, Any] | None) -> None:
    """Write entry `key` (creating the labelled ConfigMap when absent)."""
    def change(cm: dict[str, Any] | None) -> dict[str, Any]:
        if cm is None:
            cm = {"metadata": {"name": name, "namespace": namespace}, "data": {}}
        else:
            _check(cm)
        cm.setdefault("metadata", {})["labels"] = {LABEL: CACHE}
        now = _stamp()
        entry = {"nodeID": node_id, "outputs": outputs, "creationTimestamp": now, "lastHitTimestamp": now}
        cm.setdefault("data", {})[key] = json.dumps(entry, separators=(",", ":"))
        return cm

    store.update_configmap(namespace, name, change)
