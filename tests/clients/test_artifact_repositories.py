"""Artifacts whose location names a repository, as clients write them: Argo's key-only artifacts
(`s3: {key: ...}` in the default repository, here the local one) and old Kubeflow manifests
naming their in-cluster minio, which Tiphys cannot reach: a clear error, never a hang."""
from __future__ import annotations

import pytest
import yaml

from client_runs import by_name

pytestmark = pytest.mark.integration

KEY_ONLY = yaml.safe_load("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: key-only-artifacts-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: generate, template: generate}
    - - {name: consume, template: consume, arguments: {parameters: [{name: key, value: my-file}]}}
      - name: from-output
        template: read
        arguments: {artifacts: [{name: file, from: '{{steps.generate.outputs.artifacts.folder}}'}]}
  - name: generate
    container: {image: busybox, command: [sh, -c, 'echo hello > /mnt/file; mkdir /tmp/d; echo two > /tmp/d/x']}
    outputs:
      artifacts:
      - {name: file, path: /mnt/file, s3: {key: my-file}}
      - {name: folder, path: /tmp/d, s3: {key: 'runs/{{workflow.uid}}/{{pod.name}}/d'}, archive: {none: {}}}
  - name: consume
    inputs:
      parameters: [{name: key}]
      artifacts: [{name: file, path: /tmp/file, s3: {key: '{{inputs.parameters.key}}'}}]
    container: {image: busybox, command: [cat, /tmp/file]}
  - name: read
    inputs: {artifacts: [{name: file, path: /tmp/in}]}
    container: {image: busybox, command: [cat, /tmp/in/x]}
""")

MINIO = {"endpoint": "minio-service.kubeflow:9000", "bucket": "mlpipeline", "insecure": True,
         "key": "runs/{{workflow.uid}}/{{pod.name}}/mlpipeline-ui-metadata.tgz",
         "accessKeySecret": {"name": "mlpipeline-minio-artifact", "key": "accesskey"},
         "secretKeySecret": {"name": "mlpipeline-minio-artifact", "key": "secretkey"}}


def legacy_kfp(write: bool) -> dict:
    """What kfp 0.x compiled for every step: its UI metadata uploaded to the cluster's minio."""
    script = "echo '{}' > /mlpipeline-ui-metadata.json; echo done" if write else "echo done"
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "legacy-"},
            "spec": {"entrypoint": "step", "templates": [{
                "name": "step", "container": {"image": "python:3.7", "command": ["sh", "-c", script]},
                "outputs": {"artifacts": [{"name": "mlpipeline-ui-metadata", "path": "/mlpipeline-ui-metadata.json",
                                           "optional": True, "s3": MINIO}]}}]}}


def test_key_only_artifacts_use_the_local_repository(tiphys):
    wf = tiphys.run(KEY_ONLY)
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert tiphys.log(wf, nodes["[1].consume"]) == "hello"          # what it read, in its log
    assert tiphys.log(wf, nodes["[1].from-output"]) == "two"
    assert (tiphys.home / "artifacts" / "my-file").is_file()
    # a second workflow reads what the first left under that key, as from a shared bucket
    again = tiphys.run({**KEY_ONLY, "spec": {**KEY_ONLY["spec"], "entrypoint": "consume",
                                             "arguments": {"parameters": [{"name": "key", "value": "my-file"}]}}})
    assert again["status"]["phase"] == "Succeeded"
    missing = tiphys.run({**KEY_ONLY, "spec": {**KEY_ONLY["spec"], "entrypoint": "consume",
                                               "arguments": {"parameters": [{"name": "key", "value": "nope"}]}}})
    assert missing["status"]["phase"] == "Error"
    assert "'nope' not found" in missing["status"]["message"]


def test_an_output_to_kfps_own_minio_fails_naming_its_secret(tiphys):
    wf = tiphys.run(legacy_kfp(write=True))
    assert wf["status"]["phase"] == "Error"
    message = wf["status"]["message"]
    # KFP's artifacts name their own minio and its credentials' Secret: the first thing missing
    # here is that Secret, and the message names it (Argo's wait container fails the same way)
    assert 'secret "mlpipeline-minio-artifact" not found' in message


def test_an_optional_output_never_written_uploads_nothing(tiphys):
    wf = tiphys.run(legacy_kfp(write=False))
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
