"""A workflowTemplateRef that names no registered template: as Argo's controller, the
workflow ends in Error with a message naming it (no node runs)."""
from tiphys.spec.lint import lint_manifests
from tiphys.spec.load import load_text
from tiphys.testing.engine import Simulation

WF = """
metadata: {name: wellformed}
spec:
  workflowTemplateRef: {name: malformed}
"""


def test_missing_workflow_template_ends_in_error():
    sim = Simulation(WF)
    sim.run()
    assert sim.status["phase"] == "Error"
    assert "malformed" in sim.status["message"] and "not found" in sim.status["message"]
    assert sim.status["nodes"] == {} and sim.started == []


def test_registered_workflow_template_still_runs():
    tmpl = {"kind": "WorkflowTemplate", "metadata": {"name": "malformed"},
            "spec": {"entrypoint": "m", "templates": [{"name": "m", "container": {"image": "alpine"}}]}}
    sim = Simulation(WF, registry={("WorkflowTemplate", "malformed"): tmpl})
    sim.run()
    assert sim.status["phase"] == "Succeeded"


def test_lint_reports_it_as_met_at_run_time():
    issues = lint_manifests(load_text("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n" + WF, "t.yaml"))
    assert [(i.path, i.at_run) for i in issues] == [("spec.workflowTemplateRef", True)]
