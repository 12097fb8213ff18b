"""retry, resubmit, suspend, resume, set and artifact download through the REST API, with
real steps."""
from __future__ import annotations

import time

from server_helpers import NS, wait_phase


def wf(name: str, templates: list, entry: str = "main", params: dict | None = None) -> dict:
    spec: dict = {"entrypoint": entry, "templates": templates}
    if params:
        spec["arguments"] = {"parameters": [{"name": k, "value": v} for k, v in params.items()]}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name}, "spec": spec}


def by_display(w: dict) -> dict:
    return {n["displayName"]: n for n in (w["status"].get("nodes") or {}).values()}


RETRYABLE = [
    {"name": "main", "steps": [[{"name": "first", "template": "ok"}], [{"name": "second", "template": "maybe",
                                                                          # names first's result: Argo keeps it
                                                                          "when": "'{{steps.first.outputs.result}}' != ''"}]]},
    {"name": "ok", "container": {"image": "busybox", "command": ["sh", "-c", "echo first $(date +%s%N)"]}},
    {"name": "maybe", "container": {"image": "busybox", "command": ["sh", "-c", "exit {{workflow.parameters.code}}"]}},
]


def test_retry_reruns_only_the_failed_step(client):
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": wf("rt", RETRYABLE, params={"code": "3"})})
    failed = wait_phase(client, "rt")
    assert failed["status"]["phase"] == "Failed"
    r = client.put(f"/api/v1/workflows/{NS}/rt/retry", json={"parameters": ["code=0"]})
    assert r.status_code == 200, r.text
    done = wait_phase(client, "rt")
    assert done["status"]["phase"] == "Succeeded"
    before, after = by_display(failed), by_display(done)
    assert after["first"] == before["first"]          # kept as it was: same start, end, pod
    assert after["second"]["phase"] == "Succeeded" and after["second"]["startedAt"] >= before["second"]["startedAt"]
    logs = client.get(f"/api/v1/workflows/{NS}/rt/log").text
    assert logs.count('"first ') == 1


def test_retry_of_a_succeeded_workflow_is_refused(client):
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": wf("fine", RETRYABLE, params={"code": "0"})})
    wait_phase(client, "fine")
    r = client.put(f"/api/v1/workflows/{NS}/fine/retry", json={})
    assert r.status_code == 400 and "Failed/Error" in r.json()["message"]
    assert client.put(f"/api/v1/workflows/{NS}/nope/retry", json={}).status_code == 404


def test_retry_restart_successful_reruns_matching_nodes(client):
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": wf("rs", RETRYABLE, params={"code": "1"})})
    failed = wait_phase(client, "rs")
    r = client.put(f"/api/v1/workflows/{NS}/rs/retry", json={
        "restartSuccessful": True, "nodeFieldSelector": "displayName=first", "parameters": ["code=0"]})
    assert r.status_code == 200, r.text
    done = wait_phase(client, "rs")
    assert done["status"]["phase"] == "Succeeded"
    result = by_display(done)["first"]["outputs"]["result"]     # "first <ns clock>": it ran again
    assert result.startswith("first ") and result != by_display(failed)["first"]["outputs"]["result"]


def test_resubmit_creates_a_new_workflow(client):
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": wf("orig", RETRYABLE, params={"code": "2"})})
    wait_phase(client, "orig")
    r = client.put(f"/api/v1/workflows/{NS}/orig/resubmit", json={"parameters": ["code=0"]})
    assert r.status_code == 200, r.text
    new = r.json()
    name = new["metadata"]["name"]
    assert name.startswith("orig-") and new["metadata"]["labels"][
        "workflows.argoproj.io/resubmitted-from-workflow"] == "orig"
    assert wait_phase(client, name)["status"]["phase"] == "Succeeded"
    assert client.get(f"/api/v1/workflows/{NS}/orig").json()["status"]["phase"] == "Failed"


