"""EventSources of type webhook, github and calendar, as Argo Events' event source pods run
them: each webhook/github event listens on its spec's `port` and `endpoint` (one HTTP server
per port, `GET /health` answering OK), a calendar event ticks on its schedule or interval.

What a request must be, and the event data each one makes, follow Argo Events
(ARGO-REFERENCE-2 §2.1): webhook `{"header", "body", "metadata"}`, github `{"headers",
"body" (+ X-GitHub-Event / X-GitHub-Delivery), "metadata"}`, calendar `{"eventTime",
"metadata"}`. A github event with a `webhookSecret` refuses any request whose
X-Hub-Signature-256 (or X-Hub-Signature) is not the HMAC of the raw body, compared in constant
time. No call is ever made to GitHub's API (hooks are not registered: without an `apiToken`
Argo Events makes none either)."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

log = logging.getLogger("tiphys.events")

MAX_PAYLOAD = 1 << 20      # Argo Events' default maxPayloadSize (1 MiB)
SOURCE_TYPES = ("webhook", "github", "calendar")
Publish = Callable[[str, str, str, str, Any], None]   # (namespace, source, event name, type, data)


@dataclass
class Route:
    namespace: str
    source: str
    event_name: str
    type: str                  # webhook | github
    method: str = "POST"
    secret: str | None = None          # github webhookSecret value
    auth_token: str | None = None      # webhook authSecret value
    metadata: dict = field(default_factory=dict)
    max_payload: int = MAX_PAYLOAD


def canonical(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: x-github-event -> X-Github-Event."""
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


def _headers(scope: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for raw_name, raw_value in scope.get("headers") or []:
        out.setdefault(canonical(raw_name.decode("latin-1")), []).append(raw_value.decode("latin-1"))
    return out


class PortApp:
    """The ASGI app of one port: its routes (endpoint -> Route) can change while it serves."""

    def __init__(self, publish: Publish):
        self.publish = publish
        self.routes: dict[str, Route] = {}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        status, text = await self._handle(scope, receive)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
        await send({"type": "http.response.body", "body": text.encode()})

    async def _read(self, receive: Callable, limit: int) -> bytes | None:
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _handle(self, scope: dict, receive: Callable) -> tuple[int, str]:
        path, method = scope.get("path") or "/", scope.get("method") or "GET"
        if path == "/health" and method == "GET":
            return 200, "OK"
        route = self.routes.get(path)
        if route is None:
            return 404, "404 page not found"
        headers = _headers(scope)
        length = (headers.get("Content-Length") or ["0"])[0]
        if length.isdigit() and int(length) > route.max_payload:
            return 413, "request body too large"
        body = await self._read(receive, route.max_payload)
        if body is None:
            return 413, "request body too large"
        if route.type == "github":
            status, text, data = _github(route, headers, body)
        else:
            status, text, data = _webhook(route, method, headers, body, scope.get("query_string") or b"")
        if status != 200:
            return status, text
        try:
            self.publish(route.namespace, route.source, route.event_name, route.type, data)
        except Exception:  # noqa: BLE001 - Argo Events answers 500 when it cannot record the event
            log.exception("event %s/%s", route.source, route.event_name)
            return 500, "failed to record event"
        return 200, "success"


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise ValueError("invalid JSON") from None


def _webhook(route: Route, method: str, headers: dict, body: bytes, query: bytes) -> tuple[int, str, Any]:
    if route.auth_token is not None:
        auth = (headers.get("Authorization") or [""])[0]
        if not auth.startswith("Bearer "):
            return 401, "Invalid Authorization Header", None
        if not hmac.compare_digest(auth[len("Bearer "):].encode(), route.auth_token.encode()):
            return 401, "Invalid Auth token", None
    if "Authorization" in headers:
        headers["Authorization"] = ["*** Masked Auth Secret ***"]
    if method != route.method:
        return 400, "http method does not match", None
    content_type = (headers.get("Content-Type") or [""])[0].split(";")[0].strip().lower()
    if method == "GET":
        payload: Any = parse_qs(query.decode("latin-1"), keep_blank_values=True)
    elif method == "POST" and content_type == "application/x-www-form-urlencoded":
        payload = parse_qs(body.decode("latin-1"), keep_blank_values=True)
    elif method == "POST":
        try:
            payload = _json_or_none(body)
        except ValueError:
            return 400, "failed to parse the request body: invalid JSON", None
    else:
        return 400, "unsupported http method", None
    data = {"header": headers, "body": payload}
    if route.metadata:
        data["metadata"] = route.metadata
    return 200, "", data


def signature_ok(secret: str, body: bytes, headers: dict) -> str | None:
    """None when the body carries a valid GitHub signature, else the reason (go-github's words)."""
    sig = (headers.get("X-Hub-Signature-256") or headers.get("X-Hub-Signature") or [""])[0]
    if not sig:
        return "missing signature"
    algo, _, given = sig.partition("=")
    digest = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}.get(algo)
    if digest is None:
        return "payload signature check failed"
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.strip().encode()):
        return "payload signature check failed"
    return None


def _github(route: Route, headers: dict, body: bytes) -> tuple[int, str, Any]:
    if route.secret:
        problem = signature_ok(route.secret, body, headers)
        if problem:
            return 400, problem, None
    content_type = (headers.get("Content-Type") or ["application/json"])[0].split(";")[0].strip().lower()
    try:
        if content_type == "application/json":
            payload = _json_or_none(body)
        elif content_type == "application/x-www-form-urlencoded":
            form = parse_qs(body.decode("latin-1"))
            payload = _json_or_none((form.get("payload") or [""])[0].encode())
        else:
            return 400, "Webhook request has unsupported Content-Type", None
    except ValueError:
        return 400, "failed to parse the request body: invalid JSON", None
    if not isinstance(payload, dict):
        return 400, "failed to parse the request body: not a JSON object", None
    payload = dict(payload)
    payload["X-GitHub-Event"] = (headers.get("X-Github-Event") or [""])[0]
    payload["X-GitHub-Delivery"] = (headers.get("X-Github-Delivery") or [""])[0]
    data = {"headers": headers, "body": payload}
    if route.metadata:
        data["metadata"] = route.metadata
    return 200, "", data
