"""memoize and template locks through real `tiphys run` processes sharing one TIPHYS_HOME."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tiphys.engine import names

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

MEMO = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: memo-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: stamp}
    - - {name: use, template: show, arguments: {parameters: [{name: v, value: "{{steps.a.outputs.result}}"}]}}
  - name: show
    inputs: {parameters: [{name: v}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.v}}"]}
  - name: stamp
    memoize: {key: "stamp-{{workflow.parameters.k}}", cache: {configMap: {name: stamps}}}
    container: {image: busybox, command: [sh, -c, "date +%s%N"]}
  arguments: {parameters: [{name: k, value: one}]}
"""

SEMAPHORE = """
apiVersion: v1
kind: ConfigMap
metadata: {name: sizes}
data: {width: "2"}
---
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: sem-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: slow}
      - {name: b, template: slow}
      - {name: c, template: slow}
  - name: slow
    synchronization: {semaphores: [{configMapKeyRef: {name: sizes, key: width}}]}
    container: {image: busybox, command: [sleep, "1"]}
"""


def run(tmp_path: Path, text: str, *args: str) -> dict:
    path = tmp_path / "wf.yaml"
    path.write_text(text)
    env = {**os.environ, "TIPHYS_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "tiphys.cli.main", "run", str(path), "-o", "json", *args],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def node(wf: dict, display: str) -> dict:
    [found] = [n for n in wf["status"]["nodes"].values() if n["displayName"] == display]
    return found


def test_a_second_run_hits_the_cache_and_another_key_misses(tmp_path):
    first = node(run(tmp_path, MEMO), "a")
    second = node(run(tmp_path, MEMO), "a")
    other = node(run(tmp_path, MEMO, "-p", "k=two"), "a")
    assert first["memoizationStatus"] == {"hit": False, "key": "stamp-one", "cacheName": "stamps"}
    assert second["memoizationStatus"]["hit"] is True and "podName" not in second
    # `use` names a's result, so Argo keeps it, and the cache gives it back
    assert first["outputs"]["result"].isdigit() and second["outputs"]["result"] == first["outputs"]["result"]
    assert other["memoizationStatus"]["hit"] is False and other["outputs"]["result"] != first["outputs"]["result"]


def test_a_semaphore_from_a_configmap_document_limits_the_steps(tmp_path):
    wf = run(tmp_path, SEMAPHORE)
    assert wf["status"]["phase"] == "Succeeded"
    spans = sorted((names.parse_timestamp(n["startedAt"]), names.parse_timestamp(n["finishedAt"]))
                   for n in wf["status"]["nodes"].values() if n["type"] == "Pod")
    assert len(spans) == 3
    assert max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans) == 2


CM_PARAMS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: cmref-parameters, labels: {workflows.argoproj.io/configmap-type: Parameter}}
data: {msg: hello world}
---
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: cm-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: key, value: msg}, {name: g, valueFrom: {configMapKeyRef: {name: cmref-parameters, key: msg}}}]}
  templates:
  - name: main
    inputs:
      parameters:
      - name: message
        valueFrom: {configMapKeyRef: {name: cmref-parameters, key: '{{ workflow.parameters.key }}'}}
      - name: missing
        valueFrom: {default: fallback, configMapKeyRef: {name: cmref-parameters, key: nope}}
    container: {image: busybox, command: [echo, "{{inputs.parameters.message}}|{{inputs.parameters.missing}}|{{workflow.parameters.g}}"]}
"""


def test_parameters_read_a_stored_configmap_by_templated_name_and_key(tmp_path):
    # workflow_configmap_substitution_test.go TestKeySubstitution, with the value checked
    wf = run(tmp_path, CM_PARAMS)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    root = next(n for n in wf["status"]["nodes"].values() if n["type"] == "Pod")
    values = {p["name"]: p["value"] for p in root["inputs"]["parameters"]}
    assert values == {"message": "hello world", "missing": "fallback"}
    logs = subprocess.run([sys.executable, "-m", "tiphys.cli.main", "logs", wf["metadata"]["name"]],
                          env={**os.environ, "TIPHYS_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60).stdout
    assert "hello world|fallback|hello world" in logs
