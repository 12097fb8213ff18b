"""Template resolution: which template a step, task or the workflow calls, with its defaults.

`effective_spec` merges a `workflowTemplateRef`; `resolve` finds a called template (by name in
the caller's context, by `templateRef` in a (cluster) WorkflowTemplate, or `inline`) and applies
`templateDefaults`; `kind_of` tells which kind of template it is.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from tiphys.engine.frames import Ctx
from tiphys.errors import SpecError

Registry = Callable[[str, str], "dict[str, Any] | None"]

TYPE_FIELDS = ("container", "script", "steps", "dag", "suspend", "resource", "http", "data",
               "containerSet", "plugin")


def kind_of(tmpl: dict[str, Any]) -> str | None:
    """The template's kind (`container`, `steps`...); None when it has none or several."""
    kinds = [k for k in TYPE_FIELDS if k in tmpl]
    return kinds[0] if len(kinds) == 1 else None


def effective_spec(spec: dict[str, Any], registry: Registry) -> dict[str, Any]:
    ref = spec.get("workflowTemplateRef")
    if not ref:
        return spec
    kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
    found = registry(kind, ref.get("name", ""))
    if found is None:
        raise SpecError(f"{kind} {ref.get('name')!r} not found", path="spec.workflowTemplateRef")
    base = copy.deepcopy(found.get("spec") or {})
    merged = {**base, **{k: v for k, v in spec.items() if k != "workflowTemplateRef"}}
    args = {p["name"]: p for p in (base.get("arguments") or {}).get("parameters") or []}
    for p in (spec.get("arguments") or {}).get("parameters") or []:
        args[p["name"]] = {**args.get(p["name"], {}), **p}
    if args:
        merged["arguments"] = {**(merged.get("arguments") or {}), "parameters": list(args.values())}
    base_names = {b.get("name") for b in base.get("templates") or []}
    merged["templates"] = list(base.get("templates") or []) + [
        t for t in spec.get("templates") or [] if t.get("name") not in base_names]
    return merged


def resolve(call: dict[str, Any], ctx: Ctx, registry: Registry,
            defaults: dict[str, Any]) -> tuple[dict[str, Any], Ctx]:
    if "inline" in call and call["inline"]:
        return with_defaults(call["inline"], defaults), ctx
    ref = call.get("templateRef")
    if ref:
        kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
        found = registry(kind, ref.get("name", ""))
        if found is None:
            raise SpecError(f"{kind} {ref.get('name')!r} not found", path="templateRef")
        templates = {t["name"]: t for t in (found.get("spec") or {}).get("templates") or []}
        name = ref.get("template", "")
        if name not in templates:
            raise SpecError(f"template {name!r} not found in {kind} {ref.get('name')!r}", path="templateRef")
        return with_defaults(templates[name], defaults), Ctx(templates, ref["name"],
                                                             "cluster" if ref.get("clusterScope") else "namespaced")
    name = call.get("template")
    if name not in ctx.templates:
        raise SpecError(f"template {name!r} not found", path="template")
    return with_defaults(ctx.templates[name], defaults), ctx


def with_defaults(tmpl: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """`templateDefaults` merged under `tmpl`. As Argo (`Template.SetType` after the merge), a
    template keeps its own kind: the defaults' fields of other kinds (a `container:` default
    under a `steps` template) are dropped, so one `templateDefaults` may set both `script` and
    `container` defaults."""
    if not defaults:
        return tmpl
    own = kind_of(tmpl)
    merged = copy.deepcopy(defaults)
    if own is not None:
        for other in TYPE_FIELDS:
            if other != own:
                merged.pop(other, None)
    for k, v in tmpl.items():
        if isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = {**merged[k], **v}
        else:
            merged[k] = v
    return merged
