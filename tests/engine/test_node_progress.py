"""Per-node `progress` as Argo's UpdateProgress writes it: executable nodes 0/1 or 1/1, others
the sum over what their children reach (a step group reaches the later groups through its
pods' and skipped nodes' children), absent when that sum counts no node; the exit handler is in status.progress
but under no node of the main tree."""
from tiphys.testing.engine import Outcome, Simulation

STEPS = """
metadata: {name: p}
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    steps:
    - - {name: a, template: ok}
      - {name: skip, template: ok, when: "1 == 2"}
    - - {name: bad, template: fail, continueOn: {failed: true}}
    - - {name: c, template: ok}
  - name: bye
    container: {image: alpine, command: [echo, bye]}
  - name: ok
    container: {image: alpine, command: [echo, ok]}
  - name: fail
    container: {image: alpine, command: [sh, -c, "exit 1"]}
"""


def test_node_progress_follows_argo():
    sim = Simulation(STEPS, outcomes={"fail": Outcome(exit_code=1)})
    sim.run()
    nodes = {n["name"]: n for n in sim.status["nodes"].values()}
    assert sim.status["phase"] == "Succeeded"
    assert sim.status["progress"] == "3/4"
    prog = {k: n.get("progress") for k, n in nodes.items()}
    assert prog["p[0].a"] == "1/1" and prog["p[1].bad"] == "0/1" and prog["p.onExit"] == "1/1"
    assert prog["p[0].skip"] == "1/2"          # not executable; its children are the later groups
    assert prog["p"] == "2/3"                 # the exit handler is not under the root
    assert prog["p[0]"] == "2/3" and prog["p[1]"] == "1/2" and prog["p[2]"] == "1/1"
