"""A pod's output artifact keeps its `globalName` in the node's outputs, as Argo records the
template's artifact with its location (that field is what publishes it to status.outputs)."""
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
