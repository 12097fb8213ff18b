"""The server's answers as Tiphys errors, so the CLI prints `tiphys: <server's message>`.

Argo Server (and `tiphys server`) answer errors in grpc-gateway's JSON shape
`{"code": <grpc code>, "message": ...}`; the grpc code decides the class, the HTTP status is
the fallback when the body is not that shape (a proxy's HTML page, say).
"""
from __future__ import annotations

import json

from tiphys.errors import InfrastructureError, NotFoundError, SpecError, TiphysError

# grpc status codes
INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED = 3, 5, 6, 7
FAILED_PRECONDITION, UNIMPLEMENTED, UNAUTHENTICATED = 9, 12, 16
_HTTP_TO_GRPC = {400: INVALID_ARGUMENT, 401: UNAUTHENTICATED, 403: PERMISSION_DENIED, 404: NOT_FOUND,
                 409: ALREADY_EXISTS, 412: FAILED_PRECONDITION, 501: UNIMPLEMENTED}


class ServerError(TiphysError):
    """Any error answer of the server; `code` is the grpc code, `status` the HTTP status."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.code, self.status = code, status


class ServerNotFound(ServerError, NotFoundError):
    """The workflow or template named does not exist on the server."""


class ServerRejected(ServerError, SpecError):
    """The server refused the request: invalid input, already exists, wrong state."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        ServerError.__init__(self, message, code=code, status=status)
        self.message, self.file, self.document, self.path = message, None, None, None


class ServerDenied(ServerError):
    """No token, a wrong token, or a token not allowed to do this."""


class ServerUnsupported(ServerError):
    """The server does not implement this endpoint (an older or partial server)."""


class ServerFailure(ServerError, InfrastructureError):
    """The server failed (5xx), or could not be reached."""


class ServerUnreachable(ServerFailure):
    """Connection refused, DNS failure, timeout, connection dropped."""


def from_response(status: int, body: bytes, what: str) -> ServerError:
    """The error for an HTTP answer `status` with `body` to the request described by `what`."""
    message, code = "", None
    try:
        data = json.loads(body or b"null")
    except ValueError:
        data = None
    if isinstance(data, dict):
        message = str(data.get("message") or data.get("error") or "")
        code = data.get("code") if isinstance(data.get("code"), int) else None
    if not message:
        text = body.decode(errors="replace").strip()
        message = text.splitlines()[0][:200] if text and not text.startswith("<") else f"HTTP {status}"
    if code is None:
        code = _HTTP_TO_GRPC.get(status)
    if code == NOT_FOUND and message == "Not Found":  # grpc-gateway's answer to an unknown path
        return ServerUnsupported(f"{what}: the server does not support this (no such endpoint; "
                                 "is it an older Tiphys server?)", code=code, status=status)
    if code == NOT_FOUND:
        return ServerNotFound(message, code=code, status=status)
    if code in (INVALID_ARGUMENT, ALREADY_EXISTS, FAILED_PRECONDITION):
        return ServerRejected(message, code=code, status=status)
    if code in (UNAUTHENTICATED, PERMISSION_DENIED):
        hint = " (give a token with --token or TIPHYS_TOKEN)" if code == UNAUTHENTICATED else ""
        return ServerDenied(f"{what}: {message}{hint}", code=code, status=status)
    if code == UNIMPLEMENTED or status in (404, 405):
        return ServerUnsupported(f"{what}: the server does not support this ({message})", code=code, status=status)
    return ServerFailure(f"{what}: server error: {message}", code=code, status=status)
