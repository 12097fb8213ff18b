"""`argo retry` and `argo resubmit` as pure functions of a finished workflow.

Both give a new Workflow to run plus the nodes of the earlier run to keep (the engine's
`preset`): the engine takes over a kept node and its subtree instead of running it, so a
retry re-runs only what failed, as Argo's FormulateRetryWorkflow does.
"""
from __future__ import annotations

import copy
from typing import Any

from tiphys.engine import names, nodesel, phases
from tiphys.errors import SpecError

RESUBMITTED_FROM = "workflows.argoproj.io/resubmitted-from-workflow"
RETRYABLE = (phases.FAILED, phases.ERROR)


def _spec_with_parameters(wf: dict[str, Any], parameters: list[str] | tuple[str, ...]) -> dict[str, Any]:
    spec = copy.deepcopy(wf.get("spec") or {})
    if not parameters:
        return spec
    args = spec.setdefault("arguments", {})
    found = {p.get("name"): p for p in args.get("parameters") or []}
    for item in parameters:
        name, sep, value = str(item).partition("=")
        if not sep or not name:
            raise SpecError(f"parameter {item!r}: expected NAME=VALUE")
        found[name] = {**found.get(name, {"name": name}), "value": value}
        found[name].pop("valueFrom", None)
    args["parameters"] = list(found.values())
    return spec


def _subtree(nodes: dict[str, Any], roots: set[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        nid = stack.pop()
        if nid in seen or nid not in nodes:
            continue
        seen.add(nid)
        stack.extend(nodes[nid].get("children") or [])
    return seen


def owners(name: str) -> list[str]:
    """Names of the nodes that contain node `name` (Argo names a node inside another by
    extending its name: `wf.task`, `wf[0].step`, `wf.loop(0:a)`, `wf.retry(1)`)."""
    found = []
    for i in range(len(name) - 1, 0, -1):
        if name[i] in ".([":
            found.append(name[:i])
    return found


def _ancestors(nodes: dict[str, Any], targets: set[str]) -> set[str]:
    by_name = {n.get("name"): nid for nid, n in nodes.items()}
    found: set[str] = set()
    for nid in targets:
        for owner in owners(nodes[nid].get("name", "")):
            if owner in by_name:
                found.add(by_name[owner])
    return found


def retry(wf: dict[str, Any], *, restart_successful: bool = False, node_field_selector: str = "",
          parameters: list[str] | tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(workflow to run, earlier nodes, workflow outputs to keep). Only a Failed or Error
    workflow can be retried. Every Succeeded node is kept except, with `restart_successful`,
    those matching `node_field_selector` (all when empty), their subtrees and ancestors; the
    exit handler always runs again."""
    status = wf.get("status") or {}
    name = (wf.get("metadata") or {}).get("name", "")
    if status.get("phase") not in RETRYABLE:
        raise SpecError(f"workflow {name!r} must be Failed/Error to retry (it is {status.get('phase') or 'unknown'})")
    nodes: dict[str, Any] = status.get("nodes") or {}
    terms = nodesel.parse(node_field_selector)
    reset: set[str] = set()
    if restart_successful:
        matched = {nid for nid, n in nodes.items() if nodesel.matches(terms, n)}
        reset = _subtree(nodes, matched)
    reset |= _ancestors(nodes, reset)
    reset |= _subtree(nodes, {nid for nid, n in nodes.items() if n.get("name", "").startswith(f"{name}.onExit")})
    # every other node stays available: the engine takes over a Succeeded one with its subtree
    # (failed attempts under a Succeeded retry stay as they were); the rest run again
    keep = {nid: n for nid, n in nodes.items() if nid not in reset}
    new = {"apiVersion": wf.get("apiVersion", "argoproj.io/v1alpha1"), "kind": "Workflow",
           "metadata": copy.deepcopy(wf.get("metadata") or {}), "spec": _spec_with_parameters(wf, parameters)}
    return new, copy.deepcopy(keep), copy.deepcopy(status.get("outputs") or {})


def resubmit(wf: dict[str, Any], new_name: str, *, memoized: bool = False,
             parameters: list[str] | tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """(new workflow named `new_name`, nodes to keep). With `memoized`, the Succeeded nodes of a
    Failed/Error workflow are kept (renamed into the new workflow), as Argo's resubmit --memoized."""
    meta = wf.get("metadata") or {}
    old_name = meta.get("name", "")
    status = wf.get("status") or {}
    if memoized and status.get("phase") not in RETRYABLE:
        raise SpecError(f"workflow {old_name!r} must be Failed/Error to resubmit in memoized mode")
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if not k.startswith("workflows.argoproj.io/")}
    labels[RESUBMITTED_FROM] = old_name
    new_meta = {"name": new_name, "namespace": meta.get("namespace") or "default", "labels": labels}
    if meta.get("annotations"):
        new_meta["annotations"] = {k: v for k, v in meta["annotations"].items() if not k.startswith("tiphys.io/")}
    new = {"apiVersion": wf.get("apiVersion", "argoproj.io/v1alpha1"), "kind": "Workflow", "metadata": new_meta,
           "spec": _spec_with_parameters(wf, parameters)}
    if not memoized:
        return new, {}
    _, keep, _ = retry(wf)
    return new, rename_nodes(keep, old_name, new_name)


def rename_nodes(nodes: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The same nodes as they would be named in workflow `new` (ids are hashes of names)."""
    def renamed(name: str) -> str:
        return new + name[len(old):] if name.startswith(old) else name
    ids = {nid: names.node_id(new, renamed(n.get("name", ""))) for nid, n in nodes.items()}
    out = {}
    for nid, node in nodes.items():
        node = copy.deepcopy(node)
        node["id"] = ids[nid]
        node["name"] = renamed(node.get("name", ""))
        if node.get("children"):
            node["children"] = [ids.get(c, c) for c in node["children"]]
        if node.get("boundaryID"):
            node["boundaryID"] = ids.get(node["boundaryID"], node["boundaryID"])
        node.pop("podName", None)
        out[ids[nid]] = node
    return out


def suspended_nodes(wf: dict[str, Any], selector: str) -> list[str]:
    """Ids of the running suspend nodes matching `selector` (for `resume`/`set` answers)."""
    terms = nodesel.parse(selector)
    return [nid for nid, n in ((wf.get("status") or {}).get("nodes") or {}).items()
            if n.get("type") == "Suspend" and not phases.completed(n.get("phase", "")) and nodesel.matches(terms, n)]
