"""Sample workflows for the store tests."""
from __future__ import annotations


def wf(name: str, created: str = "2026-01-01T00:00:00Z", phase: str = "Succeeded",
       namespace: str | None = None, **status) -> dict:
    meta = {"name": name, "creationTimestamp": created, "uid": f"uid-{name}", "labels": {"a": "b"}}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": meta,
            "spec": {"entrypoint": "main", "unknownField": {"kept": [1, 2]}},
            "status": {"phase": phase, "nodes": {name: {"id": name, "phase": phase}}, **status}}
