"""Lifecycle hooks (Argo's hooks_test.go, translated): workflow-level and step/task-level
`hooks` with expressions, fired once, waited for before the owner is reported done."""
from pathlib import Path

import pytest
import yaml

from tiphys.testing.engine import Outcome, Simulation

E2E = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "e2e"


def e2e(name: str, outcomes=None) -> Simulation:
    path = E2E / name
    if not path.exists():
        pytest.skip(f"../shared is absent: {path} not found")
    return Simulation(yaml.safe_load(path.read_text()), outcomes)


def by_display(sim, suffix):
    return [n for n in sim.status["nodes"].values() if n["displayName"].endswith(suffix)]


def test_workflow_level_hooks_success_version():
    # hooks_test.go:24: the running and succeed hooks both run and succeed
    sim = e2e("TestWorkflowLevelHooksSuccessVersion.yaml")
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    running, succeed = by_display(sim, ".hooks.running"), by_display(sim, ".hooks.succeed")
    assert [n["phase"] for n in running + succeed] == ["Succeeded", "Succeeded"]
    assert running[0]["nodeFlag"] == {"hooked": True}
    root = sim.status["nodes"][sim.engine.name]
    assert {running[0]["id"], succeed[0]["id"]} <= set(root["children"])
    assert running[0]["name"] == f"{sim.engine.name}.hooks.running"


def test_workflow_level_hooks_fail_version():
    # hooks_test.go:68: the main step fails; running and failed hooks run
    sim = e2e("TestWorkflowLevelHooksFailVersion.yaml", {"argosay": Outcome(exit_code=1)})
    sim.run()
    assert sim.status["phase"] == "Failed"
    hooks = {n["displayName"].rsplit(".", 1)[1]: n["phase"] for n in sim.status["nodes"].values()
             if ".hooks." in n["name"]}
    assert hooks == {"running": "Succeeded", "failed": "Succeeded"}
    assert len(sim.pods()) == 3


def test_a_hook_fires_once_and_the_workflow_waits_for_it():
    # hooks_test.go:420: the triggered `running` hook (slower than the main step) is waited for;
    # the `failed` hook never fires and is not waited for
    sim = e2e("TestWorkflowLevelHooksWaitForTriggeredHook.yaml",
              {"argosay": Outcome(duration=1), "argosay-sleep-2seconds": Outcome(duration=5)})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert len(sim.pods()) == 2
    hook = by_display(sim, ".hooks.running")[0]
    assert hook["phase"] == "Succeeded"
    assert sim.status["finishedAt"] >= hook["finishedAt"]
    assert not by_display(sim, ".hooks.failed")


def test_step_hooks_see_running_then_final_status():
    # hooks_test.go:118/181: step-1's running hook and its succeed (or failed) hook
    sim = e2e("TestTemplateLevelHooksStepSuccessVersion.yaml")
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    for name in ("step-1.hooks.succeed", "step-1.hooks.running", "step-2.hooks.succeed"):
        assert [n["phase"] for n in by_display(sim, name)] == ["Succeeded"], name
    step1 = next(n for n in sim.status["nodes"].values() if n["displayName"] == "step-1")
    hook = by_display(sim, "step-1.hooks.running")[0]
    assert hook["id"] in step1["children"]
    assert hook["name"] == f"{step1['name']}.hooks.running"


def test_dag_task_hooks_and_an_omitted_dependent():
    # hooks_test.go:340: A fails: its running hook ran, its success hook did not, B is Omitted
    sim = e2e("TestTemplateLevelHooksDagHasDependencyVersion.yaml", {"fail": Outcome(exit_code=1)})
    sim.run()
    assert sim.status["phase"] == "Failed"
    assert sim.phase("A.hooks.running") == "Succeeded"
    assert not by_display(sim, "A.hooks.success")
    assert sim.phase("B") == "Omitted"
    assert len(sim.pods()) == 2


def test_workflow_hooks_with_a_retried_entrypoint():
    # hooks_test.go:569: the entrypoint is a Retry node failing twice; running + failed hooks
    sim = e2e("TestWorkflowLevelHooksWithRetry.yaml", {"argosay": Outcome(exit_code=1)})
    sim.run()
    assert sim.status["phase"] == "Failed"
    wf = sim.engine.name
    assert sim.phase(f"{wf}.hooks.running") == "Succeeded"
    assert sim.phase(f"{wf}.hooks.failed") == "Succeeded"
    assert sim.phase(f"{wf}(0)") == "Failed" and sim.phase(f"{wf}(1)") == "Failed"
    assert len(sim.pods()) == 4


def test_step_hooks_on_a_retried_step_pass_outputs_on():
    # hooks_test.go:649: build (a Retry node) succeeds on its third attempt
    sim = e2e("TestTemplateLevelHooksWithRetry.yaml",
              {"output-artifact": [Outcome(exit_code=1), Outcome(exit_code=1),
                                   Outcome(artifacts={"result": {"local": {"key": "k"}}})]})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert sim.phase("build.hooks.started") == "Succeeded"
    assert sim.phase("build.hooks.success") == "Succeeded"
    assert not by_display(sim, "build.hooks.failed")
    assert sim.phase("print") == "Succeeded"


def test_a_hook_expression_error_is_a_located_node_error():
    sim = Simulation("""
spec:
  entrypoint: main
  hooks:
    bad: {expression: 'workflow.status +', template: main}
  templates:
  - name: main
    container: {image: alpine}
""")
    sim.run()
    bad = by_display(sim, ".hooks.bad")
    assert [n["phase"] for n in bad] == ["Error"]
    assert "hook 'bad'" in bad[0]["message"]


def test_progress_counts_succeeded_executable_nodes_as_argo():
    # hooks_test.go:569 asserts progress "2/4": two failed attempts, two succeeded hooks
    sim = e2e("TestWorkflowLevelHooksWithRetry.yaml", {"argosay": Outcome(exit_code=1)})
    sim.run()
    assert sim.status["progress"] == "2/4"
