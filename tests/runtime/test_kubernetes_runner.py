"""A whole workflow through the runtime and the `kubernetes` executor, the cluster being the
fake of the API client seam (tests/executors/kube_fake.py) with a scripted kubelet: the Pods
the runtime builds are created, their outputs come back, an evicted pod fails its node with
the cluster's message, and the local quota admission stands aside for the cluster's."""
from __future__ import annotations

import asyncio
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "executors"))

from kube_fake import FakeApi, cluster, main_ended, running  # noqa: E402
from tiphys.executors.choose import Chosen, Choice  # noqa: E402
from tiphys.executors.kubernetes import KubernetesExecutor  # noqa: E402
from tiphys.runtime.runner import Runner  # noqa: E402
from tiphys.store.sqlite import Store  # noqa: E402

EVICTED = "The node was low on resource: memory. Container main was using 2Gi, which exceeds its request of 0."
WF = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
      "metadata": {"name": "kube", "namespace": "default", "uid": "u-9"},
      "spec": {"entrypoint": "main", "templates": [
          {"name": "main", "steps": [[{"name": "make", "template": "make"}],
                                     [{"name": "use", "template": "use",
                                       "arguments": {"parameters": [
                                           {"name": "v", "value": "{{steps.make.outputs.parameters.v}}"}]}}]]},
          {"name": "make", "container": {"image": "alpine", "command": ["sh", "-c", "echo 42 > /tmp/v"]},
           "outputs": {"parameters": [{"name": "v", "valueFrom": {"path": "/tmp/v"}}]}},
          {"name": "use", "inputs": {"parameters": [{"name": "v"}]},
           "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.v}}"]}}]}}


async def kubelet(api: FakeApi, seen: list[dict]) -> None:
    """Run each pod the executor creates: `make` writes its output, `use` is evicted."""
    done: set[str] = set()
    while True:
        for (ns, name), pod in list(api.pods.items()):
            if name in done:
                continue
            done.add(name)
            seen.append(copy.deepcopy(pod))
            template = pod["metadata"]["annotations"]["workflows.argoproj.io/node-name"]
            if template.endswith(".make"):
                api.files[name] = {"ctr/main/stdout": b"", "ctr/main/exitcode": b"0", "outputs/0": b"42\n"}
                api.set_status(ns, name, running("main", "wait"))
                api.set_status(ns, name, main_ended(0))
            else:
                api.set_status(ns, name, {"phase": "Failed", "reason": "Evicted", "message": EVICTED,
                                          "containerStatuses": [{"name": "main", "state": {"terminated": {
                                              "exitCode": 137, "reason": "Error"}}}]})
        await asyncio.sleep(0.01)


def test_a_workflow_runs_through_the_kubernetes_executor(tmp_path):
    api = FakeApi()
    ex = KubernetesExecutor(cluster(api), watch_timeout=1)
    chosen = Chosen(Choice("kubernetes", "--executor"), factories={"kubernetes": lambda: ex})
    assert chosen.plays_pods and chosen.cluster_admits
    store = Store(tmp_path / "db")
    # a quota the local admission would hold the second step for: with a cluster it is the cluster's
    store.save_template("ResourceQuota", {"apiVersion": "v1", "kind": "ResourceQuota",
                                          "metadata": {"name": "q", "namespace": "default"},
                                          "spec": {"hard": {"pods": "0"}}})
    seen: list[dict] = []

    async def main():
        task = asyncio.ensure_future(kubelet(api, seen))
        try:
            runner = Runner(copy.deepcopy(WF), store=store, home=tmp_path, on_update=None, dry_run=False,
                            executor=chosen)
            return await asyncio.wait_for(runner.main(), 15)
        finally:
            task.cancel()
            api.closed = True
            ex.watches.close()
    wf = asyncio.run(main())
    nodes = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    assert nodes["make"]["phase"] == "Succeeded"
    assert nodes["make"]["outputs"]["parameters"][0]["value"] == "42"
    assert nodes["use"]["phase"] == "Failed" and nodes["use"]["message"] == EVICTED
    assert wf["status"]["phase"] == "Failed"
    use = next(p for p in seen if p["metadata"]["annotations"]["workflows.argoproj.io/node-name"].endswith(".use"))
    main = next(c for c in use["spec"]["containers"] if c["name"] == "main")
    assert main["command"][-2:] == ["echo", "42"]            # the output went into the next pod's command
    assert [c["name"] for c in use["spec"]["containers"]] == ["wait", "main"]
    assert api.most_streams == {"default": 1}
