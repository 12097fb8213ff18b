"""Artifacts in node status: a pod's output artifact keeps its `globalName`, as Argo records the
template's artifact with its location (that field is what publishes it to status.outputs); an
optional input artifact that was not supplied is listed as declared."""
from tiphys.testing.engine import Outcome, Simulation

GLOBAL_ART = """
metadata: {name: g}
spec:
  entrypoint: make
  templates:
  - name: make
    container: {image: alpine, command: [touch, /tmp/m]}
    outputs:
      artifacts: [{name: model, path: /tmp/m, globalName: best-model}, {name: plain, path: /tmp/p}]
"""


def test_output_artifact_keeps_its_global_name():
    loc = {"local": {"key": "k/model.tgz"}}
    sim = Simulation(GLOBAL_ART, outcomes={"make": Outcome(artifacts={"model": loc, "plain": {"local": {"key": "p"}}})})
    sim.run()
    arts = {a["name"]: a for a in sim.pods()[0]["outputs"]["artifacts"]}
    assert arts["model"] == {"name": "model", "path": "/tmp/m", "globalName": "best-model", **loc}
    assert "globalName" not in arts["plain"]
    assert [a["name"] for a in sim.status["outputs"]["artifacts"]] == ["best-model"]


OPTIONAL_IN = """
metadata: {name: o}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: make, template: make}
    - - name: use
        template: use
        arguments: {artifacts: [{name: maybe, from: "{{steps.make.outputs.artifacts.maybe}}", optional: true}]}
  - name: make
    container: {image: alpine, command: [echo]}
    outputs: {artifacts: [{name: maybe, path: /tmp/nothing, optional: true}]}
  - name: use
    inputs: {artifacts: [{name: maybe, path: /tmp/maybe, optional: true}]}
    container: {image: alpine, command: [echo]}
"""


def test_optional_input_artifact_not_supplied_is_listed_as_declared():
    sim = Simulation(OPTIONAL_IN)
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert sim.nodes("use")[0]["inputs"] == {"artifacts": [{"name": "maybe", "path": "/tmp/maybe", "optional": True}]}
