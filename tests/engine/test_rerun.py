"""Suspend, resume and set (user events), and retry/resubmit (rerun.py + the engine's preset)."""
import yaml

from tiphys.engine import actions as A
from tiphys.engine import rerun
from tiphys.errors import SpecError
from tiphys.testing.engine import Outcome, Simulation

import pytest


def load(testdata, name, **kw):
    return Simulation(yaml.safe_load(testdata(name)), **kw)


def deploy_args(sim):
    return [s.template["container"]["command"] for s in sim.started if s.template["name"] == "use"]


def test_suspend_node_waits_until_resumed_and_takes_default_output(testdata):
    sim = load(testdata, "approval.yaml")
    sim.send(100, A.NodesResumed(""))
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    approve = sim.nodes("approve")[0]
    assert approve["type"] == "Suspend" and approve["outputs"]["parameters"][0]["value"] == "staging"
    assert deploy_args(sim) == [["echo", "staging"]]
    assert approve["finishedAt"] == "2023-11-14T22:15:00Z"   # resumed at start + 100 s


def test_set_supplies_output_and_phase(testdata):
    sim = load(testdata, "approval.yaml")
    sim.send(5, A.NodesSet("displayName=approve", output_parameters=(("choice", "prod"),)))
    sim.send(6, A.NodesResumed("displayName=approve"))
    sim.run()
    assert deploy_args(sim) == [["echo", "prod"]]


def test_set_failed_phase_fails_the_workflow(testdata):
    sim = load(testdata, "approval.yaml")
    sim.send(5, A.NodesSet("displayName=approve", phase="Failed", message="rejected"))
    sim.run()
    assert sim.status["phase"] == "Failed"
    assert sim.phase("approve") == "Failed" and sim.nodes("approve")[0]["message"] == "rejected"
    assert deploy_args(sim) == []


def test_selector_that_matches_nothing_resumes_nothing(testdata):
    sim = load(testdata, "approval.yaml")
    sim.send(5, A.NodesResumed("displayName=other"))
    sim.run()
    assert sim.phase("approve") == "Running" and not sim.engine.finished


def test_suspended_workflow_starts_no_step_until_resumed():
    wf = {"metadata": {"name": "s"}, "spec": {"entrypoint": "m", "templates": [
        {"name": "m", "steps": [[{"name": "a", "template": "c"}], [{"name": "b", "template": "c"}]]},
        {"name": "c", "container": {"image": "alpine", "command": ["true"]}}]}}
    sim = Simulation(wf, {"c": Outcome(duration=10)})
    sim.send(5, A.SuspendRequested(True))
    sim.send(500, A.SuspendRequested(False))
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    b = sim.nodes("b")[0]
    assert b["startedAt"] == "2023-11-14T22:21:40Z"          # held from t=10 until the resume at t=500
    assert sim.nodes("a")[0]["finishedAt"] == "2023-11-14T22:13:30Z"   # the running step went on


def test_the_engine_reports_spec_suspend_as_it_handles_suspend_and_resume():
    wf = {"metadata": {"name": "s"}, "spec": {"entrypoint": "m", "templates": [
        {"name": "m", "steps": [[{"name": "a", "template": "c"}]]},
        {"name": "c", "container": {"image": "alpine", "command": ["true"]}}]}}
    sim = Simulation(wf, {"c": Outcome(duration=10)})
    sim.engine.start(sim.now)
    sim.engine.handle([A.SuspendRequested(True)], sim.now + 1)
    assert sim.wf["spec"]["suspend"] is True and sim.engine.suspended
    sim.engine.handle([A.SuspendRequested(False)], sim.now + 2)
    assert "suspend" not in sim.wf["spec"] and not sim.engine.suspended


def test_stop_fails_an_open_suspend_node(testdata):
    sim = load(testdata, "approval.yaml")
    sim.send(5, A.StopRequested("Stopped by user", terminate=False))
    sim.run()
    assert sim.status["phase"] == "Failed" and sim.phase("approve") == "Failed"


