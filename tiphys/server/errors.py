"""Errors in grpc-gateway's JSON shape: `{"code": <grpc code>, "message": ...}` with the HTTP
status grpc-gateway maps that code to."""
from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

# grpc status codes and the HTTP status grpc-gateway answers with
INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, INTERNAL, UNIMPLEMENTED = 3, 5, 6, 9, 13, 12
_HTTP = {INVALID_ARGUMENT: 400, NOT_FOUND: 404, ALREADY_EXISTS: 409, FAILED_PRECONDITION: 400,
         INTERNAL: 500, UNIMPLEMENTED: 501}

RESOURCES = {"Workflow": "workflows.argoproj.io",
             "WorkflowTemplate": "workflowtemplates.argoproj.io",
             "ClusterWorkflowTemplate": "clusterworkflowtemplates.argoproj.io",
             "CronWorkflow": "cronworkflows.argoproj.io", "EventSource": "eventsources.argoproj.io",
             "Sensor": "sensors.argoproj.io", "WorkflowEventBinding": "workfloweventbindings.argoproj.io"}


class ApiError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message

    def response(self) -> JSONResponse:
        return JSONResponse({"code": self.code, "message": self.message}, status_code=_HTTP.get(self.code, 500))


def invalid(message: str) -> ApiError:
    return ApiError(INVALID_ARGUMENT, message)


def not_found(kind: str, name: str) -> ApiError:
    return ApiError(NOT_FOUND, f'{RESOURCES.get(kind, kind.lower() + "s")} "{name}" not found')


def already_exists(kind: str, name: str) -> ApiError:
    return ApiError(ALREADY_EXISTS, f'{RESOURCES[kind]} "{name}" already exists')


async def json_body(request: Any) -> dict:
    """The request body as a JSON object ({} when empty); InvalidArgument otherwise."""
    raw = await request.body()
    if not raw.strip():
        return {}
    import json
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise invalid(f"invalid JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object")
    return body
