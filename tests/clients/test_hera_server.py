"""Hera programs submitted to a real `tiphys server` with Hera's own WorkflowsService, as to Argo
Server: a WorkflowTemplate created through the API and called by templateRef, a workflow with
artifacts and an exit handler, one submitted from the template (workflowTemplateRef)."""
from __future__ import annotations

import pytest

pytest.importorskip("hera", reason="hera is not installed (it is in the test extras)")

import hera_programs as programs  # noqa: E402
from client_runs import by_name, finished  # noqa: E402

pytestmark = pytest.mark.integration
NS = "argo"


def _done(workflow) -> dict:
    return finished(workflow.workflows_service, workflow.name, NS)


def _log(tiphys, service, wf: dict, node: dict) -> str:
    """A step's stdout where Argo users read it when no caller names its result: its log."""
    return tiphys.log(wf, node, "--server", service.host, "-n", NS)


def test_template_ref_through_the_api(service, tiphys):
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
    assert _log(tiphys, service, wf, nodes["[0].call[0].say"]) == "hello hera"


def test_ml_pipeline_through_the_api(service, tiphys):
    w = programs.ml_pipeline()
    w.namespace, w.workflows_service = NS, service
    w.name = w.create().metadata.name
    wf = _done(w)
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert _log(tiphys, service, wf, nodes["evaluate"]) == "model-lr-0.5 lr,0.5"
    assert _log(tiphys, service, wf, nodes["onExit[0].notify"]) == "Succeeded"


def test_submit_from_the_workflow_template(service, tiphys):
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
    pods = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]
    assert [_log(tiphys, service, wf, n) for n in pods] == ["hello ref"]
    assert "result" not in pods[0]["outputs"]      # the `greet` steps template names no result
