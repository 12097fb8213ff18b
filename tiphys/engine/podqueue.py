"""The pod queue: pods wait here until the workflow's `parallelism` and suspension let them run.

Argo reads `parallelism` as a limit only when it is a positive number (`HasParallelism`:
`Parallelism != nil && *Parallelism > 0`), so 0 or nothing means no limit.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from tiphys.engine import actions as A
from tiphys.engine import names, phases

if TYPE_CHECKING:
    from tiphys.engine.tree import NodeTree


def limit(value: Any) -> int | None:
    """A `parallelism` as a limit: None when there is none (unset, 0 or not a number)."""
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


class PodQueue:
    def __init__(self, tree: NodeTree, parallelism: Any, suspended: bool):
        self.tree = tree
        self.info: dict[str, dict[str, Any]] = {}   # node id -> what starting and ending its pod needs
        self.queued: deque[str] = deque()
        self.running: set[str] = set()
        self.parallelism = limit(parallelism)
        self.suspended = suspended

    def enqueue(self, nid: str, info: dict[str, Any]) -> None:
        """`info` holds at least `pod` (its name) and `action` (the StartPod to emit); a kind may
        add `on_start()` (run when the pod starts) and `on_exit(info, event)` (read its exit)."""
        self.info[nid] = info
        self.queued.append(nid)

    def admit(self) -> list[A.Action]:
        """Start queued pods while the workflow is not suspended and `parallelism` allows."""
        out: list[A.Action] = []
        if self.suspended:
            return out
        nodes = self.tree.nodes
        while self.queued and (self.parallelism is None or len(self.running) < self.parallelism):
            nid = self.queued.popleft()
            node, info = nodes[nid], self.info[nid]
            if phases.completed(node["phase"]):
                continue
            node["phase"] = phases.RUNNING
            node["startedAt"] = names.timestamp(self.tree.now)
            node["podName"] = info["pod"]
            self.running.add(nid)
            if info.get("on_start"):
                info["on_start"]()
            out.append(info["action"])
        return out

    def exited(self, nid: str) -> dict[str, Any] | None:
        """The pod of `nid` ended: its info (None when it is not one of ours, or already ended)."""
        info = self.info.pop(nid, None)
        if info is not None:
            self.running.discard(nid)
        return info

    def drop_queued(self) -> list[str]:
        """Forget the pods not started yet (the workflow stops); their node ids."""
        dropped = list(self.queued)
        for nid in dropped:
            self.info.pop(nid, None)
        self.queued.clear()
        return dropped
