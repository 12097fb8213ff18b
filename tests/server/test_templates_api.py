"""WorkflowTemplate / ClusterWorkflowTemplate CRUD, lint, and submit from a template."""
from __future__ import annotations

import json

from server_helpers import NS, wait_phase


def template(name: str, kind: str = "WorkflowTemplate", text: str = "{{workflow.parameters.msg}}") -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "metadata": {"name": name},
            "spec": {"entrypoint": "main",
                     "arguments": {"parameters": [{"name": "msg", "value": "default"}]},
                     "templates": [{"name": "main", "container": {"image": "busybox", "command": ["echo", text]}},
                                   {"name": "other", "container": {"image": "busybox", "command": ["echo", "other"]}}]}}


def test_workflow_template_crud(client):
    base = f"/api/v1/workflow-templates/{NS}"
    assert client.get(base).json() == {"metadata": {"resourceVersion": "1"}, "items": None}
    r = client.post(base, json={"template": template("greet")})
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["namespace"] == NS and r.json()["metadata"]["uid"]
    assert client.post(base, json={"template": template("greet")}).status_code == 409
    assert client.get(f"{base}/greet").json()["spec"]["entrypoint"] == "main"
    assert [t["metadata"]["name"] for t in client.get(base).json()["items"]] == ["greet"]
    assert client.get("/api/v1/workflow-templates/elsewhere").json()["items"] is None
    changed = template("greet", text="changed")
    r = client.put(f"{base}/greet", json={"template": changed})
    assert r.status_code == 200 and r.json()["metadata"]["resourceVersion"] == "2"
    assert client.get(f"{base}/greet").json()["spec"]["templates"][0]["container"]["command"] == ["echo", "changed"]
    assert client.put(f"{base}/nope", json={"template": template("nope")}).status_code == 404
    bad = template("broken")
    bad["spec"]["entrypoint"] = "missing"
    r = client.post(base, json={"template": bad})
    assert r.status_code == 400 and "missing" in r.json()["message"]
    assert client.post(f"{base}/lint", json={"template": bad}).status_code == 400
    assert client.post(f"{base}/lint", json={"template": template("fine")}).status_code == 200
    assert client.delete(f"{base}/greet").json() == {}
    assert client.delete(f"{base}/greet").status_code == 404


def test_cluster_workflow_template_crud(client):
    base = "/api/v1/cluster-workflow-templates"
    r = client.post(base, json={"template": template("shared", "ClusterWorkflowTemplate")})
    assert r.status_code == 200, r.text
    assert "namespace" not in r.json()["metadata"]
    assert client.get(f"{base}/shared").json()["kind"] == "ClusterWorkflowTemplate"
    assert [t["metadata"]["name"] for t in client.get(base).json()["items"]] == ["shared"]
    assert client.post(f"{base}/lint", json={"template": template("x", "ClusterWorkflowTemplate")}).status_code == 200
    assert client.delete(f"{base}/shared").json() == {}
    r = client.get(f"{base}/shared")
    assert r.status_code == 404 and "clusterworkflowtemplates.argoproj.io" in r.json()["message"]


def test_submit_from_templates(client):
    client.post(f"/api/v1/workflow-templates/{NS}", json={"template": template("greet")})
    r = client.post(f"/api/v1/workflows/{NS}/submit", json={
        "resourceKind": "WorkflowTemplate", "resourceName": "greet",
        "submitOptions": {"parameters": ["msg=from submit"], "labels": "who=me,why=test"}})
    assert r.status_code == 200, r.text
    wf = r.json()
    name = wf["metadata"]["name"]
    assert name.startswith("greet-") and wf["spec"]["workflowTemplateRef"] == {"name": "greet"}
    assert wf["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] == "greet"
    assert wf["metadata"]["labels"]["who"] == "me"
    done = wait_phase(client, name)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    logs = client.get(f"/api/v1/workflows/{NS}/{name}/log").text
    assert [json.loads(x)["result"]["content"] for x in logs.splitlines()] == ["from submit"]

    client.post("/api/v1/cluster-workflow-templates", json={"template": template("cgreet", "ClusterWorkflowTemplate")})
    r = client.post(f"/api/v1/workflows/{NS}/submit", json={
        "resourceKind": "ClusterWorkflowTemplate", "resourceName": "cgreet",
        "submitOptions": {"name": "exact-name", "entryPoint": "other"}})
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["workflowTemplateRef"] == {"name": "cgreet", "clusterScope": True}
    done = wait_phase(client, "exact-name")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert json.loads(client.get(f"/api/v1/workflows/{NS}/exact-name/log").text)["result"]["content"] == "other"

    r = client.post(f"/api/v1/workflows/{NS}/submit", json={"resourceKind": "WorkflowTemplate", "resourceName": "nope"})
    assert r.status_code == 404
    r = client.post(f"/api/v1/workflows/{NS}/submit", json={"resourceKind": "CronWorkflow", "resourceName": "x"})
    assert r.status_code == 404 and "cronworkflows.argoproj.io" in r.json()["message"]   # a missing one (issue 13)
    r = client.post(f"/api/v1/workflows/{NS}/submit", json={"resourceKind": "Pod", "resourceName": "x"})
    assert r.status_code == 400


def test_info_version_userinfo_openapi(client):
    version = client.get("/api/v1/version").json()
    assert version["version"].startswith("v3.") and "tiphys" in version["version"]
    assert set(version) >= {"buildDate", "gitCommit", "gitTag", "gitTreeState", "goVersion", "compiler", "platform"}
    assert client.get("/api/v1/info").status_code == 200
    assert client.get("/api/v1/userinfo").json() == {}
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert {"get", "post"} <= set(doc["paths"]["/api/v1/workflows/{namespace}"])
    assert "put" in doc["paths"]["/api/v1/workflows/{namespace}/{name}/stop"]
    assert "post" in doc["paths"]["/api/v1/cluster-workflow-templates"]
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json()["code"] == 5


def test_auth_mode_server_binds_to_loopback_only():
    import pytest

    from tiphys.errors import SpecError
    from tiphys.server.cli import check_bind
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.5"):
        check_bind(host, "server")
    for host in ("0.0.0.0", "192.0.2.1", "::"):
        with pytest.raises(SpecError, match="loopback"):
            check_bind(host, "server")
    check_bind("0.0.0.0", "client")  # bearer tokens: any address
    with pytest.raises(SpecError, match="'sso' is not supported"):
        check_bind("127.0.0.1", "sso")
