"""`--auth-mode client`: every API request carries `Authorization: Bearer <token>` (what
argo, Hera and the official client send; the Argo UI's `authorization` cookie is taken too),
checked against the store's token digests and the token's namespaces.

What needs a token (`scope_of`):
- `/api/...` and the artifact download paths (`/artifacts/...`, `/artifact-files/...`,
  `/input-artifacts/...`, `*-by-uid/...`);
- nothing else: `/` and `/ui/...` (the web UI, which asks for a token itself), `/metrics`
  (counts only, no names, as Argo's metrics port) and `/openapi.json` stay open.

Namespaced paths are `/api/v1/<resource>/{namespace}/...` (and `/api/v1/stream/<resource>/
{namespace}/...`; archived workflows take `?namespace=`). A path without a namespace (e.g.
`GET /api/v1/workflows`, a watch of every namespace) acts across all namespaces: only an
all-namespaces token (`*`) may do that; any other gets 403 rather than a filtered answer, as
Kubernetes answers a cluster-wide list without a cluster-wide grant (and so no route has to
remember to filter). Cluster-scoped reads (info, version, userinfo, cluster-workflow-templates)
need any valid token; cluster-scoped writes (create/update/delete a ClusterWorkflowTemplate)
need `*`, since every namespace's workflows run those templates.

Errors are grpc-gateway JSON: 401 `{"code": 16}` (Unauthenticated), 403 `{"code": 7}`
(PermissionDenied). `--auth-mode server` passes every request through (loopback only, see cli.py).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tiphys import auth

log = logging.getLogger("tiphys.server")

UNAUTHENTICATED, PERMISSION_DENIED = 16, 7
IDENTITY = "tiphys.identity"  # request.scope key: the caller's auth.Identity (None under --auth-mode server)
MODES = ("client", "server")

CLUSTER_RESOURCES = frozenset({"info", "version", "userinfo", "cluster-workflow-templates"})
QUERY_NAMESPACE = frozenset({"archived-workflows", "archived-workflows-label-keys",
                             "archived-workflows-label-values"})
ARTIFACT_PREFIXES = ("artifacts", "artifact-files", "input-artifacts")
READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Scope:
    """What a request touches: `public` (no token), or with a token: `namespace` (None: all
    namespaces or a cluster-scoped write) unless `cluster_read`."""

    public: bool = False
    cluster_read: bool = False
    namespace: str | None = None


PUBLIC = Scope(public=True)
CLUSTER_READ = Scope(cluster_read=True)
EVERYWHERE = Scope()


def scope_of(method: str, path: str, query: dict[str, str]) -> Scope:
    parts = path.split("/")[1:]
    if not parts or not parts[0]:
        return PUBLIC
    head = parts[0]
    by_uid = head.endswith("-by-uid")
    if (head[:-len("-by-uid")] if by_uid else head) in ARTIFACT_PREFIXES:
        if by_uid or len(parts) < 2 or not parts[1]:
            return EVERYWHERE  # a uid names no namespace
        return Scope(namespace=parts[1])
    if parts[0] != "api":
        return PUBLIC
    rest = parts[2:] if len(parts) > 1 and parts[1].startswith("v") else parts[1:]
    if rest and rest[0] == "stream":
        rest = rest[1:]
    if not rest or not rest[0]:
        return CLUSTER_READ if method in READS else EVERYWHERE
    resource = rest[0]
    if resource in CLUSTER_RESOURCES:
        lint = len(rest) > 1 and rest[-1] == "lint"
        return CLUSTER_READ if method in READS or lint else EVERYWHERE
    if resource in QUERY_NAMESPACE:
        return Scope(namespace=query.get("namespace") or None)
    return Scope(namespace=rest[1] if len(rest) > 1 and rest[1] else None)


def bearer(headers: dict[str, str]) -> str:
    """The token of `Authorization: Bearer <token>` (or of the `authorization` cookie)."""
    value = headers.get("authorization", "")
    if not value and headers.get("cookie"):
        # parsed by hand: the Argo UI writes `authorization=Bearer <token>` with a raw space,
        # which http.cookies rejects
        for part in headers["cookie"].split(";"):
            name, _, raw = part.strip().partition("=")
            if name == "authorization":
                value = unquote(raw.strip().strip('"'))
                break
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _error(status: int, code: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="tiphys"'} if status == 401 else None
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


class AuthMiddleware:
    """Pure ASGI middleware (streams pass through untouched)."""

    def __init__(self, app: Any, mode: str = "server"):
        if mode not in MODES:
            raise ValueError(f"auth mode {mode!r}: expected one of {', '.join(MODES)}")
        self.app, self.mode = app, mode

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope[IDENTITY] = None
        if self.mode == "server":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        wanted = scope_of(scope.get("method", "GET"), scope["path"], dict(request.query_params))
        if wanted.public:
            await self.app(scope, receive, send)
            return
        token = bearer({k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]})
        if not token:
            await _error(401, UNAUTHENTICATED, "token not found: send 'Authorization: Bearer <token>' "
                                               "(tiphys auth token create --namespace NS)")(scope, receive, send)
            return
        state = getattr(scope["app"].state, "tiphys", None)
        identity = await asyncio.to_thread(auth.identify, state.store, token) if state else None
        if identity is None:
            await _error(401, UNAUTHENTICATED, "token not valid")(scope, receive, send)
            return
        if not wanted.cluster_read and not identity.may_use(wanted.namespace):
            where = (f"namespace {wanted.namespace!r}" if wanted.namespace
                     else "every namespace (or cluster-scoped resources)")
            await _error(403, PERMISSION_DENIED, f"permission denied: token {identity.token_id} may not act in "
                                                 f"{where}; its namespaces: {', '.join(identity.namespaces)}"
                         )(scope, receive, send)
            return
        scope[IDENTITY] = identity
        await self.app(scope, receive, send)


async def userinfo(request: Request) -> JSONResponse:
    """Who the caller is: the token's id and namespaces (as groups `namespace:<ns>`); nobody
    in particular under --auth-mode server."""
    identity = request.scope.get(IDENTITY)
    if identity is None:
        return JSONResponse({})
    answer = {"issuer": "tiphys", "subject": f"token:{identity.token_id}",
              "groups": [f"namespace:{ns}" for ns in identity.namespaces]}
    if identity.description:
        answer["name"] = identity.description
    return JSONResponse(answer)


ROUTES = [Route("/api/v1/userinfo", userinfo, methods=["GET"])]
