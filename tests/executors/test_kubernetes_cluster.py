"""The `kubernetes` executor against a REAL cluster: runs only when TIPHYS_TEST_KUBECONFIG names
a kubeconfig (no cluster can be started on the machines CI runs on, so it skips there; the
executor's logic is tested against a fake of the API client in test_kubernetes.py).

    TIPHYS_TEST_KUBECONFIG=~/.kube/config TIPHYS_HELPER_IMAGE=busybox:1.36 \\
        pytest -m integration tests/executors/test_kubernetes_cluster.py

TIPHYS_TEST_NAMESPACE (default `default`) is where the pods are made; the helper image must be
one the cluster can pull whose /bin/busybox is static (the official busybox image's is)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

KUBECONFIG = os.environ.get("TIPHYS_TEST_KUBECONFIG")
NAMESPACE = os.environ.get("TIPHYS_TEST_NAMESPACE", "default")
TIPHYS = str(Path(sys.executable).with_name("tiphys"))

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not KUBECONFIG, reason="TIPHYS_TEST_KUBECONFIG names no kubeconfig: no cluster "
                                                        "to test against (none can be started on this machine)")]


def _run(tmp_path: Path, name: str, templates: list[dict], **spec) -> dict:
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
          "metadata": {"generateName": f"{name}-", "namespace": NAMESPACE},
          "spec": {"entrypoint": templates[0]["name"], "templates": templates, **spec}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(wf))
    env = {**os.environ, "KUBECONFIG": str(KUBECONFIG), "TIPHYS_HOME": str(tmp_path / "home"),
           "TIPHYS_HELPER_IMAGE": os.environ.get("TIPHYS_HELPER_IMAGE", "busybox:1.36")}
    done = subprocess.run([TIPHYS, "run", str(path), "-o", "json", "--executor", "kubernetes"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.stdout, done.stderr
    return json.loads(done.stdout)


def _node(wf: dict, display: str) -> dict:
    return next(n for n in wf["status"]["nodes"].values() if n["displayName"] == display)


def _pods(workflow: str) -> list[str]:
    from kubernetes import client, config
    config.load_kube_config(config_file=KUBECONFIG)
    found = client.CoreV1Api().list_namespaced_pod(NAMESPACE, label_selector=f"workflows.argoproj.io/workflow={workflow}")
    return [p.metadata.name for p in found.items]


def test_a_step_runs_as_a_pod_and_its_outputs_come_back(tmp_path):
    wf = _run(tmp_path, "kube-hello", [
        {"name": "main", "script": {"image": "busybox:1.36", "command": ["sh"],
                                    "source": "echo hello from the cluster; echo 42 > /tmp/v"},
         "outputs": {"parameters": [{"name": "v", "valueFrom": {"path": "/tmp/v"}}]}}],
        podGC={"strategy": "OnPodCompletion"})
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    node = _node(wf, wf["metadata"]["name"])
    assert node["outputs"]["result"] == "hello from the cluster"
    assert node["outputs"]["parameters"][0]["value"] == "42"
    assert _pods(wf["metadata"]["name"]) == []                   # OnPodCompletion deleted it


def test_exit_codes_and_the_deadline_as_argo_says(tmp_path):
    wf = _run(tmp_path, "kube-fail", [
        {"name": "main", "steps": [[{"name": "exit3", "template": "exit3"}, {"name": "slow", "template": "slow"}]]},
        {"name": "exit3", "container": {"image": "busybox:1.36", "command": ["sh", "-c", "exit 3"]}},
        {"name": "slow", "activeDeadlineSeconds": 5, "container": {"image": "busybox:1.36", "command": ["sleep", "120"]}}])
    assert _node(wf, "exit3")["message"] == "Error (exit code 3)"
    assert _node(wf, "slow")["message"] == "Pod was active on the node longer than the specified deadline"
    assert wf["status"]["phase"] == "Failed"
