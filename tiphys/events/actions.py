"""What a Sensor's trigger does to the server (triggers.Actions): create a Workflow through
the same lint and controller as the API, act on one by name, submit from a WorkflowTemplate or
CronWorkflow, save or delete a stored object."""
from __future__ import annotations

import asyncio
from typing import Any

from tiphys.events.triggers import TriggerError
from tiphys.store.sql import OBJECT_KINDS, TEMPLATE_KINDS

STORED = TEMPLATE_KINDS + OBJECT_KINDS


class ServerActions:
    def __init__(self, store: Any, controller: Any):
        self.store, self.controller = store, controller

    def create_workflow(self, wf: dict) -> dict:
        from tiphys.server.common import lint, prepare_workflow
        from tiphys.server.errors import ApiError
        ns = (wf.get("metadata") or {}).get("namespace") or "default"
        try:
            wf = prepare_workflow(wf, ns, self.store)
            lint(wf, "Workflow", ns, self.store)
        except ApiError as exc:
            raise TriggerError(exc.message) from None
        if self.store.workflow_phase(wf["metadata"]["name"], ns) is not None:
            raise TriggerError(f'workflows.argoproj.io "{wf["metadata"]["name"]}" already exists')
        return asyncio.run(self.controller.submit(wf))

    def workflow_op(self, namespace: str, name: str, op: str) -> Any:
        c = self.controller
        try:
            if op == "resubmit":
                return asyncio.run(c.resubmit(namespace, name))
            if op == "retry":
                return asyncio.run(c.retry(namespace, name))
            if op == "suspend":
                return asyncio.run(c.suspend(namespace, name))
            if op == "resume":
                return asyncio.run(c.resume(namespace, name))
            if op in ("terminate", "stop"):
                if not asyncio.run(c.stop(namespace, name, f"Stopped with strategy '{op.capitalize()}'",
                                          terminate=op == "terminate")):
                    raise TriggerError(f"workflow {name!r} is not running")
                return None
        except TriggerError:
            raise
        except Exception as exc:  # noqa: BLE001 - the controller's refusal is the trigger's failure
            raise TriggerError(f"{op} {namespace}/{name}: {exc}") from None
        raise TriggerError(f"unknown operation {op!r}")

    def submit_from(self, namespace: str, kind: str, name: str, labels: dict) -> dict:
        kind = {"cronworkflow": "CronWorkflow", "workflowtemplate": "WorkflowTemplate",
                "clusterworkflowtemplate": "ClusterWorkflowTemplate"}.get(kind.lower(), kind)
        if kind == "CronWorkflow":
            from tiphys.cron import runs
            cron = self.store.get_template(kind, name, namespace)
            if cron is None:
                raise TriggerError(f'CronWorkflow "{name}" not found')
            wf = runs.new_workflow(cron, None, manual=True)
        elif kind in TEMPLATE_KINDS:
            if self.store.get_template(kind, name, namespace) is None:
                raise TriggerError(f'{kind} "{name}" not found')
            ref: dict = {"name": name}
            label = "workflows.argoproj.io/workflow-template"
            if kind == "ClusterWorkflowTemplate":
                ref["clusterScope"] = True
                label = "workflows.argoproj.io/cluster-workflow-template"
            wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                  "metadata": {"generateName": f"{name}-", "namespace": namespace, "labels": {label: name}},
                  "spec": {"workflowTemplateRef": ref}}
        else:
            raise TriggerError(f"submit-from: cannot submit from a {kind}")
        wf["metadata"].setdefault("labels", {}).update(labels)
        return self.create_workflow(wf)

    def save_object(self, obj: dict, operation: str) -> dict:
        kind = obj.get("kind") or ""
        meta = obj.get("metadata") or {}
        if kind == "Workflow":
            existing = self.store.get_workflow(meta.get("name") or "", meta.get("namespace") or "default")
            if existing is None:
                return self.create_workflow(obj)
            raise TriggerError(f"{operation} of an existing Workflow is not supported")
        if kind not in STORED:
            raise TriggerError(f"k8s trigger: kind {kind!r} is not one this server keeps")
        if not meta.get("name"):
            raise TriggerError("k8s trigger: the resource needs metadata.name")
        old = self.store.get_template(kind, meta["name"], meta.get("namespace") or "default")
        if old is not None and operation == "create":
            raise TriggerError(f'{kind} "{meta["name"]}" already exists')
        if old is not None and operation == "patch":
            import copy

            from tiphys.runtime.resources import merge_patch
            obj = merge_patch(copy.deepcopy(old), obj)
        return self.store.save_template(kind, obj)

    def delete_object(self, obj: dict) -> None:
        kind = obj.get("kind") or "Workflow"
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace") or "default", meta.get("name") or ""
        if kind == "Workflow":
            if self.store.workflow_phase(name, ns) is not None:
                asyncio.run(self.controller.delete(ns, name))   # (the sensors' thread)
        elif kind in STORED:
            self.store.delete_template(kind, name, ns)
        else:
            raise TriggerError(f"k8s trigger: kind {kind!r} is not one this server keeps")

