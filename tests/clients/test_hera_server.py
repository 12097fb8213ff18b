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
