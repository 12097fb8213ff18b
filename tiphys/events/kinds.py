"""CronWorkflow, EventSource, Sensor and WorkflowEventBinding for `tiphys apply -f`: how each
is applied, got, listed and deleted in a store and through a server; importing this module
registers the four kinds with the apply kind table (`tiphys.objects.kinds`, which lists it
in its PLUGINS).

Applying keeps what the server owns: uid, creationTimestamp and status of an existing object
(a CronWorkflow's lastScheduledTime, a Sensor's conditions)."""
from __future__ import annotations

import uuid
from typing import Any

from tiphys.errors import SpecError
from tiphys.objects import kinds as table

# kind -> (CLI names, REST resource, body field of the REST API)
TABLE = {
    "CronWorkflow": (("cronworkflow", "cronworkflows", "cronwf", "cwf"), "cron-workflows", "cronWorkflow"),
    "EventSource": (("eventsource", "eventsources", "es"), "event-sources", "eventSource"),
    "Sensor": (("sensor", "sensors"), "sensors", "sensor"),
    "WorkflowEventBinding": (("workfloweventbinding", "workfloweventbindings", "wfeb"),
                             "workflow-event-bindings", "workflowEventBinding"),
}


def check(kind: str, body: dict, registry: Any = None) -> None:
    """Lint (located messages) and, for a CronWorkflow, the controller's own checks."""
    from tiphys.spec import lint
    from tiphys.spec.load import Manifest
    name = (body.get("metadata") or {}).get("name") or ""
    issues = lint.lint_manifests([Manifest(kind=kind, name=name, raw=body, file=f"{kind} {name}", index=0)],
                                 registry)
    issues = [i for i in issues if not i.at_run]
    if issues:
        raise SpecError("; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in issues))
    if kind == "CronWorkflow":
        from tiphys.cron import runs
        runs.validate(body)


def apply_stored(store: Any, kind: str, body: dict) -> dict:
    check(kind, body, store.registry)
    meta = body.setdefault("metadata", {})
    old = store.get_template(kind, meta["name"], meta.get("namespace") or "default")
    body.setdefault("apiVersion", "argoproj.io/v1alpha1")
    body.setdefault("kind", kind)
    if old is not None:
        old_meta = old.get("metadata") or {}
        for key in ("uid", "creationTimestamp"):
            if old_meta.get(key):
                meta[key] = old_meta[key]
        meta["resourceVersion"] = str(int(old_meta.get("resourceVersion") or 1) + 1)
        if old.get("status") and not body.get("status"):
            body["status"] = old["status"]
    else:
        meta["uid"] = str(uuid.uuid4())
    return store.save_template(kind, body)


def remote_apply(client: Any, kind: str, body: dict) -> dict:
    from tiphys.client.errors import ServerNotFound
    _, rest, field = TABLE[kind]
    meta = body["metadata"]
    ns = meta.get("namespace") or "default"
    base = f"/api/v1/{rest}/{ns}"
    try:
        client.request("GET", f"{base}/{meta['name']}")
    except ServerNotFound:
        return {"action": "created",
                "object": client.request("POST", base, body={"namespace": ns, field: body})}
    return {"action": "configured",
            "object": client.request("PUT", f"{base}/{meta['name']}", body={"namespace": ns, field: body})}


def _delete(store: Any, kind: str, ns: str, name: str) -> bool:
    if not store.delete_template(kind, name, ns):
        return False
    if kind == "CronWorkflow":      # its runs go with it (ownerReferences)
        from tiphys.cron.runs import CRON_LABEL
        page, _ = store.list_page(namespace=ns, labels={CRON_LABEL: name}, limit=10000)
        for wf in page:
            store.delete_workflow(wf["metadata"]["name"], ns)
    return True


def _register(kind: str) -> None:
    names, rest, _ = TABLE[kind]
    table.register(table.Kind(
        kind=kind, names=names, namespaced=True,
        apply=lambda ctx, body: apply_stored(ctx.store, kind, body),
        get=lambda ctx, ns, name: ctx.store.get_template(kind, name, ns),
        delete=lambda ctx, ns, name: _delete(ctx.store, kind, ns, name),
        list=lambda ctx, ns: ctx.store.list_templates(kind, ns),
        remote_apply=lambda client, body: remote_apply(client, kind, body),
        remote_get=lambda client, ns, name: client.request("GET", f"/api/v1/{rest}/{ns}/{name}"),
        remote_delete=lambda client, ns, name: client.request("DELETE", f"/api/v1/{rest}/{ns}/{name}")))


for _kind in TABLE:
    _register(_kind)
