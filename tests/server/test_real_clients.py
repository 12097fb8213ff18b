"""The official `argo-workflows` client and Hera against `tiphys server` run as a subprocess."""
from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

argo_workflows = pytest.importorskip("argo_workflows", reason="argo-workflows is not installed "
                                     "(pip install argo-workflows; it is in the test extras)")
hera = pytest.importorskip("hera", reason="hera is not installed (pip install hera; it is in the test extras)")

from live import start_server, stop  # noqa: E402

pytestmark = pytest.mark.integration
NS = "argo"
HELLO = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "hello-"},
         "spec": {"entrypoint": "main", "templates": [
             {"name": "main", "container": {"image": "busybox", "command": ["echo", "hello from the client"]}}]}}
DONE = ("Succeeded", "Failed", "Error")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, url = start_server(tmp_path_factory.mktemp("server-home"))
    yield url
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        stop(proc)
        pytest.fail("tiphys server did not stop on SIGTERM")


def _wait(get, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        wf = get()
        if wf.status and wf.status.phase in DONE:
            return wf
        assert time.monotonic() < deadline, f"still {wf.status.phase if wf.status else None}"
        time.sleep(0.05)


def test_official_client(server):
    from argo_workflows.api import workflow_service_api, workflow_template_service_api
    from argo_workflows.api_client import ApiClient
    from argo_workflows.configuration import Configuration
    from argo_workflows.exceptions import NotFoundException
    from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow_create_request import (
        IoArgoprojWorkflowV1alpha1WorkflowCreateRequest,
    )
    client = ApiClient(Configuration(host=server))
    api = workflow_service_api.WorkflowServiceApi(client)
    created = api.create_workflow(NS, IoArgoprojWorkflowV1alpha1WorkflowCreateRequest(
        workflow=HELLO, _check_type=False))
    name = created.metadata.name
    assert name.startswith("hello-") and created.metadata.uid
    running = api.get_workflow(NS, name)  # parses whatever state it is in
    assert running.metadata.name == name
    wf = _wait(lambda: api.get_workflow(NS, name))
    assert wf.status.phase == "Succeeded"
    assert [w.metadata.name for w in api.list_workflows(NS).items] == [name]
    page = api.list_workflows(NS, list_options_label_selector="workflows.argoproj.io/completed=true",
                              list_options_limit="1")
    assert [w.metadata.name for w in page.items] == [name]
    # the log stream is newline-delimited JSON, read raw (as against Argo itself)
    raw = api.workflow_logs(NS, name, log_options_container="main", _preload_content=False)
    lines = [json.loads(x)["result"] for x in raw.data.decode().splitlines()]
    assert lines == [{"content": "hello from the client", "podName": name}]
    with pytest.raises(NotFoundException):
        api.get_workflow(NS, "no-such-workflow")
    version = api.api_client.call_api("/api/v1/version", "GET", response_type=(dict,), _return_http_data_only=True)
    assert "tiphys" in version["version"]
    templates = workflow_template_service_api.WorkflowTemplateServiceApi(client)
    assert templates.list_workflow_templates(NS, _check_return_type=False).get("items") is None
    api.delete_workflow(NS, name)
    with pytest.raises(NotFoundException):
        api.get_workflow(NS, name)


def test_hera(server):
    from hera.workflows import Container, Steps, Workflow, WorkflowsService
    service = WorkflowsService(host=server, namespace=NS)
    with Workflow(generate_name="hera-", entrypoint="main", namespace=NS, workflows_service=service) as w:
        say = Container(name="say", image="busybox", command=["echo", "hello from hera"])
        with Steps(name="main"):
            say(name="one")
            say(name="two")
    created = w.create()
    name = created.metadata.name
    assert name.startswith("hera-")
    wf = _wait(lambda: service.get_workflow(name, namespace=NS))
    assert wf.status.phase == "Succeeded", wf.status.message
    assert len([n for n in wf.status.nodes.values() if n.type == "Pod"]) == 2
    listed = service.list_workflows(namespace=NS, label_selector="workflows.argoproj.io/phase=Succeeded")
    assert name in [i.metadata.name for i in listed.items]
    import requests
    text = requests.get(f"{server}/api/v1/workflows/{NS}/{name}/log",
                        params={"logOptions.container": "main"}, timeout=10).text
    contents = [json.loads(x)["result"]["content"] for x in text.splitlines()]
    assert contents == ["hello from hera", "hello from hera"]
    done = w.wait()  # Hera's own polling helper
    assert done.status.phase == "Succeeded"


def test_a_client_polling_every_5_s_keeps_its_connection(server):
    """Hera polls a running workflow every 5 s on one keep-alive connection; a server that
    closed idle connections after 5 s (uvicorn's default) would meet some polls with
    "connection reset by peer". The connection stays open, as Argo Server's does."""
    import socket
    from urllib.parse import urlsplit
    where = urlsplit(server)
    request = f"GET /api/v1/version HTTP/1.1\r\nHost: {where.hostname}\r\n\r\n".encode()
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        for _ in range(2):
            sock.sendall(request)
            answer = _response(sock)
            assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
            time.sleep(6)


def _response(sock) -> bytes:
    """One whole HTTP/1.1 response (headers, then Content-Length bytes); b"" if closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
