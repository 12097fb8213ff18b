"""Stand-ins for tiphys.runtime.runner used by the CLI tests (see conftest.py)."""
from __future__ import annotations

import copy
import types


def finished(wf: dict, phase: str = "Succeeded", message: str = "", steps: tuple[str, ...] = ("say",)) -> dict:
    name = wf["metadata"]["name"]
    t0, t1 = "2026-01-01T10:00:00Z", "2026-01-01T10:00:05Z"
    group = f"{name}-1000"
    nodes = {
        name: {"id": name, "name": name, "displayName": name, "type": "Steps", "templateName": "main",
               "phase": phase, "startedAt": t0, "finishedAt": t1, "children": [group]},
        group: {"id": group, "name": f"{name}[0]", "displayName": "[0]", "type": "StepGroup",
                "templateName": "main", "phase": phase, "boundaryID": name, "startedAt": t0,
                "finishedAt": t1, "children": []},
    }
    for i, step in enumerate(steps):
        node_id = f"{name}-{2000 + i}"
        nodes[group]["children"].append(node_id)
        nodes[node_id] = {"id": node_id, "name": f"{name}[0].{step}", "displayName": step, "type": "Pod",
                          "templateName": "say", "phase": phase, "boundaryID": name,
                          "startedAt": f"2026-01-01T10:00:0{i + 1}Z", "finishedAt": t1,
                          "message": message, "outputs": {"exitCode": "0" if phase == "Succeeded" else "1"}}
    status = {"phase": phase, "startedAt": t0, "finishedAt": t1, "progress": f"{len(steps)}/{len(steps)}",
              "nodes": nodes}
    if message:
        status["message"] = message
    return {**wf, "status": status}


class FakeRunner:
    """Succeeds unless the workflow has a parameter `outcome` (Failed/Error/raise/...)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.seen_templates: list = []
        self.module = types.ModuleType("tiphys.runtime.runner")
        self.module.run = self.run

    def run(self, wf, *, store, home, on_update=None, dry_run=False, mocks=None, plan=None, executor=None, preset=None, preset_outputs=None,
            on_start=None, journal=False, resume=False):
        self.calls.append({"wf": copy.deepcopy(wf), "home": home, "dry_run": dry_run, "on_update": on_update})
        self.seen_templates = [t["metadata"]["name"] for t in store.list_templates("WorkflowTemplate")]
        params = {p["name"]: p.get("value") for p in wf["spec"].get("arguments", {}).get("parameters", [])}
        outcome = params.get("outcome", "Succeeded")
        if outcome == "raise":
            raise RuntimeError("engine exploded\nsecond line")
        if outcome == "tiphys-error":
            from tiphys.errors import InfrastructureError
            raise InfrastructureError("executor unavailable")
        final = finished(wf, outcome, "" if outcome == "Succeeded" else "step failed", steps=("say", "shout"))
        if on_update:
            on_update(final)
        for node in final["status"]["nodes"].values():
            if node["type"] == "Pod":
                store.save_logs(wf["metadata"]["name"], node["id"], f"pod-{node['displayName']}",
                                f"{node['displayName']} out 1\n{node['displayName']} out 2\n",
                                f"{node['displayName']} err\n")
        store.save_workflow(final)
        return final
