"""`resource` templates on Tiphys' own store: what `argoexec resource` does with kubectl.

Without Kubernetes, the kinds Tiphys keeps itself can be handled: Workflow,
WorkflowTemplate and ClusterWorkflowTemplate. Any other kind ends the node Failed, saying
so. Actions: create, apply (create or replace), replace, get, delete (a missing object is
no error, as `kubectl delete --ignore-not-found`), patch (`mergeStrategy` merge or the
default strategic, both applied as a JSON merge patch; json: a JSON Patch list of add,
remove and replace). `setOwnerReference` records the calling workflow as owner. A Workflow
created is run (`start_workflow`, given by whoever runs the parent) and watched:
`successCondition` / `failureCondition` are label-selector requirements whose keys are
paths into the object (`status.phase == Succeeded`, `status.phase in (Failed, Error)`),
all of a success condition must hold, any one of a failure condition fails the node.
Output parameters are read with `valueFrom.jsonPath` from the object. The step's stdout is
`<kind>.argoproj.io/<name>`, as `kubectl -o name` prints.
"""
from __future__ import annotations

import asyncio
import copy
import json
import random
import re
import string
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import yaml

from tiphys.engine import actions as A
from tiphys.errors import TiphysError
from tiphys.expr import jsonpath

KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "ConfigMap")


def _resource(kind: str) -> str:
    """How kubectl names the resource in its messages."""
    return "configmaps" if kind == "ConfigMap" else f"{kind.lower()}s.argoproj.io"
POLL = 1.0
_JQ_PATH = re.compile(r"^(\.[A-Za-z_][A-Za-z0-9_-]*)+$")
_REQUIREMENT = re.compile(r"^\s*(!?)\s*([^\s=!<>]+)\s*(?:(==|=|!=|>|<|\bnotin\b|\bin\b)\s*(.*?))?\s*$")


class ResourceFailure(Exception):
    """The resource step failed (exit code 1) with this message."""


StartWorkflow = Callable[[dict[str, Any]], Awaitable[None]]


async def run(action: A.StartPod, store: Any, owner: dict[str, Any], start_workflow: StartWorkflow) -> A.PodExited:
    res = action.template.get("resource") or {}
    try:
        obj, name = await _act(res, store, owner, start_workflow)
        if obj is not None and (res.get("successCondition") or res.get("failureCondition")):
            obj = await _watch(res, store, obj)
        params = _outputs(action.template, obj)
    except ResourceFailure as exc:
        return A.PodExited(action.node_id, 1, termination_message=str(exc))
    return A.PodExited(action.node_id, 0, stdout=name + "\n", parameters=params)


async def _act(res: dict[str, Any], store: Any, owner: dict[str, Any],
               start_workflow: StartWorkflow) -> tuple[dict[str, Any] | None, str]:
    verb = str(res.get("action") or "")
    try:
        manifest = yaml.safe_load(str(res.get("manifest") or ""))
    except yaml.YAMLError as exc:
        raise ResourceFailure(f"resource manifest is not valid YAML: {exc}") from None
    if not isinstance(manifest, dict):
        raise ResourceFailure("resource manifest must be a YAML mapping (manifestFrom is not supported by Tiphys)")
    kind = str(manifest.get("kind") or "")
    if not kind:
        raise ResourceFailure("resource manifest has no kind")
    if kind not in KINDS:
        raise ResourceFailure(f"Tiphys cannot {verb} a {kind} without Kubernetes: "
                              f"resource templates can only handle {', '.join(KINDS)}")
    meta = manifest.setdefault("metadata", {})
    namespace = "" if kind == "ClusterWorkflowTemplate" else str(meta.get("namespace") or owner["metadata"].get(
        "namespace") or "default")
    if namespace:
        meta["namespace"] = namespace
    if not meta.get("name"):
        if verb not in ("create", "apply") or not meta.get("generateName"):
            raise ResourceFailure("resource name may not be empty")
        meta["name"] = _generated(kind, str(meta["generateName"]), namespace, store)
    name = str(meta["name"])
    label = f"configmap/{name}" if kind == "ConfigMap" else f"{kind.lower()}.argoproj.io/{name}"
    if res.get("setOwnerReference"):
        meta["ownerReferences"] = [*(meta.get("ownerReferences") or []), {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": owner["metadata"]["name"],
            "uid": str(owner["metadata"].get("uid") or ""), "blockOwnerDeletion": True, "controller": True}]
    current = _get(store, kind, name, namespace)
    if verb == "get":
        if current is None:
            raise ResourceFailure(f'{_resource(kind)} "{name}" not found')
        return current, label
    if verb == "delete":
        if current is not None:
            await asyncio.to_thread(_delete, store, kind, name, namespace)
        return None, label
    if verb == "create" and current is not None:
        raise ResourceFailure(f'{_resource(kind)} "{name}" already exists')
    if verb in ("replace", "patch") and current is None:
        raise ResourceFailure(f'{_resource(kind)} "{name}" not found')
    if verb == "patch":
        body = _patch(current, manifest, str(res.get("mergeStrategy") or "strategic"))
    elif verb in ("create", "apply", "replace"):
        body = manifest
    else:
        raise ResourceFailure(f"unknown resource action {verb!r}")
    if kind == "Workflow":
        if current is not None:
            raise ResourceFailure(f"Tiphys cannot {verb} an existing Workflow ({name}): a running workflow "
                                  "is changed through its commands (stop, suspend...)")
        body.setdefault("apiVersion", "argoproj.io/v1alpha1")
        body["metadata"].update(uid=str(uuid.uuid4()))
        body.pop("status", None)
        await start_workflow(body)
    else:
        try:
            if kind == "ConfigMap":
                await asyncio.to_thread(store.save_configmap, body, namespace)
            else:
                await asyncio.to_thread(store.save_template, kind, body)
        except TiphysError as exc:
            raise ResourceFailure(str(exc)) from None
    return _get(store, kind, name, namespace) or body, label


