"""Never hang: `parallelism: 0` sets no limit (Argo's HasParallelism), and a workflow that can
make no progress ends in Error naming the nodes that wait."""
import pytest

from tiphys.engine import actions as A
from tiphys.engine import stuck
from tiphys.testing.engine import Outcome, Simulation

LOOP_STEPS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: par}
spec:
  entrypoint: main
  parallelism: WF
  templates:
  - name: main
    parallelism: TP
    steps:
    - - name: each
        template: work
        withItems: [a, b, c]
  - name: work
    container: {image: alpine, command: [echo]}
"""

LOOP_DAG = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: par}
spec:
  entrypoint: main
  templates:
  - name: main
    parallelism: TP
    dag:
      tasks:
      - name: each
        template: work
        withItems: [a, b, c, d]
      - name: one
        template: work
      - name: after
        depends: each && one
        template: work
  - name: work
    container: {image: alpine, command: [echo]}
"""


@pytest.mark.parametrize("wf, tp", [("0", "0"), ("0", "-1"), ("-3", "0")])
def test_parallelism_zero_or_negative_sets_no_limit_in_steps(wf, tp):
    sim = Simulation(LOOP_STEPS.replace("WF", wf).replace("TP", tp))
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert len(sim.pods()) == 3 and sim.max_running == 3


@pytest.mark.parametrize("tp", ["0", "-2"])
def test_parallelism_zero_sets_no_limit_in_dag_loops(tp):
    sim = Simulation(LOOP_DAG.replace("TP", tp))
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert len(sim.pods()) == 6 and sim.max_running == 5


def test_positive_parallelism_still_limits():
    sim = Simulation(LOOP_STEPS.replace("WF", "0").replace("TP", "2"))
    sim.run()
    assert sim.status["phase"] == "Succeeded" and sim.max_running == 2
    sim = Simulation(LOOP_DAG.replace("TP", '"1"'))
    sim.run()
    assert sim.status["phase"] == "Succeeded" and sim.max_running == 1


CYCLE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: cyc}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: first
        template: work
    - - name: loop
        template: dag
  - name: dag
    dag:
      tasks:
      - {name: a, template: work, depends: b}
      - {name: b, template: work, depends: a}
  - name: work
    container: {image: alpine, command: [echo]}
"""


def test_a_workflow_that_can_make_no_progress_ends_in_error_naming_the_waiting_nodes():
    sim = Simulation(CYCLE)
    sim.run()
    assert sim.engine.finished and sim.status["phase"] == "Error"
    msg = sim.status["message"]
    assert msg == "workflow can make no progress: node cyc[1].loop is waiting and nothing can start them"
    assert sim.phase("first") == "Succeeded"
    assert sim.phase("loop") == "Error" and sim.nodes("loop")[0]["finishedAt"]
    assert {n["phase"] for n in sim.status["nodes"].values()} <= {"Succeeded", "Error"}


def test_stuck_message_names_every_waiting_node():
    text = CYCLE.replace("    - - name: loop\n        template: dag\n",
                         "    - - name: loop\n        template: dag\n      - name: loop2\n        template: dag\n")
    sim = Simulation(text)
    sim.run()
    assert sim.status["message"] == ("workflow can make no progress: nodes cyc[1].loop, cyc[1].loop2 are waiting "
                                     "and nothing can start them")


SUSPEND = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: sus}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: approve
        template: wait
    - - name: go
        template: work
  - name: wait
    suspend: DURATION
  - name: work
    container: {image: alpine, command: [echo]}
"""


def test_a_suspend_node_waiting_for_resume_is_not_stuck():
    sim = Simulation(SUSPEND.replace("DURATION", "{}"))
    sim.run()
    assert not sim.engine.finished and sim.status["phase"] == "Running"
    assert stuck.diagnose(sim.engine) is None
    resumed = Simulation(SUSPEND.replace("DURATION", "{}"))
    resumed.send(50, A.NodesResumed(""))
    resumed.run()
    assert resumed.status["phase"] == "Succeeded"


def test_a_pending_timer_or_a_user_suspend_is_not_stuck():
    sim = Simulation(SUSPEND.replace("DURATION", "{duration: '30'}"))
    sim.engine.start(sim.now)
    assert stuck.diagnose(sim.engine) is None      # the suspend's timer is pending
    held = Simulation(SUSPEND.replace("DURATION", "{duration: '1'}").replace("entrypoint: main",
                                                                            "entrypoint: main\n  suspend: true"))
    held.run()
    assert not held.engine.finished and stuck.diagnose(held.engine) is None


def test_a_retry_backoff_is_not_stuck():
    text = SUSPEND.replace("DURATION", "{duration: '0'}").replace(
        "  - name: work\n", "  - name: work\n    retryStrategy: {limit: 2, backoff: {duration: '60'}}\n")
    sim = Simulation(text, outcomes={"work": [Outcome(exit_code=1), Outcome(exit_code=0)]})
    sim.run()
    assert sim.status["phase"] == "Succeeded" and len(sim.pods()) == 2
