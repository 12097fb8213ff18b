"""CronWorkflow, EventSource, Sensor and WorkflowEventBinding for `tiphys apply -f`: how each
is applied, got, listed and deleted in a store and through a server, in the shape of the
apply kind table (`tiphys.objects.kinds.Kind`, branch s3). When that table is present this
module registers the four kinds with it on import; `KINDS` serves the minimal apply path
(tiphys/cli/applyevents.py) otherwise.

Applying keeps what the server owns: uid, creationTimestamp and status of an existing object
(a CronWorkflow's lastScheduledTime, a Sensor's conditions)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable

from tiphys.errors import SpecError

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


@dataclass(frozen=True)
class Ops:
    """One kind's operations, with the signatures of tiphys.objects.kinds.Kind (ctx has .store)."""
    kind: str
    names: tuple[str, ...]
    apply: Callable[[Any, dict], dict]
    get: Callable[[Any, str, str], dict | None]
    delete: Callable[[Any, str, str], bool]
    list: Callable[[Any, str | None], list[dict]]
    remote_apply: Callable[[Any, dict], dict]
    remote_get: Callable[[Any, str, str], dict]
    remote_delete: Callable[[Any, str, str], None]


def _ops(kind: str) -> Ops:
    names, rest, _ = TABLE[kind]
    return Ops(
        kind=kind, names=names,
        apply=lambda ctx, body: apply_stored(ctx.store, kind, body),
        get=lambda ctx, ns, name: ctx.store.get_template(kind, name, ns),
        delete=lambda ctx, ns, name: _delete(ctx.store, kind, ns, name),
        list=lambda ctx, ns: ctx.store.list_templates(kind, ns),
        remote_apply=lambda client, body: remote_apply(client, kind, body),
        remote_get=lambda client, ns, name: client.request("GET", f"/api/v1/{rest}/{ns}/{name}"),
        remote_delete=lambda client, ns, name: client.request("DELETE", f"/api/v1/{rest}/{ns}/{name}"))


KINDS: dict[str, Ops] = {k: _ops(k) for k in TABLE}


def register_with_apply_table() -> bool:
    """Register the four kinds with tiphys.objects.kinds when that table exists."""
    try:
        from tiphys.objects import kinds as table  # type: ignore[import-not-found]
    except ImportError:
        return False
    for ops in KINDS.values():
        table.register(table.Kind(kind=ops.kind, names=ops.names, namespaced=True, apply=ops.apply, get=ops.get,
                                  delete=ops.delete, list=ops.list, remote_apply=ops.remote_apply,
                                  remote_get=ops.remote_get, remote_delete=ops.remote_delete))
    return True


register_with_apply_table()
