"""The node tree of one workflow: Argo's `status.nodes`, and who waits for which node.

Invariants: a node id is the fnv hash of its name (made unique when two names collide); a node
is linked to one parent once; a node completes once (`complete` ignores a second call), and
each completion is queued in `done` and delivered, in order, to the frame waiting for it.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from tiphys.engine import names, phases

if TYPE_CHECKING:
    from tiphys.engine.frames import Ctx, Frame, Interpreter


EXECUTABLE = ("Pod", "HTTP", "Plugin", "Container", "Suspend")   # the node types Argo's progress counts
PROGRESSED = (phases.SUCCEEDED, phases.SKIPPED, phases.OMITTED)   # such a node's progress is then 1/1


class NodeTree:
    def __init__(self, workflow: str, nodes: dict[str, dict[str, Any]], now: float):
        self.workflow = workflow
        self.nodes = nodes
        self.now = now
        self.waiters: dict[str, Frame] = {}
        self.done: deque[str] = deque()
        self.invocation_errors: set[str] = set()   # nodes whose template could not even be called
        self.executable = self.progressed = 0       # Argo's progress: progressed/executable nodes

    def new_node(self, name: str, display: str, type_: str, *, template: str | None, boundary: str | None,
                 parent: str | None, phase: str = phases.RUNNING, ctx: Ctx | None = None,
                 started: bool = True) -> dict[str, Any]:
        nid = names.node_id(self.workflow, name)
        if nid in self.nodes:
            # fnv32a collides about once in 100,000 names: keep ids unique, deterministically
            k = 1
            while f"{nid}-{k}" in self.nodes:
                k += 1
            nid = f"{nid}-{k}"
        node: dict[str, Any] = {"id": nid, "name": name, "displayName": display, "type": type_,
                                "phase": phase, "startedAt": names.timestamp(self.now) if started else None}
        if template:
            node["templateName"] = template
        if ctx is not None and ctx.kind != "local":
            node["templateScope"] = f"{ctx.kind}/{ctx.scope_name}"
        elif template or ctx is not None:
            node["templateScope"] = f"local/{self.workflow}"
        if boundary:
            node["boundaryID"] = boundary
        self.nodes[nid] = node
        self.executable += type_ in EXECUTABLE
        if parent:
            self.add_child(parent, nid)
        return node

    def adopt(self, node: dict[str, Any]) -> None:
        """Take in a node made elsewhere (kept from an earlier run), counting its progress."""
        self.nodes[node["id"]] = node
        self.executable += node.get("type") in EXECUTABLE
        self.progressed += node.get("type") in EXECUTABLE and node.get("phase") in PROGRESSED

    def discard(self, nid: str) -> None:
        """Remove a node that makes way for another (a held memoize/mutex node), and its share of
        the progress, so that the node taking its place is not counted twice."""
        node = self.nodes.pop(nid, None)
        if node is not None and node.get("type") in EXECUTABLE:
            self.executable -= 1
            self.progressed -= node.get("phase") in PROGRESSED

    @property
    def progress(self) -> str:
        """Argo's `status.progress`: succeeded (or skipped) executable nodes / all of them."""
        return f"{self.progressed}/{self.executable}"

    def add_child(self, parent: str, child: str) -> None:
        """Link a child node; a node is linked to one parent once, so no search is needed."""
        self.nodes[parent].setdefault("children", []).append(child)

    def outbound(self, nid: str) -> list[str]:
        """The nodes a dependent attaches to (Argo's getOutboundNodes): a leaf is its own, a
        loop's are its children's, a retry's its last attempt, a steps/DAG node's are recorded
        in `outboundNodes` when it finishes."""
        node = self.nodes[nid]
        kind, kids = node["type"], node.get("children") or []
        if kind in ("Pod", "Skipped", "Suspend", "HTTP", "Plugin"):
            return [nid]
        if kind == "TaskGroup":
            return [o for c in kids for o in self.outbound(c)] or [nid]
        if kind == "Retry":
            return [kids[-1]] if kids else [nid]
        return node.get("outboundNodes") or [nid]

    def complete(self, nid: str, phase: str, message: str | None = None) -> None:
        node = self.nodes[nid]
        if phases.completed(node["phase"]):
            return
        node["phase"] = phase
        self.progressed += node["type"] in EXECUTABLE and phase in PROGRESSED
        node["finishedAt"] = names.timestamp(self.now)
        if node.get("startedAt") is None:
            node["startedAt"] = node["finishedAt"]
        if message:
            node["message"] = message
        self.done.append(nid)

    def skipped_node(self, name: str, display: str, boundary: str | None, parent: str, waiter: Frame,
                     phase: str, message: str, template: str | None = None) -> str:
        node = self.new_node(name, display, "Skipped", template=template, boundary=boundary, parent=parent,
                             phase=phases.PENDING)
        self.waiters[node["id"]] = waiter
        self.complete(node["id"], phase, message)
        return node["id"]

    def error_node(self, name: str, display: str, boundary: str | None, parent: str | None, waiter: Frame,
                   message: str, template: str | None = None, type_: str = "Skipped") -> str:
        node = self.new_node(name, display, type_, template=template, boundary=boundary, parent=parent)
        self.waiters[node["id"]] = waiter
        self.complete(node["id"], phases.ERROR, message)
        return node["id"]

    def drain(self, eng: Interpreter) -> None:
        """Tell each waiting frame about its completed children, oldest completion first."""
        while self.done:
            nid = self.done.popleft()
            waiter = self.waiters.pop(nid, None)
            if waiter is not None:
                waiter.child_done(eng, nid)

    def failures(self, workflow: str) -> list[dict[str, Any]]:
        """Argo's failedNodeStatus list: every Failed/Error node, whatever its type."""
        found = []
        for node in self.nodes.values():
            if phases.failed_or_error(node["phase"]):
                tname = node.get("templateName") or (node.get("templateRef") or {}).get("template", "")
                found.append({"displayName": node["displayName"], "message": node.get("message", ""),
                              "templateName": tname, "phase": node["phase"],
                              "podName": names.pod_name(workflow, node["name"], tname),
                              "finishedAt": node.get("finishedAt")})
        return found
