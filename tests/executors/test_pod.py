"""The `pod` executor plays a step's whole Pod: the template's initContainers and sidecars
really run in it, beside main, sharing its volumes and network (a real `podman kube play`)."""
from __future__ import annotations

import asyncio
import copy
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.executors.contract import ensure_test_images, podman_or_skip
from tiphys.runtime.runner import Runner
from tiphys.store.sqlite import Store

pytestmark = pytest.mark.integration

SHARED = [{"name": "shared", "mountPath": "/shared"}]
WF = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
      "metadata": {"name": "pod-parts", "namespace": "default"},
      "spec": {"entrypoint": "main", "templates": [{
          "name": "main", "volumes": [{"name": "shared", "emptyDir": {}}],
          "initContainers": [{"name": "prep", "image": "busybox", "volumeMounts": SHARED,
                              "command": ["sh", "-c", "echo from-init > /shared/init.txt"]}],
          "sidecars": [{"name": "side", "image": "busybox", "volumeMounts": SHARED,
                        "command": ["sh", "-c", "echo side-log; echo from-sidecar > /shared/side.txt; "
                                    "sleep 600"]}],
          "container": {"image": "busybox", "volumeMounts": SHARED, "command": ["sh", "-c", (
              "cat /shared/init.txt; for i in $(seq 100); do [ -f /shared/side.txt ] && break; sleep 0.1; done; "
              "cat /shared/side.txt")]}}]}}


@pytest.fixture()
def executor():
    from tiphys.executors.pod import PodExecutor
    podman_or_skip()
    ensure_test_images()
    subprocess.run(["bash", str(Path(__file__).resolve().parents[2] / "scripts/setup.d/37-helper-image.sh")],
                   check=True)
    ex = PodExecutor()
    yield ex
    ex.close()


def run(tmp_path: Path, wf: dict, executor) -> tuple[dict, Store]:
    store = Store(tmp_path / "db")
    runner = Runner(copy.deepcopy(wf), store=store, home=tmp_path, on_update=None, dry_run=False, executor=executor)
    return asyncio.run(asyncio.wait_for(runner.main(), 120)), store


def logs(store: Store, wf: dict, container: str = "main") -> str:
    node_id = next(iter(wf["status"]["nodes"]))
    return "".join(content for *_, content in store.get_logs(wf["metadata"]["name"], node_id, container=container))


def test_init_containers_and_sidecars_run_in_the_pod(tmp_path, executor):
    began = time.monotonic()
    wf, store = run(tmp_path, WF, executor)
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    assert logs(store, wf) == "from-init\nfrom-sidecar\n"     # main read what they wrote in the pod's emptyDir
    assert "side-log" in logs(store, wf, "side")
    assert time.monotonic() - began < 25          # the sidecar ended by SIGTERM, not after the 30 s grace
    left = subprocess.run(["podman", "pod", "ps", "--filter", "label=workflows.argoproj.io/workflow=pod-parts",
                           "-q"], capture_output=True, text=True).stdout
    assert left.strip() == ""                     # podman kube down when the workflow ended


def test_a_failing_init_container_stops_the_pod_before_main(tmp_path, executor):
    wf = copy.deepcopy(WF)
    tmpl = wf["spec"]["templates"][0]
    tmpl["initContainers"][0]["command"] = ["sh", "-c", "echo no; exit 3"]
    tmpl.pop("sidecars")
    done, _ = run(tmp_path, wf, executor)
    node = next(iter(done["status"]["nodes"].values()))
    assert done["status"]["phase"] in ("Failed", "Error")
    assert "prep" in node["message"] and "exit code 3" in node["message"]


def test_a_failing_sidecar_fails_the_node(tmp_path, executor):
    wf = copy.deepcopy(WF)
    tmpl = wf["spec"]["templates"][0]
    tmpl["sidecars"][0]["command"] = ["sh", "-c", "echo from-sidecar > /shared/side.txt; exit 4"]
    tmpl["container"]["command"] = ["sh", "-c", "sleep 1; cat /shared/side.txt"]
    done, _ = run(tmp_path, wf, executor)
    node = next(iter(done["status"]["nodes"].values()))
    assert done["status"]["phase"] == "Failed"
    assert "side: Error (exit code 4)" in node["message"]


def test_the_chosen_pod_executor_is_handed_whole_pods():
    from tiphys.executors.choose import executor_for
    podman_or_skip()
    chosen = executor_for(None, flag="pod", env={})
    assert chosen.plays_pods and chosen.entrypoint is not None
    assert not executor_for(None, flag="host", env={}).plays_pods


SET = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
       "metadata": {"name": "pod-set", "namespace": "default"},
       "spec": {"entrypoint": "main", "templates": [{
           "name": "main", "volumes": [{"name": "shared", "emptyDir": {}}],
           "containerSet": {"volumeMounts": SHARED, "containers": [
               {"name": "a", "image": "busybox", "command": ["sh", "-c", "sleep 1; echo a >> /shared/order"]},
               {"name": "b", "image": "busybox", "dependencies": ["a"],
                "command": ["sh", "-c", "echo b >> /shared/order; echo b-fails; exit 3"]},
               {"name": "c", "image": "busybox", "dependencies": ["b"], "command": ["sh", "-c", "echo c-ran"]},
               {"name": "main", "image": "busybox", "dependencies": ["a"],
                "command": ["sh", "-c", "cat /shared/order"]}]}}]}}


def test_a_container_set_is_one_pod_its_containers_in_dependency_order(tmp_path, executor, monkeypatch):
    monkeypatch.setenv("TIPHYS_POD_FILES", str(tmp_path / "played"))
    executor = type(executor)()           # (reads TIPHYS_POD_FILES as it is made)
    try:
        wf, store = run(tmp_path, SET, executor)
    finally:
        executor.close()
    played = sorted((tmp_path / "played").iterdir())
    assert len(played) == 1                              # one pod for the whole set
    containers = [c["name"] for c in yaml.safe_load(played[0].read_text())["spec"]["containers"]]
    assert containers == ["a", "b", "c", "main"]
    nodes = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    assert wf["status"]["phase"] == "Failed"
    assert nodes["pod-set"]["message"] == "b: Error (exit code 3)"
    assert (nodes["a"]["phase"], nodes["b"]["phase"], nodes["main"]["phase"]) == ("Succeeded", "Failed", "Succeeded")
    assert nodes["c"]["phase"] == "Error"
    assert nodes["c"]["message"] == 'c: Error (exit code 64): dependency "b" exited with non-zero code: 3'

    def said(name: str) -> str:
        return "".join(text for *_, text in store.get_logs("pod-set", nodes[name]["id"]))
    assert said("main") in ("a\n", "a\nb\n")              # main waited for a (b may have written already)
    assert "b-fails" in said("b") and "c-ran" not in said("c")   # c never ran its command


def test_a_container_set_retries_its_failing_command_in_place(tmp_path, executor):
    wf = copy.deepcopy(SET)
    cs = wf["spec"]["templates"][0]["containerSet"]
    cs["retryStrategy"] = {"retries": 3}
    cs["containers"] = [{"name": "main", "image": "busybox", "command": ["sh", "-c", (
        "echo try >> /shared/tries; [ $(wc -l < /shared/tries) -ge 2 ]")]}]
    done, store = run(tmp_path, wf, executor)
    assert done["status"]["phase"] == "Succeeded", done["status"]
