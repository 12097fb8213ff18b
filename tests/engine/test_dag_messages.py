"""A failed DAG and a failed loop TaskGroup carry no message: Argo's executeDAG marks them with
markNodePhase and no message, so a DAG workflow that fails has an empty status.message (a
Steps workflow's message is its step group's "child '<id>' failed")."""
from tiphys.testing.engine import Outcome, Simulation

DAG = """
metadata: {name: d}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: job, withItems: [1, 2]}
      - {name: b, template: job, depends: a}
  - name: job
    container: {image: alpine, command: [echo, hi]}
"""


def test_failed_dag_and_task_group_have_no_message():
    sim = Simulation(DAG, outcomes={"job": [Outcome(exit_code=1), Outcome()]})
    sim.run()
    nodes = {n["name"]: n for n in sim.status["nodes"].values()}
    assert sim.status["phase"] == "Failed" and "message" not in sim.status
    assert nodes["d"]["phase"] == "Failed" and "message" not in nodes["d"]
    assert nodes["d.a"]["type"] == "TaskGroup" and nodes["d.a"]["phase"] == "Failed" and "message" not in nodes["d.a"]
    assert nodes["d.b"]["phase"] == "Omitted"
