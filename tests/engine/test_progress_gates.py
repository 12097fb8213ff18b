"""status.progress counts each executable node once, also when a memoize or mutex gate held it
first: the held node makes way for the running one (Argo's UpdateProgress sums each Pod once)."""
from tiphys.testing.engine import Simulation

MEMO_AND_MUTEX = """
metadata: {name: gated}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: memo, arguments: {parameters: [{name: m, value: "x"}]}}
    - - {name: b, template: memo, arguments: {parameters: [{name: m, value: "x"}]}}
    - - {name: l1, template: locked}
      - {name: l2, template: locked}
  - name: memo
    inputs: {parameters: [{name: m}]}
    memoize: {key: "k-{{inputs.parameters.m}}", maxAge: "1h", cache: {configMap: {name: c}}}
    container: {image: alpine, command: [echo, "{{inputs.parameters.m}}"]}
  - name: locked
    synchronization: {mutexes: [{name: one}]}
    container: {image: alpine, command: [echo, hi]}
"""


def test_gated_nodes_count_once_in_progress():
    sim = Simulation(MEMO_AND_MUTEX)
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert sim.nodes("b")[0]["memoizationStatus"]["hit"] is True
    assert len(sim.pods()) == 4
    assert sim.status["progress"] == "4/4"
