"""Argo Workflows' own events API (server/event): `POST /api/v1/events/{namespace}/{discriminator}`
matches the payload against every WorkflowEventBinding of the namespace and submits the
bound WorkflowTemplate, with parameters taken from the event (`valueFrom.event`).

The environment of `selector`, `valueFrom.event` and the `submit.metadata` expressions (all
expr-lang): `payload` (the body), `metadata` (request headers whose lower-cased name starts
with `x-`, each a list of values), `discriminator` and `namespace`. Dispatch is synchronous
(Argo's default, --event-async-dispatch=false): any binding's error answers 500."""
from __future__ import annotations

import json
from typing import Any

from tiphys.expr import exprlang

BINDING_LABEL = "workflows.argoproj.io/workflow-event-binding"


class BindingError(Exception):
    pass


def environment(payload: Any, headers: list[tuple[str, str]], namespace: str, discriminator: str) -> dict:
    metadata: dict[str, list[str]] = {}
    for name, value in headers:
        lower = name.lower()
        if lower.startswith("x-"):
            metadata.setdefault(lower, []).append(value)
    return json.loads(json.dumps({"payload": payload, "metadata": metadata, "discriminator": discriminator,
                                  "namespace": namespace}))


def _string(value: Any) -> str:
    """json.Marshal then unquoted: strings as they are, the rest compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _text_expr(source: Any, env: dict, what: str) -> str:
    result = exprlang.evaluate(str(source), env)
    if not isinstance(result, str):
        raise BindingError(f"{what}: expression {source!r} must return a string, not {result!r}")
    return result


def workflow_for(binding: dict, template: dict | None, env: dict) -> dict | None:
    """The Workflow a matching binding submits (None: the selector did not match, or no
    submit); BindingError on any failure."""
    meta = binding.get("metadata") or {}
    spec = binding.get("spec") or {}
    selector = (spec.get("event") or {}).get("selector")
    try:
        matched = exprlang.evaluate(str(selector or ""), env)
    except Exception as exc:  # noqa: BLE001
        raise BindingError(f"failed to evaluate workflow template expression: {exc}") from None
    if not isinstance(matched, bool):
        raise BindingError(f"unable to cast expression result '{matched}' to bool")
    submit = spec.get("submit")
    if not matched or not submit:
        return None
    ref = submit.get("workflowTemplateRef") or {}
    name = ref.get("name")
    if template is None:
        kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
        raise BindingError(f'{kind} "{name}" not found')
    cluster = bool(ref.get("clusterScope"))
    tmpl_meta = ((template.get("spec") or {}).get("workflowMetadata") or {})
    labels = dict(tmpl_meta.get("labels") or {})
    labels["workflows.argoproj.io/cluster-workflow-template" if cluster else
           "workflows.argoproj.io/workflow-template"] = name
    labels[BINDING_LABEL] = meta.get("name") or ""
    wf_meta: dict[str, Any] = {"namespace": meta.get("namespace") or "default", "generateName": f"{name}-",
                               "labels": labels}
    if tmpl_meta.get("annotations"):
        wf_meta["annotations"] = dict(tmpl_meta["annotations"])
    sm = submit.get("metadata") or {}
    try:
        if sm.get("name"):
            wf_meta["name"] = _text_expr(sm["name"], env, "metadata.name")
        if sm.get("generateName"):
            wf_meta["generateName"] = _text_expr(sm["generateName"], env, "metadata.generateName")
        for field in ("labels", "annotations"):
            for k, expr in (sm.get(field) or {}).items():
                wf_meta.setdefault(field, {})[k] = _text_expr(expr, env, f"metadata.{field}.{k}")
        params = []
        for p in ((submit.get("arguments") or {}).get("parameters") or []):
            source = (p.get("valueFrom") or {}).get("event")
            if source is None:
                raise BindingError(f"malformed workflow template parameter {p.get('name')!r}: "
                                   "valueFrom.event is required")
            params.append({"name": p.get("name"), "value": _string(exprlang.evaluate(str(source), env))})
    except BindingError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise BindingError(f"failed to evaluate workflow template expression: {exc}") from None
    wf_ref: dict[str, Any] = {"name": name}
    if cluster:
        wf_ref["clusterScope"] = True
    wf_spec: dict[str, Any] = {"workflowTemplateRef": wf_ref}
    if params:
        wf_spec["arguments"] = {"parameters": params}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": wf_meta, "spec": wf_spec}
