"""The workflow message when the entry or exit template itself cannot run (Argo's
"error in entry/exit template execution", workflow_template_test.go
TestWorkflowTemplateInvalidEntryPoint / TestWorkflowTemplateInvalidOnExit), as opposed to a
child of it failing or a pod that ran and erred."""
from tiphys.testing.engine import Outcome, Simulation

WF = """
metadata: {name: wf}
spec:
  entrypoint: main
  onExit: notify
  templates:
    - name: main
      container: {image: alpine}
    - name: notify
      container: {image: alpine}
    - name: outer
      steps: [[{name: inner, template: main}]]
"""
BAD_POD = Outcome(exit_code=None, error="volumeMounts[0]: mountPath is required", unstarted=True)


def run(outcomes, entry="main"):
    sim = Simulation(WF.replace("entrypoint: main", f"entrypoint: {entry}"), outcomes)
    sim.run()
    return sim.status


def test_entry_pod_that_cannot_be_created_errors_the_workflow_with_argos_prefix():
    status = run({"main": BAD_POD})
    assert status["phase"] == "Error"
    assert status["message"] == "error in entry template execution: volumeMounts[0]: mountPath is required"


def test_exit_pod_that_cannot_be_created_errors_the_workflow_even_after_success():
    status = run({"notify": BAD_POD})
    assert status["phase"] == "Error"
    assert status["message"].startswith("error in exit template execution: volumeMounts[0]")


def test_entry_input_that_cannot_be_bound_is_an_entry_template_error():
    sim = Simulation(WF.replace("container: {image: alpine}\n    - name: notify",
                                "inputs: {parameters: [{name: x}]}\n      container: {image: alpine}\n    - name: notify", 1))
    sim.run()
    assert sim.status["phase"] == "Error"
    assert sim.status["message"].startswith("error in entry template execution: ")


def test_a_pod_that_ran_and_erred_or_a_child_that_cannot_start_keeps_its_own_message():
    status = run({"main": Outcome(exit_code=None, error="pod deleted")})
    assert status["message"] == "pod deleted"
    status = run({"main": BAD_POD}, entry="outer")
    assert not status["message"].startswith("error in entry")
    assert "step group deemed errored due to child" in status["message"]
