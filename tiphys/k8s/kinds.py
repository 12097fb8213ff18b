"""ResourceQuota, LimitRange and PriorityClass for `tiphys apply -f`: the brief's cluster
safeguards. Importing this module registers them with the apply kind table
(tiphys.objects.kinds lists it in PLUGINS). With the local executors the runtime applies the
first two to the steps of their namespace (runtime/admission.py); a PriorityClass is kept so
that `priorityClassName` names a known class (its value orders nothing on one machine)."""
from __future__ import annotations

import sys
from typing import Any

from tiphys.errors import SpecError
from tiphys.k8s import limits
from tiphys.objects import kinds as table

POD_DEFAULTS = ("spec.limits[{i}].{field}: Forbidden: may not be specified when `type` is 'Pod' "
                "(a Kubernetes cluster refuses this LimitRange; Tiphys applies it to each container)")


def _check(kind: str, body: dict[str, Any]) -> None:
    spec = body.get("spec")
    if kind == "PriorityClass":
        if not isinstance(body.get("value"), int) or isinstance(body.get("value"), bool):
            raise SpecError("PriorityClass value: Required value: an integer", path="value")
        return
    if not isinstance(spec, dict):
        raise SpecError(f"{kind} spec: Required value", path="spec")
    if kind == "ResourceQuota":
        limits.hard(body)        # each quantity parses
        return
    for i, item in enumerate(spec.get("limits") or []):
        if not isinstance(item, dict) or item.get("type") not in ("Container", "Pod", "PersistentVolumeClaim"):
            raise SpecError(f"spec.limits[{i}].type: Unsupported value: must be Container, Pod or "
                            "PersistentVolumeClaim", path=f"spec.limits[{i}].type")
        for field in ("max", "min", "default", "defaultRequest"):
            for res, value in (item.get(field) or {}).items():
                limits.parse(value, f"spec.limits[{i}].{field}.{res}")
            if item["type"] == "Pod" and item.get(field) and field in ("default", "defaultRequest"):
                sys.stderr.write(f"Warning: LimitRange {body['metadata']['name']}: "
                                 f"{POD_DEFAULTS.format(i=i, field=field)}\n")


def _register(kind: str, names: tuple[str, ...], namespaced: bool) -> None:
    def apply(ctx: table.Context, body: dict[str, Any]) -> dict[str, Any]:
        _check(kind, body)
        body.setdefault("apiVersion", "scheduling.k8s.io/v1" if kind == "PriorityClass" else "v1")
        return ctx.store.save_template(kind, body)

    table.register(table.Kind(
        kind=kind, names=names, namespaced=namespaced, apply=apply,
        get=lambda ctx, ns, name: ctx.store.get_template(kind, name, ns if namespaced else None),
        delete=lambda ctx, ns, name: ctx.store.delete_template(kind, name, ns if namespaced else None),
        list=lambda ctx, ns: ctx.store.list_templates(kind, ns if namespaced else None)))


_register("ResourceQuota", ("resourcequota", "resourcequotas", "quota"), True)
_register("LimitRange", ("limitrange", "limitranges", "limits"), True)
_register("PriorityClass", ("priorityclass", "priorityclasses", "pc"), False)