CHAIN = {"metadata": {"name": "r", "namespace": "default"}, "spec": {"entrypoint": "m", "templates": [
    {"name": "m", "dag": {"tasks": [
        {"name": "a", "template": "ok"},
        {"name": "loop", "template": "item", "withItems": [1, 2, 3], "arguments": {"parameters": [
            {"name": "i", "value": "{{item}}"}]}, "dependencies": ["a"]},
        {"name": "flaky", "template": "flaky", "dependencies": ["a"]},
        {"name": "last", "template": "ok", "dependencies": ["loop", "flaky"]}]}},
    {"name": "ok", "container": {"image": "alpine", "command": ["true"]},
     "outputs": {"parameters": [{"name": "o", "globalName": "g", "valueFrom": {"path": "/o"}}]}},
    {"name": "item", "inputs": {"parameters": [{"name": "i"}]},
     "container": {"image": "alpine", "command": ["sh", "-c", "exit {{inputs.parameters.i}}"]}},
    {"name": "flaky", "retryStrategy": {"limit": 1}, "container": {"image": "alpine", "command": ["true"]}}]}}


def first_run():
    import copy
    wf = copy.deepcopy(CHAIN)
    sim = Simulation(wf, {"item": [Outcome(), Outcome(exit_code=1), Outcome()],
                          "flaky": [Outcome(exit_code=1), Outcome()], "ok": Outcome(parameters={"o": "v"})})
    sim.run()
    assert sim.status["phase"] == "Failed"
    return sim


def test_retry_reruns_only_failed_nodes():
    before = first_run()
    new, keep, outs = rerun.retry(before.wf)
    again = Simulation(new, {"item": Outcome(), "flaky": Outcome(exit_code=1), "ok": Outcome(parameters={"o": "w"})},
                       preset=keep, preset_outputs=outs, start=before.now + 100)
    again.run()
    assert again.status["phase"] == "Succeeded"
    # a, the two passing loop items and the whole succeeded retry group (with its failed attempt) are kept
    assert sorted(again.status["nodes"][s.node_id]["displayName"] for s in again.started) == ["last", "loop(1:2)"]
    kept = again.nodes("a")[0]
    assert kept == before.nodes("a")[0]
    assert len(again.nodes("flaky(0)")) == 1 and again.phase("flaky(0)") == "Failed"
    # Argo's progress: succeeded executable nodes / all of them (the kept failed attempt counts 0/1)
    assert again.status["progress"] == f"{len(again.pods()) - 1}/{len(again.pods())}"
    assert again.status["outputs"]["parameters"] == [{"name": "g", "value": "w"}]   # from the re-run `last`


def test_retry_restart_successful_with_selector():
    before = first_run()
    new, keep, outs = rerun.retry(before.wf, restart_successful=True, node_field_selector="displayName=a")
    again = Simulation(new, {"ok": Outcome(parameters={"o": "v"})}, preset=keep, preset_outputs=outs,
                       start=before.now + 100)
    again.run()
    names = sorted(s.template["name"] for s in again.started)
    assert names.count("ok") == 2 and names.count("item") == 3 and names.count("flaky") == 1


def test_retry_refuses_a_succeeded_workflow_and_bad_selectors():
    wf = {"metadata": {"name": "x"}, "status": {"phase": "Succeeded"}}
    with pytest.raises(SpecError, match="must be Failed/Error"):
        rerun.retry(wf)
    with pytest.raises(SpecError, match="unknown field"):
        rerun.retry({**wf, "status": {"phase": "Failed"}}, restart_successful=True, node_field_selector="colour=red")


def test_retry_parameters_override_arguments():
    wf = {"metadata": {"name": "x"}, "spec": {"arguments": {"parameters": [{"name": "p", "value": "1"}]}},
          "status": {"phase": "Failed", "nodes": {}}}
    new, _, _ = rerun.retry(wf, parameters=["p=2", "q=3"])
    assert new["spec"]["arguments"]["parameters"] == [{"name": "p", "value": "2"}, {"name": "q", "value": "3"}]
    assert "status" not in new


def test_resubmit_memoized_keeps_succeeded_nodes_under_the_new_name():
    before = first_run()
    new, keep = rerun.resubmit(before.wf, "r-abcde", memoized=True)
    assert new["metadata"]["labels"][rerun.RESUBMITTED_FROM] == "r"
    again = Simulation(new, {"ok": Outcome(parameters={"o": "v"})}, preset=keep, start=before.now + 100)
    again.run()
    assert again.status["phase"] == "Succeeded"
    assert sorted(s.template["name"] for s in again.started) == ["item", "ok"]
    assert all(n["name"].startswith("r-abcde") for n in again.status["nodes"].values())


def test_plain_resubmit_runs_everything():
    before = first_run()
    new, keep = rerun.resubmit(before.wf, "r-2")
    assert keep == {} and new["metadata"]["name"] == "r-2"