def _get(store: Any, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    if kind == "Workflow":
        return store.get_workflow(name, namespace)
    if kind == "ConfigMap":
        return store.get_configmap(namespace, name)
    return store.get_template(kind, name, namespace or None)


def _delete(store: Any, kind: str, name: str, namespace: str) -> None:
    if kind == "Workflow":
        store.delete_workflow(name, namespace)
    elif kind == "ConfigMap":
        store.delete_configmap(namespace, name)
    else:
        store.delete_template(kind, name, namespace or None)


def _generated(kind: str, prefix: str, namespace: str, store: Any) -> str:
    for _ in range(100):
        name = prefix + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        if _get(store, kind, name, namespace) is None:
            return name
    raise ResourceFailure(f"could not find a free name for generateName {prefix!r}")


def _patch(current: dict[str, Any], patch: dict[str, Any], strategy: str) -> dict[str, Any]:
    if strategy == "json":
        raise ResourceFailure("mergeStrategy json needs a JSON Patch list, which a manifest mapping cannot be")
    if strategy not in ("merge", "strategic"):
        raise ResourceFailure(f"unknown mergeStrategy {strategy!r}")
    return merge_patch(copy.deepcopy(current), patch)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: mappings merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target


async def _watch(res: dict[str, Any], store: Any, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    kind, name, namespace = str(obj.get("kind") or "Workflow"), meta.get("name", ""), meta.get("namespace", "")
    success, failure = res.get("successCondition"), res.get("failureCondition")
    while True:
        if failure and any(matches(req, obj) for req in requirements(str(failure))):
            raise ResourceFailure(f"failed condition {failure!r} matched")
        if success and all(matches(req, obj) for req in requirements(str(success))):
            return obj
        if not success and not failure:
            return obj
        await asyncio.sleep(POLL)
        found = await asyncio.to_thread(_get, store, kind, name, namespace)
        if found is None:
            raise ResourceFailure(f'{_resource(kind)} "{name}" not found')
        obj = found


def requirements(selector: str) -> list[tuple[bool, str, str | None, list[str]]]:
    """Split a label selector into (negated, path, operator, values); commas inside `( )` stay."""
    parts, depth, cur = [], 0, ""
    for ch in selector:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    found = []
    for part in parts:
        if not part.strip():
            continue
        m = _REQUIREMENT.match(part)
        if m is None:
            raise ResourceFailure(f"cannot parse condition {part.strip()!r}")
        neg, path, op, rest = m.groups()
        values = [v.strip() for v in (rest or "").strip().strip("()").split(",")] if op else []
        found.append((bool(neg), path, op, values))
    return found


def matches(req: tuple[bool, str, str | None, list[str]], obj: dict[str, Any]) -> bool:
    neg, path, op, values = req
    value = _path(obj, path)
    if op is None:
        return (value is None) if neg else (value is not None)
    text = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
    if op in ("==", "="):
        return text == values[0]
    if op == "!=":
        return text != values[0]
    if op == "in":
        return text in values
    if op == "notin":
        return text not in values
    try:
        left, right = float(text), float(values[0])
    except ValueError:
        return False
    return left > right if op == ">" else left < right


def _path(obj: Any, path: str) -> Any:
    """A gjson-like path: dotted keys, numbers index lists, `#` is a list's length."""
    for key in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, list):
            if key == "#":
                return len(obj)
            obj = obj[int(key)] if key.isdigit() and int(key) < len(obj) else None
        else:
            return None
    return obj


def _outputs(tmpl: dict[str, Any], obj: dict[str, Any] | None) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for decl in (tmpl.get("outputs") or {}).get("parameters") or []:
        vf = decl.get("valueFrom") or {}
        jq = str(vf.get("jqFilter") or "").strip()
        if jq and not _JQ_PATH.match(jq):
            raise ResourceFailure(f"output parameter {decl['name']!r}: Tiphys only runs jqFilter paths like "
                                  f"'.status.phase', not {jq!r}; use valueFrom.jsonPath")
        if not (vf.get("jsonPath") or jq) or obj is None:
            continue
        path = jq or str(vf["jsonPath"]).strip().removeprefix("{").removesuffix("}")
        try:
            value = jsonpath.query(obj, path if path.startswith("$") else "$" + path)
        except TiphysError:
            value = None
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        found[decl["name"]] = None if value is None else (
            value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            if isinstance(value, (dict, list)) else str(value).lower() if isinstance(value, bool) else str(value))
    return found
