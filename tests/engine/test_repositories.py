"""Artifact locations that name a repository (`s3:`, `gcs:` ...): a key-only one is that key of
the local repository; any other is a clear error (repositories.py)."""
from __future__ import annotations

from tiphys.engine import repositories
from tiphys.testing.engine import Outcome, Simulation

KEY_ONLY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: generate, template: generate}
    - - {name: consume, template: consume, arguments: {parameters: [{name: key, value: my-file}]}}
  - name: generate
    container: {image: busybox}
    outputs:
      artifacts:
      - {name: file, path: /mnt/file, s3: {key: 'runs/{{workflow.name}}/{{pod.name}}/file.tgz'}}
      - {name: plain, path: /mnt/plain}
  - name: consume
    inputs:
      parameters: [{name: key}]
      artifacts:
      - {name: file, path: /tmp/file, s3: {key: '{{inputs.parameters.key}}'}}
    container: {image: busybox}
"""


def test_location_of_each_kind():
    assert repositories.location({"name": "a", "path": "/p"}) == (None, None)
    assert repositories.location({"name": "a", "s3": {"key": "/x/y.tgz"}}) == ("x/y.tgz", None)
    assert repositories.location({"name": "a", "gcs": {"key": "k", "bucket": ""}}) == ("k", None)
    assert repositories.location({"name": "a", "azure": {"blob": "b"}}) == ("b", None)
    key, problem = repositories.location({"name": "ui", "s3": {
        "endpoint": "minio-service.kubeflow:9000", "bucket": "mlpipeline", "key": "runs/x.tgz", "insecure": True}})
    assert key is None
    assert "artifact 'ui'" in problem and "minio-service.kubeflow:9000" in problem and "mlpipeline" in problem
    assert repositories.location({"name": "g", "git": {"repo": "https://x/y.git"}})[1].startswith("artifact 'g': its git")
    assert "must be an object" in repositories.location({"name": "a", "s3": "bucket/key"})[1]


def test_key_only_outputs_and_inputs_use_the_rendered_key():
    sim = Simulation(KEY_ONLY, {"generate": Outcome(artifacts={"file": {"local": {"key": "k1"}},
                                                               "plain": {"local": {"key": "k2"}}})}, name="wf")
    sim.run()
    generate, consume = sim.started
    arts = {a.name: a for a in generate.artifacts}
    assert arts["file"].key == f"runs/wf/{generate.pod_name}/file.tgz" and arts["file"].problem is None
    assert arts["plain"].key is None                   # the runtime picks the key
    assert consume.inputs[0].source == {"local": {"key": "my-file"}}
    assert sim.wf["status"]["phase"] == "Succeeded"
    node = next(n for n in sim.wf["status"]["nodes"].values() if n["displayName"] == "consume")
    assert "keyed" not in node["inputs"]["artifacts"][0]


def test_an_input_with_its_own_s3_location_is_left_to_the_runtime():
    """The runtime's S3 client fetches it (tiphys/artifacts/s3.py; an unreachable endpoint
    fails the step there, naming it)."""
    wf = KEY_ONLY.replace("s3: {key: '{{inputs.parameters.key}}'}",
                          "s3: {endpoint: 'minio-service.kubeflow:9000', bucket: mlpipeline, key: k}")
    sim = Simulation(wf, {"generate": Outcome(artifacts={"file": {"local": {"key": "k1"}},
                                                         "plain": {"local": {"key": "k2"}}})})
    sim.run()
    consume = sim.started[1]
    assert consume.inputs[0].source["s3"] == {"endpoint": "minio-service.kubeflow:9000", "bucket": "mlpipeline",
                                              "key": "k"}


def test_an_input_from_an_unsupported_repository_is_an_error_naming_it():
    wf = KEY_ONLY.replace("s3: {key: '{{inputs.parameters.key}}'}",
                          "gcs: {bucket: mlpipeline, key: k}")
    sim = Simulation(wf, {"generate": Outcome(artifacts={"file": {"local": {"key": "k1"}},
                                                         "plain": {"local": {"key": "k2"}}})})
    sim.run()
    assert sim.wf["status"]["phase"] == "Failed"
    node = next(n for n in sim.wf["status"]["nodes"].values() if n["displayName"] == "consume")
    assert node["phase"] == "Error" and "mlpipeline" in node["message"]
