"""`--auth-mode client`: bearer tokens scoped to namespaces, in-process (TestClient) and against
a real `tiphys server --auth-mode client` process with Hera and the official client; secrets
never in an API answer."""
from __future__ import annotations

import hashlib
import json
import time
import warnings

import pytest
from live import start_server, stop
from server_helpers import hello

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from tiphys import auth
from tiphys.cli.main import main
from tiphys.errors import SpecError
from tiphys.secrets import Vault
from tiphys.server.app import create_app
from tiphys.server.auth import CLUSTER_READ, EVERYWHERE, PUBLIC, Scope, bearer, scope_of
from tiphys.server.cli import check_bind
from tiphys.store.sqlite import Store

NS, OTHER = "argo", "other"
SECRET = "s3cret-Value-91b2"


@pytest.fixture
def tokens(home):
    """(token for NS, token for every namespace, token id for NS)"""
    with Store(home / "tiphys.db") as store:
        scoped_id, scoped = auth.create_token(store, [NS], "ci")
        _, admin = auth.create_token(store, ["*"])
    return scoped, admin, scoped_id


@pytest.fixture
def api(home, tokens):
    with TestClient(create_app(home, auth_mode="client")) as client:
        yield client


def h(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_no_token_is_401(api):
    r = api.get(f"/api/v1/workflows/{NS}")
    assert r.status_code == 401
    assert r.json()["code"] == 16 and "token" in r.json()["message"]
    assert api.get("/api/v1/version").status_code == 401


def test_bad_token_is_401(api, tokens):
    r = api.get(f"/api/v1/workflows/{NS}", headers=h(tokens[0] + "x"))
    assert r.status_code == 401
    assert r.json() == {"code": 16, "message": "token not valid"}
    assert api.get(f"/api/v1/workflows/{NS}", headers={"Authorization": tokens[0]}).status_code == 401  # no scheme


def test_other_namespace_is_403(api, tokens):
    scoped = tokens[0]
    for method, path in [("GET", f"/api/v1/workflows/{OTHER}"), ("POST", f"/api/v1/workflows/{OTHER}"),
                         ("GET", f"/api/v1/workflow-templates/{OTHER}"),
                         ("GET", f"/api/v1/workflows/{OTHER}/some-wf/log")]:
        r = api.request(method, path, headers=h(scoped), json={"workflow": hello()})
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["code"] == 7 and repr(OTHER) in r.json()["message"]
    assert api.get(f"/api/v1/workflows/{OTHER}/x", headers=h(scoped)).status_code == 403


def test_allowed_namespace_is_200_and_runs(api, tokens):
    scoped = tokens[0]
    r = api.post(f"/api/v1/workflows/{NS}", headers=h(scoped), json={"workflow": hello("authed")})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 20
    while True:
        wf = api.get(f"/api/v1/workflows/{NS}/authed", headers=h(scoped)).json()
        if wf["status"].get("phase") in ("Succeeded", "Failed", "Error") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert wf["status"]["phase"] == "Succeeded"
    logs = api.get(f"/api/v1/workflows/{NS}/authed/log", headers=h(scoped), params={"logOptions.container": "main"})
    assert logs.status_code == 200 and "hello world" in logs.text


def test_all_namespaces_needs_an_all_namespaces_token(api, tokens):
    scoped, admin, _ = tokens
    for path in ("/api/v1/workflows", "/api/v1/workflows/", "/api/v1/workflow-events"):
        assert api.get(path, headers=h(scoped)).status_code == 403, path
    assert api.get("/api/v1/workflows", headers=h(admin)).status_code == 200
    assert api.get(f"/api/v1/workflows/{OTHER}", headers=h(admin)).status_code == 200


def test_cluster_scoped_reads_need_any_token_writes_need_all_namespaces(api, tokens):
    scoped, admin, _ = tokens
    for path in ("/api/v1/info", "/api/v1/version", "/api/v1/cluster-workflow-templates"):
        assert api.get(path, headers=h(scoped)).status_code == 200, path
    cwt = {"template": {"metadata": {"name": "shared"}, "spec": {"templates": [
        {"name": "main", "container": {"image": "busybox", "command": ["true"]}}]}}}
    r = api.post("/api/v1/cluster-workflow-templates", headers=h(scoped), json=cwt)
    assert r.status_code == 403 and r.json()["code"] == 7
    assert api.post("/api/v1/cluster-workflow-templates/lint", headers=h(scoped), json=cwt).status_code == 200
    assert api.post("/api/v1/cluster-workflow-templates", headers=h(admin), json=cwt).status_code == 200
    assert api.delete("/api/v1/cluster-workflow-templates/shared", headers=h(scoped)).status_code == 403


def test_userinfo_reports_the_token(api, tokens):
    scoped, _, scoped_id = tokens
    info = api.get("/api/v1/userinfo", headers=h(scoped)).json()
    assert info == {"issuer": "tiphys", "subject": f"token:{scoped_id}", "groups": [f"namespace:{NS}"],
                    "name": "ci"}


def test_public_paths_need_no_token(api):
    for path in ("/metrics", "/openapi.json"):
        assert api.get(path).status_code == 200, path
    assert api.get("/").status_code != 401
    assert api.get("/ui/js/app.js").status_code != 401


def test_cookie_as_the_argo_ui_sends_it(api, tokens):
    api.cookies.set("authorization", f"Bearer {tokens[0]}")
    try:
        assert api.get(f"/api/v1/workflows/{NS}").status_code == 200
    finally:
        api.cookies.clear()


def test_deleted_token_stops_working(home, api, tokens):
    scoped, _, scoped_id = tokens
    assert api.get(f"/api/v1/workflows/{NS}", headers=h(scoped)).status_code == 200
    with Store(home / "tiphys.db") as store:
        auth.delete_token(store, scoped_id)
    assert api.get(f"/api/v1/workflows/{NS}", headers=h(scoped)).status_code == 401


def test_server_mode_needs_no_token(home):
    with TestClient(create_app(home, auth_mode="server")) as client:
        assert client.get(f"/api/v1/workflows/{NS}").status_code == 200
        assert client.get("/api/v1/userinfo").json() == {}


def test_secret_values_never_in_api_answers(home, api, tokens):
    scoped = tokens[0]
    with Store(home / "tiphys.db") as store:
        Vault(store, home).create(NS, "db", {"password": SECRET})
    wf = {"metadata": {"name": "secretive"}, "spec": {"entrypoint": "main", "templates": [{
        "name": "main", "container": {
            "image": "busybox", "command": ["sh", "-c", 'printf %s "$P" | sha256sum; echo "P=$P"; printf %s "$P" > /tmp/o'],
            "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]},
        "outputs": {"parameters": [{"name": "o", "valueFrom": {"path": "/tmp/o"}}]}}]}}
    created = api.post(f"/api/v1/workflows/{NS}", headers=h(scoped), json={"workflow": wf})
    assert created.status_code == 200, created.text
    answers = [created.text]
    deadline = time.monotonic() + 20
    while True:
        r = api.get(f"/api/v1/workflows/{NS}/secretive", headers=h(scoped))
        answers.append(r.text)
        if r.json()["status"].get("phase") in ("Succeeded", "Failed", "Error") or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert r.json()["status"]["phase"] == "Succeeded", r.text
    logs = api.get(f"/api/v1/workflows/{NS}/secretive/log", headers=h(scoped),
                   params={"logOptions.container": "main"}).text
    answers += [logs, api.get(f"/api/v1/workflows/{NS}", headers=h(scoped)).text]
    assert hashlib.sha256(SECRET.encode()).hexdigest() in logs   # the step had the value
    assert "P=***" in logs
    assert not [a for a in answers if SECRET in a]


# -- pieces ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path,query,expected", [
    ("GET", "/", {}, PUBLIC),
    ("GET", "/ui/js/app.js", {}, PUBLIC),
    ("GET", "/metrics", {}, PUBLIC),
    ("GET", "/api/v1/workflows/argo", {}, Scope(namespace="argo")),
    ("POST", "/api/v1/workflows/argo/lint", {}, Scope(namespace="argo")),
    ("GET", "/api/v1/workflows", {}, EVERYWHERE),
    ("GET", "/api/v1/workflows/", {}, EVERYWHERE),
    ("GET", "/api/v1/workflow-events/argo", {}, Scope(namespace="argo")),
    ("GET", "/api/v1/stream/events/argo", {}, Scope(namespace="argo")),
    ("GET", "/api/v1/archived-workflows", {"namespace": "argo"}, Scope(namespace="argo")),
    ("GET", "/api/v1/archived-workflows/some-uid", {}, EVERYWHERE),
    ("GET", "/api/v1/version", {}, CLUSTER_READ),
    ("GET", "/api/v1/cluster-workflow-templates/x", {}, CLUSTER_READ),
    ("PUT", "/api/v1/cluster-workflow-templates/x", {}, EVERYWHERE),
    ("GET", "/artifacts/argo/wf/node/art", {}, Scope(namespace="argo")),
    ("GET", "/artifacts-by-uid/1234/node/art", {}, EVERYWHERE),
])
def test_scope_of(method, path, query, expected):
    assert scope_of(method, path, query) == expected