def test_suspend_holds_new_steps_until_resume(client):
    templates = [
        {"name": "main", "steps": [[{"name": "a", "template": "nap"}], [{"name": "b", "template": "say"}]]},
        {"name": "nap", "container": {"image": "busybox", "command": ["sleep", "0.5"]}},
        {"name": "say", "container": {"image": "busybox", "command": ["echo", "b"]}}]
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": wf("sus", templates)})
    wait_phase(client, "sus", phases=("Running",))
    r = client.put(f"/api/v1/workflows/{NS}/sus/suspend", json={})
    assert r.status_code == 200, r.text
    assert r.json()["spec"].get("suspend") is True
    time.sleep(1.5)
    held = client.get(f"/api/v1/workflows/{NS}/sus").json()
    nodes = by_display(held)
    assert held["status"]["phase"] == "Running" and nodes["a"]["phase"] == "Succeeded"
    assert nodes["b"]["phase"] == "Pending"
    r = client.put(f"/api/v1/workflows/{NS}/sus/resume", json={})
    assert r.status_code == 200, r.text
    done = wait_phase(client, "sus")
    assert done["status"]["phase"] == "Succeeded" and not done["spec"].get("suspend")


APPROVAL = [
    {"name": "main", "steps": [[{"name": "approve", "template": "gate"}],
                               [{"name": "deploy", "template": "say", "arguments": {"parameters": [
                                   {"name": "env", "value": "{{steps.approve.outputs.parameters.env}}"}]}}]]},
    {"name": "gate", "suspend": {},
     "outputs": {"parameters": [{"name": "env", "valueFrom": {"supplied": {}, "default": "staging"}}]}},
    {"name": "say", "inputs": {"parameters": [{"name": "env"}]},
     "container": {"image": "busybox", "command": ["echo", "to {{inputs.parameters.env}}"]}}]


def test_set_supplies_a_suspend_output_then_resume(client):
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": wf("gate", APPROVAL)})
    deadline = time.monotonic() + 10
    while by_display(client.get(f"/api/v1/workflows/{NS}/gate").json()).get("approve", {}).get("phase") != "Running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    bad = client.put(f"/api/v1/workflows/{NS}/gate/set", json={"nodeFieldSelector": "colour=red"})
    assert bad.status_code == 400 and "unknown field" in bad.json()["message"]
    none = client.put(f"/api/v1/workflows/{NS}/gate/resume", json={"nodeFieldSelector": "displayName=other"})
    assert none.status_code == 400
    r = client.put(f"/api/v1/workflows/{NS}/gate/set", json={
        "nodeFieldSelector": "displayName=approve", "outputParameters": '{"env": "prod"}'})
    assert r.status_code == 200, r.text
    r = client.put(f"/api/v1/workflows/{NS}/gate/resume", json={"nodeFieldSelector": "displayName=approve"})
    assert r.status_code == 200, r.text
    done = wait_phase(client, "gate")
    assert done["status"]["phase"] == "Succeeded"
    assert by_display(done)["deploy"]["inputs"]["parameters"] == [{"name": "env", "value": "prod"}]
    late = client.put(f"/api/v1/workflows/{NS}/gate/suspend", json={})
    assert late.status_code == 400 and "not running" in late.json()["message"]


def test_artifact_download(client):
    templates = [{"name": "main", "container": {"image": "busybox", "command": ["sh", "-c", "echo payload > /tmp/o.txt"]},
                  "outputs": {"artifacts": [{"name": "out", "path": "/tmp/o.txt"}]}}]
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": wf("art", templates)})
    done = wait_phase(client, "art")
    assert done["status"]["phase"] == "Succeeded"
    r = client.get(f"/artifact-files/{NS}/workflows/art/art/outputs/out")
    assert r.status_code == 200 and r.content == b"payload\n"
    assert client.get(f"/artifact-files/{NS}/workflows/art/art/outputs/missing").status_code == 404
