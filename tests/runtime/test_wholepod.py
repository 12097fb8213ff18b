"""The seam for executors that play whole pods (`plays_pods`): they get the step's built Pod
in `StepSpec.pod`, the runtime composes no sidecar for them, and the pod's other containers
come back in `StepResult.containers` (their logs stored, a failed sidecar failing the node)."""
from __future__ import annotations

import asyncio
import copy
from pathlib import Path

from tiphys.executors.base import StepResult
from tiphys.runtime.runner import Runner
from tiphys.store.sqlite import Store

WF = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "whole", "namespace": "default"},
      "spec": {"entrypoint": "main", "templates": [{
          "name": "main", "container": {"image": "busybox", "command": ["sh", "-c", "echo hi"]},
          "initContainers": [{"name": "prep", "image": "busybox", "command": ["true"]}],
          "sidecars": [{"name": "db", "image": "busybox", "command": ["sleep", "60"]}]}]}}


class Player:
    """Plays nothing: records the specs it was given and reports the sidecar's exit code."""
    name = "player"
    plays_pods = True

    def __init__(self, side_code: int):
        self.specs, self.side_code = [], side_code

    async def start(self, spec):
        self.specs.append(spec)
        spec.workdir.mkdir(parents=True, exist_ok=True)
        out, err = spec.workdir / "stdout", spec.workdir / "stderr"
        out.write_text("hi\n")
        err.write_bytes(b"")
        side_out = spec.workdir / "db.out"
        side_out.write_text("db ready\n")
        result = StepResult(0, out, err, {}, containers=(("db", StepResult(self.side_code, side_out, err, {})),))

        class Handle:
            async def wait(self):
                return result

            async def stop(self, grace=0.0):
                pass
        return Handle()


def run(tmp_path: Path, side_code: int):
    ex = Player(side_code)
    store = Store(tmp_path / "db")
    runner = Runner(copy.deepcopy(WF), store=store, home=tmp_path, on_update=None, dry_run=False, executor=ex)
    return asyncio.run(runner.main()), ex, store


def test_the_executor_gets_the_whole_pod_and_plays_its_sidecars(tmp_path):
    wf, ex, store = run(tmp_path, 143)
    assert wf["status"]["phase"] == "Succeeded"
    assert len(ex.specs) == 1                    # no sidecar started beside main by the runtime
    pod = ex.specs[0].pod
    assert pod["kind"] == "Pod"
    assert [c["name"] for c in pod["spec"]["containers"]] == ["main", "db"]
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["init", "prep"]
    assert pod["spec"]["containers"][0]["command"][:2] == ["/var/run/argo/busybox", "sh"]
    node_id = next(iter(wf["status"]["nodes"]))
    assert "db ready" in str(store.get_logs("whole", node_id, container="db"))


def test_a_failed_sidecar_of_the_pod_fails_the_node(tmp_path):
    wf, _, _ = run(tmp_path, 3)
    node = next(iter(wf["status"]["nodes"].values()))
    assert node["phase"] in ("Failed", "Error") and "db: Error (exit code 3)" in node.get("message", "")
