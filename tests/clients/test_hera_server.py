"""Hera programs submitted to a real `tiphys server` with Hera's own WorkflowsService, as to Argo
Server: a WorkflowTemplate created through the API and called by templateRef, a workflow with
artifacts and an exit handler, one submitted from the template (workflowTemplateRef)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("hera", reason="hera is not installed (it is in the test extras)")

import hera_programs as programs  # noqa: E402
from client_runs import by_name  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from live import start_server, stop  # noqa: E402

pytestmark = pytest.mark.integration
NS = "argo"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from hera.workflows import WorkflowsService
    proc, url = start_server(tmp_path_factory.mktemp("server-home"))
    yield WorkflowsService(host=url, namespace=NS)
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        stop(proc)


def _done(workflow, timeout: float = 60) -> dict:
    """Poll (as Hera's `Workflow.wait`, which stops at the first phase other than Running) until
    the workflow ends, then the final Workflow as a dict."""
    deadline = time.monotonic() + timeout
    while True:
        got = workflow.workflows_service.get_workflow(workflow.name, namespace=NS)
        if got.status and got.status.phase in ("Succeeded", "Failed", "Error"):
            return got.model_dump(by_alias=True, exclude_none=True)
        assert time.monotonic() < deadline, f"still {got.status and got.status.phase}"
        time.sleep(0.1)


def test_template_ref_through_the_api(service):
    lib = programs.library_template()
    lib.namespace, lib.workflows_service = NS, service
    lib.create()
    w = programs.uses_library()
    w.namespace, w.workflows_service = NS, service
    created = w.create()
    assert created.metadata.name.startswith("hera-ref-")
    w.name = created.metadata.name
    wf = _done(w)
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert nodes["[0].call[0].say"]["outputs"]["result"] == "hello hera"


def test_ml_pipeline_through_the_api(service):
    w = programs.ml_pipeline()
    w.namespace, w.workflows_service = NS, service
    w.name = w.create().metadata.name
    wf = _done(w)
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert nodes["evaluate"]["outputs"]["result"] == "model-lr-0.5 lr,0.5"
    assert nodes["onExit[0].notify"]["outputs"]["result"] == "Succeeded"


def test_submit_from_the_workflow_template(service):
    from hera.workflows import Workflow
    from hera.workflows import models as m
    lib = programs.library_template()
    lib.name, lib.namespace, lib.workflows_service = "hera-lib-2", NS, service
    lib.create()
    w = Workflow(generate_name="from-template-", namespace=NS, workflows_service=service,
                 workflow_template_ref=m.WorkflowTemplateRef(name="hera-lib-2"), arguments={"who": "ref"})
    w.name = w.create().metadata.name
    wf = _done(w)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert [n["outputs"]["result"] for n in wf["status"]["nodes"].values() if n["type"] == "Pod"] == ["hello ref"]
