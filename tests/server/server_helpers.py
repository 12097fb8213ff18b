"""Workflows and waiting helpers shared by the server tests."""
from __future__ import annotations

import time

NS = "argo"


def hello(name: str | None = "hello", text: str = "hello world", **meta) -> dict:
    metadata = {"name": name} if name else {"generateName": "hello-"}
    metadata.update(meta)
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": metadata,
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "container": {"image": "busybox", "command": ["echo", text]}}]}}


def sleeper(name: str, seconds: int = 30) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "container": {"image": "busybox", "command": ["sleep", str(seconds)]}}]}}


def wait_phase(client: TestClient, name: str, phases=("Succeeded", "Failed", "Error"), ns: str = NS,
               timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/v1/workflows/{ns}/{name}")
        assert r.status_code == 200, r.text
        wf = r.json()
        if wf["status"].get("phase") in phases:
            return wf
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still {wf['status'].get('phase')!r} after {timeout}s")
        time.sleep(0.02)