def test_bearer_header_and_cookie():
    assert bearer({"authorization": "Bearer abc"}) == "abc"
    assert bearer({"authorization": "bearer  abc "}) == "abc"
    assert bearer({"authorization": "Basic abc"}) == ""
    assert bearer({"cookie": "x=1; authorization=\"Bearer abc\""}) == "abc"
    assert bearer({}) == ""


def test_only_the_digest_is_stored(home):
    with Store(home / "tiphys.db") as store:
        token_id, token = auth.create_token(store, [NS, NS, "b"])
        assert store.find_token(hashlib.sha256(token.encode()).hexdigest())["namespaces"] == [NS, "b"]
        assert auth.identify(store, token).token_id == token_id
        assert auth.identify(store, "tiphys_guess") is None
    assert token.encode() not in (home / "tiphys.db").read_bytes()
    with pytest.raises(SpecError, match="namespace"):
        auth.create_token(Store(home / "x.db"), ["Bad_NS"])


def test_server_mode_refuses_a_non_loopback_address():
    with pytest.raises(SpecError, match="loopback"):
        check_bind("0.0.0.0", "server")
    check_bind("127.0.0.1", "server")
    check_bind("0.0.0.0", "client")


def test_cli_server_mode_on_all_interfaces_is_refused(home, capsys):
    assert main(["server", "--auth-mode", "server", "--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tiphys: --auth-mode server has no authentication") and "'0.0.0.0'" in err


# -- a real server process with real clients ----------------------------------------------------

@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("auth-home")
    with Store(home / "tiphys.db") as store:
        _, token = auth.create_token(store, [NS])
    proc, url = start_server(home, "--auth-mode", "client")
    yield url, token
    stop(proc)


@pytest.mark.integration
def test_real_server_answers_401_and_403(real_server):
    import httpx
    url, token = real_server
    assert httpx.get(f"{url}/api/v1/workflows/{NS}").status_code == 401
    r = httpx.get(f"{url}/api/v1/workflows/{OTHER}", headers=h(token))
    assert r.status_code == 403 and r.json()["code"] == 7
    assert httpx.get(f"{url}/metrics").status_code == 200


@pytest.mark.integration
def test_hera_with_a_token(real_server):
    pytest.importorskip("hera", reason="hera is not installed (it is in the test extras)")
    from hera.exceptions import Unauthorized
    from hera.workflows import Container, Workflow, WorkflowsService
    url, token = real_server
    service = WorkflowsService(host=url, token=token, namespace=NS, verify_ssl=False)
    with Workflow(generate_name="hera-auth-", entrypoint="main", namespace=NS, workflows_service=service) as w:
        Container(name="main", image="busybox", command=["echo", "hi from hera"])
    created = w.create()  # (Hera's wait=True takes Pending for finished)
    deadline = time.monotonic() + 30
    while True:
        got = service.get_workflow(created.metadata.name, namespace=NS)
        if got.status.phase in ("Succeeded", "Failed", "Error") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert got.status.phase == "Succeeded"
    with pytest.raises(Unauthorized):
        WorkflowsService(host=url, token="tiphys_wrong", namespace=NS).list_workflows(namespace=NS)


@pytest.mark.integration
def test_official_client_with_a_token(real_server):
    pytest.importorskip("argo_workflows", reason="argo-workflows is not installed (it is in the test extras)")
    from argo_workflows.api import info_service_api, workflow_service_api
    from argo_workflows.api_client import ApiClient
    from argo_workflows.configuration import Configuration
    from argo_workflows.exceptions import ForbiddenException, UnauthorizedException
    url, token = real_server

    def client(secret: str) -> ApiClient:
        config = Configuration(host=url, api_key={"BearerToken": secret}, api_key_prefix={"BearerToken": "Bearer"})
        return ApiClient(config)

    with client(token) as good:
        info = info_service_api.InfoServiceApi(good).get_user_info()
        assert info.subject.startswith("token:") and info.groups == [f"namespace:{NS}"]
        workflows = workflow_service_api.WorkflowServiceApi(good)
        workflows.list_workflows(NS, _check_return_type=False)
        with pytest.raises(ForbiddenException):
            workflows.list_workflows(OTHER, _check_return_type=False)
    with client("tiphys_wrong") as bad, pytest.raises(UnauthorizedException):
        workflow_service_api.WorkflowServiceApi(bad).list_workflows(NS, _check_return_type=False)
    json.dumps(info.to_dict())
