"""REST routes of CronWorkflows, as Argo Server's CronWorkflowService
(`/api/v1/cron-workflows/{namespace}...`, body field `cronWorkflow`), and the scheduler's
start with the server's controller."""
from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tiphys.cron import runs
from tiphys.cron.scheduler import KIND, CronScheduler
from tiphys.errors import TiphysError
from tiphys.server.common import lint, prepare_workflow, state
from tiphys.server.errors import invalid, json_body, not_found
from tiphys.server.templates import _routes

BASE = "/api/v1/cron-workflows/{namespace}"


def start_scheduler(store: Any, controller: Any) -> CronScheduler | None:
    """The cron scheduler of a process whose controller runs workflows (None otherwise)."""
    if not controller.runs_workflows:
        return None

    def submit(wf: dict) -> dict:
        ns = wf["metadata"]["namespace"]
        lint(wf, "Workflow", ns, store)
        return asyncio.run(controller.submit(wf))   # (the scheduler's thread)

    def terminate(ns: str, name: str) -> None:
        asyncio.run(controller.stop(ns, name, "Stopped with strategy 'Terminate'", terminate=True))

    def delete(ns: str, name: str) -> None:
        asyncio.run(controller.delete(ns, name))

    scheduler = CronScheduler(store, controller.owner, submit=submit, terminate=terminate,
                              delete=delete, lease_ttl=controller.lease_ttl)
    scheduler.start()
    return scheduler


def _scheduler(request: Request) -> CronScheduler | None:
    return getattr(request.app.state, "cron", None)


class _Hooks:
    """Validation as Argo's controller does it (400 on a bad schedule, policy, timezone) and
    the scheduler told of every change; deleting a CronWorkflow deletes its runs (ownerRef)."""

    def check(self, request: Request, cron: dict) -> None:
        try:
            runs.validate(cron)
        except TiphysError as exc:
            raise invalid(str(exc)) from None

    def changed(self, request: Request, cron: dict, old: dict | None) -> None:
        if (sched := _scheduler(request)) is not None:
            sched.changed()

    async def deleted(self, request: Request, namespace: str, name: str) -> None:
        st = state(request)
        page, _ = await asyncio.to_thread(st.store.list_page, namespace=namespace,
                                          labels={runs.CRON_LABEL: name}, limit=10000)
        for wf in page:
            await st.controller.delete(namespace, wf["metadata"]["name"])
        if (sched := _scheduler(request)) is not None:
            sched.changed()


def _set_suspend(value: bool):
    async def handler(request: Request) -> JSONResponse:
        ns, name = request.path_params["namespace"], request.path_params["name"]
        st = state(request)
        cron = st.store.get_template(KIND, name, ns)
        if cron is None:
            raise not_found(KIND, name)
        cron.setdefault("spec", {})["suspend"] = value
        meta = cron.setdefault("metadata", {})
        meta["resourceVersion"] = str(int(meta.get("resourceVersion") or 1) + 1)
        saved = st.store.save_template(KIND, cron)
        if (sched := _scheduler(request)) is not None:
            sched.changed()
        return JSONResponse(saved)
    return handler


async def submit_from_cron(request: Request, namespace: str, name: str, opts: dict) -> dict:
    """`POST /api/v1/workflows/{ns}/submit` with resourceKind CronWorkflow: a run now
    (`generateName: <cron>-`, scheduled-time = now, or submitOptions' scheduledTime)."""
    st = state(request)
    cron = st.store.get_template(KIND, name, namespace)
    if cron is None:
        raise not_found(KIND, name)
    at = runs.parse_time(opts.get("scheduledTime")) or dt.datetime.now(dt.timezone.utc)
    wf = runs.new_workflow(cron, at, manual=True)
    if opts.get("name"):
        wf["metadata"]["name"] = opts["name"]
        wf["metadata"].pop("generateName", None)
    if opts.get("generateName"):
        wf["metadata"]["generateName"] = opts["generateName"]
    if opts.get("entryPoint"):
        wf["spec"]["entrypoint"] = opts["entryPoint"]
    if opts.get("serviceAccount"):
        wf["spec"]["serviceAccountName"] = opts["serviceAccount"]
    params = opts.get("parameters") or []
    if params:
        given = {}
        for p in params:
            k, _, v = str(p).partition("=")
            given[k] = v
        args = wf["spec"].setdefault("arguments", {})
        plist = args.setdefault("parameters", [])
        for p in plist:
            if p.get("name") in given:
                p["value"] = given.pop(p["name"])
        plist += [{"name": k, "value": v} for k, v in given.items()]
    wf = prepare_workflow(wf, namespace, st.store)
    lint(wf, "Workflow", namespace, st.store)
    return await st.controller.submit(wf)


ROUTES = [
    Route(BASE + "/{name}/suspend", _set_suspend(True), methods=["PUT"]),
    Route(BASE + "/{name}/resume", _set_suspend(False), methods=["PUT"]),
    *_routes(BASE, KIND, "cronWorkflow", _Hooks()),
]
