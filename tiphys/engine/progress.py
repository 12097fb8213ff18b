"""Argo's per-node `progress` ("done/total" of the executable nodes: pods, containers,
suspends, http and plugin nodes), written on every node once the workflow has finished.

Argo (workflow/progress/updater.go) gives each executable node "0/1", or "1/1" once it
Succeeded, was Skipped or Omitted; every other node gets the sum over the nodes reachable
through `children`, which for steps runs on through the later step groups and for a DAG
through the dependent tasks, and only when that sum counts at least one node. The workflow's
own `status.progress` is kept as the tree goes (tree.py).
"""
from __future__ import annotations

from typing import Any

from tiphys.engine.tree import EXECUTABLE, PROGRESSED


def fill(nodes: dict[str, dict[str, Any]]) -> None:
    """Set `progress` on every node as Argo's UpdateProgress does."""
    own: dict[str, tuple[int, int]] = {}
    for nid, node in nodes.items():
        if node.get("type") in EXECUTABLE:
            done = int(node.get("phase") in PROGRESSED)
            own[nid] = (done, 1)
            node["progress"] = f"{done}/1"
    for nid, node in nodes.items():
        if nid in own:
            continue
        done = total = 0
        seen: set[str] = set()
        stack = list(reversed(node.get("children") or []))
        while stack:
            child = stack.pop()
            if child in seen or child not in nodes:
                continue
            seen.add(child)
            if child in own:
                done, total = done + own[child][0], total + own[child][1]
            stack.extend(reversed(nodes[child].get("children") or []))
        if total > 0:
            node["progress"] = f"{done}/{total}"
