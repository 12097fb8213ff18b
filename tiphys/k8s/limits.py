"""What Kubernetes' admission does to a pod with a namespace's LimitRanges and ResourceQuotas
(the LimitRanger and ResourceQuota plugins), for steps that run without a cluster.

Pure: templates and objects in, a template, an error message or a usage out.

- LimitRange `type: Container`: `defaultRequest` / `default` fill a container's missing
  requests / limits (a missing request takes the limit, as Kubernetes); `max` / `min` bound each
  container. `type: Pod`: `max` / `min` bound the sum over the pod's containers. Kubernetes
  forbids `default`/`defaultRequest` on `type: Pod` (`tiphys apply` warns); Tiphys applies them
  to each container as if they were given for `type: Container`.
- ResourceQuota `spec.hard`: pods, requests.cpu, requests.memory, limits.cpu, limits.memory
  (`cpu`/`memory` are requests.*). A pod beyond one waits (the runtime); a pod that does not
  say a request the quota limits is refused, as Kubernetes refuses it.
"""
from __future__ import annotations

import copy
from typing import Any

from tiphys.runtime.quantities import parse

__all__ = ["parse", "with_defaults", "violation", "usage", "hard", "missing", "exceeded"]

COMPUTE = ("cpu", "memory")
TRACKED = ("pods", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
_ALIASES = {"cpu": "requests.cpu", "memory": "requests.memory"}


def _containers(tmpl: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers of a step's pod (main or a containerSet's, sidecars, init containers)."""
    found = [c for c in ((tmpl.get("containerSet") or {}).get("containers") or []) if isinstance(c, dict)]
    body = tmpl.get("container") or tmpl.get("script")
    if isinstance(body, dict):
        found.append(body)
    found += [c for c in (tmpl.get("sidecars") or []) + (tmpl.get("initContainers") or []) if isinstance(c, dict)]
    return found


def with_defaults(tmpl: dict[str, Any], ranges: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of `tmpl` whose containers have the LimitRanges' default requests and limits."""
    defaults: dict[str, dict[str, Any]] = {"limits": {}, "requests": {}}
    for item in _items(ranges):
        if item.get("type") in ("Container", "Pod"):
            for res, value in (item.get("default") or {}).items():
                defaults["limits"].setdefault(res, value)
            for res, value in (item.get("defaultRequest") or {}).items():
                defaults["requests"].setdefault(res, value)
    if not defaults["limits"] and not defaults["requests"]:
        return tmpl
    out = copy.deepcopy(tmpl)
    for c in _containers(out):
        resources = c.setdefault("resources", {})
        limits = resources.setdefault("limits", {})
        requests = resources.setdefault("requests", {})
        for res, value in defaults["limits"].items():
            limits.setdefault(res, value)
        for res in COMPUTE:
            if res not in requests:
                if res in defaults["requests"]:
                    requests[res] = defaults["requests"][res]
                elif res in limits:
                    requests[res] = limits[res]
        for key in ("limits", "requests"):
            if not resources[key]:
                del resources[key]
    return out


def violation(tmpl: dict[str, Any], ranges: list[dict[str, Any]]) -> str | None:
    """Kubernetes' refusal of a pod beyond a LimitRange's max or below its min, else None."""
    containers = _containers(tmpl)
    for item in _items(ranges):
        kind = item.get("type")
        if kind not in ("Container", "Pod"):
            continue
        groups = [containers] if kind == "Pod" else [[c] for c in containers]
        for group in groups:
            for res, bound in (item.get("max") or {}).items():
                limit = _sum(group, "limits", res)
                if limit is None:
                    return f"maximum {res} usage per {kind} is {bound}.  No limit is specified"
                if limit > parse(bound):
                    return f"maximum {res} usage per {kind} is {bound}, but limit is {_show(res, limit)}"
            for res, bound in (item.get("min") or {}).items():
                request = _sum(group, "requests", res)
                if request is None:
                    return f"minimum {res} usage per {kind} is {bound}.  No request is specified"
                if request < parse(bound):
                    return f"minimum {res} usage per {kind} is {bound}, but request is {_show(res, request)}"
    return None


def usage(tmpl: dict[str, Any]) -> dict[str, float | None]:
    """What the pod counts against a quota (None: a container does not say it)."""
    containers = [c for c in _containers(tmpl) if c not in (tmpl.get("initContainers") or [])]
    out: dict[str, float | None] = {"pods": 1.0}
    for key in TRACKED[1:]:
        kind, res = key.split(".")
        out[key] = _sum(containers, kind, res)
    return out


def _sum(containers: list[dict[str, Any]], kind: str, res: str) -> float | None:
    total = 0.0
    for c in containers:
        value = ((c.get("resources") or {}).get(kind) or {}).get(res)
        if value in (None, ""):
            return None
        total += parse(value, f"resources.{kind}.{res}")
    return total


def hard(quota: dict[str, Any]) -> dict[str, float]:
    """A ResourceQuota's tracked limits, by canonical name."""
    found: dict[str, float] = {}
    for key, value in ((quota.get("spec") or {}).get("hard") or {}).items():
        key = _ALIASES.get(key, key)
        if key in TRACKED:
            found[key] = parse(value, f"spec.hard.{key}")
    return found


def missing(quota: dict[str, Any], use: dict[str, float | None]) -> str | None:
    """Kubernetes' refusal of a pod that does not say what the quota limits, else None."""
    need = sorted(k for k in hard(quota) if k != "pods" and use.get(k) is None)
    if not need:
        return None
    return f"failed quota: {_name(quota)}: must specify {','.join(need)}"


def exceeded(quota: dict[str, Any], use: dict[str, float | None], used: dict[str, float]) -> str | None:
    """Kubernetes' message when the pod does not fit in the quota beside `used`, else None."""
    over = sorted(k for k, limit in hard(quota).items()
                  if (use.get(k) or 0.0) + used.get(k, 0.0) > limit + 1e-9)
    if not over:
        return None
    res = [k.split(".")[-1] for k in over]
    return (f"exceeded quota: {_name(quota)}, "
            f"requested: {','.join(f'{k}={_show(r, use.get(k) or 0.0)}' for k, r in zip(over, res))}, "
            f"used: {','.join(f'{k}={_show(r, used.get(k, 0.0))}' for k, r in zip(over, res))}, "
            f"limited: {','.join(f'{k}={_show(r, hard(quota)[k])}' for k, r in zip(over, res))}")


def _name(quota: dict[str, Any]) -> str:
    return str((quota.get("metadata") or {}).get("name") or "")


def _items(ranges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for r in ranges for i in ((r.get("spec") or {}).get("limits") or []) if isinstance(i, dict)]


def _show(res: str, value: float) -> str:
    """A quantity as Kubernetes prints it: cpu in cores or millicores, memory in binary units."""
    if res == "cpu":
        return f"{value:g}" if abs(value - round(value)) < 1e-9 else f"{round(value * 1000)}m"
    if res in ("memory",):
        for suffix, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if value >= size and value % size == 0:
                return f"{int(value // size)}{suffix}"
    return f"{value:g}"
