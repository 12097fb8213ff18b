"""tiphys.client without a server: configuration, headers, error mapping, paging and streams,
checked against an httpx.MockTransport that records each request (the same client runs
against a real `tiphys server` in tests/cli/test_remote.py)."""
from __future__ import annotations

import json
import socket

import httpx
import pytest

from tiphys.client import config, errors
from tiphys.client.api import Client
from tiphys.errors import InfrastructureError, NotFoundError, SpecError


class Recorder:
    def __init__(self, answer):
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


def make(answer, token: str | None = None) -> tuple[Client, Recorder]:
    rec = Recorder(answer)
    return Client("http://server:2746/base", token, transport=httpx.MockTransport(rec)), rec


def test_resolve_from_flags_and_environment():
    class Args:
        server, token = None, None
    assert config.resolve(Args(), env={}) is None
    cfg = config.resolve(Args(), env={"TIPHYS_SERVER": "localhost:2746", "TIPHYS_TOKEN": "Bearer v2:abc"})
    assert cfg == config.ServerConfig("http://localhost:2746", "v2:abc")
    flags = Args()
    flags.server, flags.token = "https://argo.example/", "tok"
    assert config.resolve(flags, env={"TIPHYS_SERVER": "other:1", "TIPHYS_TOKEN": "x"}) == \
        config.ServerConfig("https://argo.example", "tok")
    only_token = Args()
    only_token.token = "tok"
    with pytest.raises(SpecError, match="--token needs a server"):
        config.resolve(only_token, env={})
    with pytest.raises(SpecError, match="TIPHYS_SERVER 'ftp://x'"):
        config.resolve(Args(), env={"TIPHYS_SERVER": "ftp://x"})
    assert config.normalize_token("  ") is None


def test_token_is_sent_as_bearer_and_paths_are_argos():
    c, rec = make(lambda r: httpx.Response(200, json={"metadata": {"name": "w"}}), token="v2:abc")
    c.workflow_action("argo", "w", "retry", {"restartSuccessful": True, "parameters": ["a=b"]})
    req = rec.requests[0]
    assert req.headers["authorization"] == "Bearer v2:abc"
    assert (req.method, req.url.path) == ("PUT", "/base/api/v1/workflows/argo/w/retry")
    assert json.loads(req.content) == {"name": "w", "namespace": "argo", "restartSuccessful": True,
                                       "parameters": ["a=b"]}
    c2, rec2 = make(lambda r: httpx.Response(200, json={}))
    c2.get_template("ClusterWorkflowTemplate", None, "t")
    assert "authorization" not in rec2.requests[0].headers
    assert rec2.requests[0].url.path == "/base/api/v1/cluster-workflow-templates/t"


@pytest.mark.parametrize(("status", "body", "cls", "text"), [
    (404, {"code": 5, "message": 'workflows.argoproj.io "x" not found'}, errors.ServerNotFound, '"x" not found'),
    (409, {"code": 6, "message": "already exists"}, errors.ServerRejected, "already exists"),
    (400, {"code": 3, "message": "spec.entrypoint: bad"}, errors.ServerRejected, "spec.entrypoint: bad"),
    (401, {"code": 16, "message": "token not valid"}, errors.ServerDenied, "--token or TIPHYS_TOKEN"),
    (404, {"code": 5, "message": "Not Found"}, errors.ServerUnsupported, "does not support"),
    (500, b"<html>proxy</html>", errors.ServerFailure, "HTTP 500"),
    (502, b"bad gateway", errors.ServerFailure, "bad gateway"),
])
def test_error_answers(status, body, cls, text):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    c, _ = make(lambda r: httpx.Response(status, content=content))
    with pytest.raises(cls, match=text) as info:
        c.get_workflow("argo", "x")
    if cls is errors.ServerNotFound:
        assert isinstance(info.value, NotFoundError) and str(info.value) == body["message"]
    if cls is errors.ServerRejected:
        assert isinstance(info.value, SpecError) and str(info.value) == body["message"]


def test_connection_refused_names_the_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}") as c, pytest.raises(InfrastructureError) as info:
        c.list_workflows("argo")
    assert str(info.value).startswith(f"cannot reach Tiphys server at http://127.0.0.1:{port}: connection refused")


def test_list_follows_continue_tokens_and_stops_at_limit():
    pages = {None: (["a", "b"], "t1"), "t1": (["c", "d"], "t2"), "t2": (["e"], "")}

    def answer(r: httpx.Request) -> httpx.Response:
        items, token = pages[r.url.params.get("listOptions.continue")]
        meta = {"continue": token} if token else {}
        return httpx.Response(200, json={"metadata": meta, "items": [{"metadata": {"name": n}} for n in items]})
    c, rec = make(answer)
    assert [w["metadata"]["name"] for w in c.list_workflows("argo", chunk_size=2)] == list("abcde")
    assert [r.url.params.get("listOptions.limit") for r in rec.requests] == ["2", "2", "2"]
    rec.requests.clear()
    assert [w["metadata"]["name"] for w in c.list_workflows("argo", limit=3)] == list("abc")
    assert [r.url.params.get("listOptions.limit") for r in rec.requests] == ["3", "1"]
    rec.requests.clear()
    c.list_workflows(None, label_selector="a=b", fields="items.metadata.name")
    params = rec.requests[0].url.params
    assert rec.requests[0].url.path == "/base/api/v1/workflows/"
    assert (params["listOptions.labelSelector"], params["fields"]) == ("a=b", "metadata,items.metadata.name")


def test_log_stream_and_its_errors():
    lines = [{"result": {"content": "one", "podName": "p"}}, {"result": {"content": "two", "podName": "p"}}]
    body = "".join(json.dumps(x) + "\n" for x in lines).encode()
    c, rec = make(lambda r: httpx.Response(200, content=body))
    assert [e["content"] for e in c.logs("argo", "w", follow=True, pod="p")] == ["one", "two"]
    params = rec.requests[0].url.params
    assert (params["logOptions.container"], params["logOptions.follow"], params["podName"]) == ("main", "true", "p")
    broken = json.dumps(lines[0]) + "\n" + json.dumps({"error": {"code": 5, "message": "gone"}}) + "\n"
    c, _ = make(lambda r: httpx.Response(200, content=broken.encode()))
    got = []
    with pytest.raises(errors.ServerNotFound, match="gone"):
        for entry in c.logs("argo", "w"):
            got.append(entry["content"])
    assert got == ["one"]
