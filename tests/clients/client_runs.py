"""Run workflows that real Argo clients produced through the real `tiphys` CLI, each test with a
fresh TIPHYS_HOME (the `tiphys` fixture, conftest.py), and look at the final Workflow as Argo
would report it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

TIPHYS = Path(sys.executable).parent / "tiphys"
COMMAND = [str(TIPHYS)] if TIPHYS.exists() else [sys.executable, "-m", "tiphys.cli.main"]
TESTDATA = Path(__file__).parent / "testdata"


class Tiphys:
    def __init__(self, home: Path, workdir: Path):
        self.home, self.workdir = home, workdir

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**os.environ, "TIPHYS_HOME": str(self.home), "NO_COLOR": "1"}
        return subprocess.run([*COMMAND, *map(str, args)], env=env, capture_output=True, text=True,
                              timeout=timeout, cwd=self.workdir)

    def run(self, workflow: dict | Path, *args: str) -> dict:
        """`tiphys run FILE -o json` of a manifest (a dict is written to a file first)."""
        if isinstance(workflow, dict):
            path = self.workdir / f"wf-{len(list(self.workdir.glob('wf-*.yaml')))}.yaml"
            path.write_text(yaml.safe_dump(workflow))
            workflow = path
        done = self("run", workflow, "-o", "json", *args)
        assert done.stdout, done.stderr
        return json.loads(done.stdout)

    def log(self, wf: dict, node: dict, *args: str) -> str:
        """What one step printed, as `tiphys logs` shows it, one trailing newline trimmed: Argo
        keeps a step's stdout as `outputs.result` only when its caller names it, users read the
        other steps' output in their log. `args`: e.g. `--server URL -n NS`."""
        done = self("logs", wf["metadata"]["name"], "--node", node["id"], "--no-prefix", *args)
        assert done.returncode == 0, done.stderr
        return done.stdout.removesuffix("\n")


def by_name(wf: dict) -> dict[str, dict]:
    """Nodes by their name less the workflow's name (`[0].step`, `task`, `for-loop-1(0:1).add`)."""
    root = wf["metadata"]["name"]
    return {n["name"][len(root):].lstrip("."): n for n in wf["status"]["nodes"].values()}


def param(node: dict, name: str) -> str | None:
    for p in (node.get("outputs") or {}).get("parameters") or []:
        if p["name"] == name:
            return p.get("value")
    return None


def finished(service, name: str, namespace: str = "argo", timeout: float = 60) -> dict:
    """Poll Hera's WorkflowsService (as Hera's `Workflow.wait`, which stops at the first phase
    other than Running) until workflow `name` ends; the final Workflow as a dict."""
    deadline = time.monotonic() + timeout
    while True:
        got = service.get_workflow(name, namespace=namespace)
        if got.status and got.status.phase in ("Succeeded", "Failed", "Error"):
            return got.model_dump(by_alias=True, exclude_none=True)
        assert time.monotonic() < deadline, f"still {got.status and got.status.phase}"
        time.sleep(0.1)
