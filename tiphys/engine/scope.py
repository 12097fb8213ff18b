"""Variables visible to templates: the workflow's globals, a template's inputs, and the
outputs of steps and tasks as they complete (with Argo's loop aggregation)."""
from __future__ import annotations

import datetime as dt
import json
from collections import ChainMap
from typing import Any

from tiphys.engine import configmaps
from tiphys.expr import template as tpl

Scope = ChainMap


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def globals_for(wf: dict[str, Any], spec: dict[str, Any], created: float,
                configmap: configmaps.Find | None = None) -> dict[str, Any]:
    meta = wf.get("metadata") or {}
    g: dict[str, Any] = {
        "workflow.name": meta.get("name", ""),
        "workflow.namespace": meta.get("namespace") or "default",
        "workflow.uid": meta.get("uid", ""),
        "workflow.mainEntrypoint": spec.get("entrypoint", ""),
        "workflow.serviceAccountName": spec.get("serviceAccountName", ""),
        "workflow.priority": str(spec.get("priority", 0)),
    }
    stamp = dt.datetime.fromtimestamp(int(created), tz=dt.timezone.utc)
    g["workflow.creationTimestamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    g["workflow.creationTimestamp.RFC3339"] = g["workflow.creationTimestamp"]
    for ch in "aAbBcdHIjmMpSUwWxXyYZ":
        g[f"workflow.creationTimestamp.{ch}"] = stamp.strftime(f"%{ch}")
    g["workflow.creationTimestamp.s"] = str(int(created))
    scheduled = (meta.get("annotations") or {}).get("workflows.argoproj.io/scheduled-time")
    if scheduled:        # a CronWorkflow's run: the time it was scheduled for (Argo's operator)
        g["workflow.scheduledTime"] = scheduled
    for kind in ("labels", "annotations"):
        values = meta.get(kind) or {}
        g[f"workflow.{kind}.json"] = compact(values)
        for k, v in values.items():
            g[f"workflow.{kind}.{k}"] = v
    params = (spec.get("arguments") or {}).get("parameters") or []
    plist = []
    for p in params:
        value = p.get("value", p.get("default"))
        if value is None and configmaps.reads_configmap(p):   # the ConfigMap's value, else its default
            value = configmaps.value_or_default(p, configmap)
        if value is not None:
            g[f"workflow.parameters.{p['name']}"] = str(value) if not isinstance(value, str) else value
        plist.append({"name": p["name"], "value": value})
    g["workflow.parameters.json"] = compact(plist)
    g["workflow.parameters"] = g["workflow.parameters.json"]
    return g


def template_locals(inputs: dict[str, Any], tmpl: dict[str, Any], node_name: str) -> dict[str, Any]:
    local: dict[str, Any] = {"node.name": node_name}
    plist = []
    for name, value in inputs["parameters"].items():
        local[f"inputs.parameters.{name}"] = value
        plist.append({"name": name, "value": value})
    local["inputs.parameters"] = compact(plist) if plist else "[]"
    for art in (tmpl.get("inputs") or {}).get("artifacts") or []:
        if art.get("path"):
            local[f"inputs.artifacts.{art['name']}.path"] = art["path"]
    outputs = tmpl.get("outputs") or {}
    for p in outputs.get("parameters") or []:
        path = (p.get("valueFrom") or {}).get("path")
        if path:
            local[f"outputs.parameters.{p['name']}.path"] = path
    for a in outputs.get("artifacts") or []:
        if a.get("path"):
            local[f"outputs.artifacts.{a['name']}.path"] = a["path"]
    return local


def item_vars(item: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"item": item}
    if isinstance(item, dict):
        for k, v in item.items():
            found[f"item.{k}"] = tpl.format_value(v)
    return found


def node_vars(prefix: str, node: dict[str, Any]) -> dict[str, Any]:
    """steps.X.* / tasks.X.* for one finished node."""
    found: dict[str, Any] = {
        f"{prefix}.id": node["id"],
        f"{prefix}.status": node["phase"],
        f"{prefix}.startedAt": node.get("startedAt") or "",
        f"{prefix}.finishedAt": node.get("finishedAt") or "",
        f"{prefix}.ip": node.get("podIP") or "",
        f"{prefix}.hostNodeName": "",
    }
    outputs = node.get("outputs") or {}
    if "exitCode" in outputs:
        found[f"{prefix}.exitCode"] = outputs["exitCode"]
    if "result" in outputs:
        found[f"{prefix}.outputs.result"] = outputs["result"]
    params = outputs.get("parameters") or []
    for p in params:
        if "value" in p:
            found[f"{prefix}.outputs.parameters.{p['name']}"] = p["value"]
    if params:
        found[f"{prefix}.outputs.parameters"] = compact({p["name"]: p.get("value") for p in params})
    for a in outputs.get("artifacts") or []:
        found[f"{prefix}.outputs.artifacts.{a['name']}"] = a
    return found


def aggregate_vars(prefix: str, phase: str, children: list[dict[str, Any]], node_id: str) -> dict[str, Any]:
    """Argo's aggregation of a loop's outputs: JSON lists of results and parameters."""
    results: list[Any] = []
    param_maps: list[dict[str, Any]] = []
    by_name: dict[str, list[Any]] = {}
    for child in children:
        outputs = child.get("outputs") or {}
        if child["phase"] != "Succeeded" and not outputs:
            continue
        if "result" in outputs:
            results.append(_maybe_json_map(outputs["result"]))
        params = outputs.get("parameters") or []
        if params:
            param_maps.append({p["name"]: p.get("value") for p in params})
            for p in params:
                by_name.setdefault(p["name"], []).append(p.get("value"))
    found: dict[str, Any] = {f"{prefix}.id": node_id, f"{prefix}.status": phase,
                             f"{prefix}.outputs.result": compact(results),
                             f"{prefix}.outputs.parameters": compact(param_maps)}
    for name, values in by_name.items():
        found[f"{prefix}.outputs.parameters.{name}"] = compact(values)
    return found


def _maybe_json_map(text: str) -> Any:
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            return text
        if isinstance(value, dict):
            return value
    return text
