"""REST routes of the event kinds: EventSources and Sensors as Argo Server's
EventSourceService / SensorService (`/api/v1/event-sources/{ns}`, `/api/v1/sensors/{ns}`, body
fields `eventSource` / `sensor`), WorkflowEventBindings (`/api/v1/workflow-event-bindings/{ns}`,
body `workflowEventBinding`), and Argo's events endpoint `POST /api/v1/events/{ns}/{discriminator}`
(behind the same auth middleware as every other route)."""
from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tiphys.events import bindings
from tiphys.server.common import lint, prepare_workflow, state
from tiphys.server.errors import INTERNAL, ApiError, invalid
from tiphys.server.templates import _routes

MAX_EVENT_BODY = 2 << 20      # Argo Server reads at most 2 MB of an event


class _Hooks:
    """Tell the events service of every change (it also looks at the store each second)."""

    def check(self, request: Request, obj: dict) -> None:
        pass                   # common.lint (run by the shared handlers) lints the event kinds

    def changed(self, request: Request, obj: dict, old: dict | None) -> None:
        svc = getattr(request.app.state, "events", None)
        if svc is not None:
            svc.changed()

    def deleted(self, request: Request, namespace: str, name: str) -> None:
        self.changed(request, {}, None)


async def receive_event(request: Request) -> JSONResponse:
    ns = request.path_params["namespace"]
    discriminator = request.path_params.get("discriminator") or ""
    length = request.headers.get("content-length") or "0"
    if length.isdigit() and int(length) > MAX_EVENT_BODY:
        raise invalid("event payload too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_EVENT_BODY:
            raise invalid("event payload too large")
    try:
        payload = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise invalid("the event payload is not JSON") from None
    st = state(request)
    env = bindings.environment(payload, list(request.headers.items()), ns, discriminator)

    def dispatch() -> None:
        for binding in st.store.list_templates("WorkflowEventBinding", ns):
            ref = (((binding.get("spec") or {}).get("submit") or {}).get("workflowTemplateRef") or {})
            kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
            template = st.store.get_template(kind, ref["name"], ns) if ref.get("name") else None
            try:
                wf = bindings.workflow_for(binding, template, env)
                if wf is None:
                    continue
                wf = prepare_workflow(wf, ns, st.store)
                lint(wf, "Workflow", ns, st.store)
                asyncio.run(st.controller.submit(wf))   # (a worker thread)
            except (bindings.BindingError, ApiError) as exc:
                message = exc.message if isinstance(exc, ApiError) else str(exc)
                raise ApiError(INTERNAL, f"failed to dispatch event: {message}") from None
    await asyncio.to_thread(dispatch)
    return JSONResponse({})


ROUTES = [
    Route("/api/v1/events/{namespace}/", receive_event, methods=["POST"]),
    Route("/api/v1/events/{namespace}/{discriminator}", receive_event, methods=["POST"]),
    *_routes("/api/v1/event-sources/{namespace}", "EventSource", "eventSource", _Hooks()),
    *_routes("/api/v1/sensors/{namespace}", "Sensor", "sensor", _Hooks()),
    *_routes("/api/v1/workflow-event-bindings/{namespace}", "WorkflowEventBinding", "workflowEventBinding",
             _Hooks()),
]
