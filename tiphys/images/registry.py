"""Pulling an image over the OCI distribution API into the store (httpx).

`pull(store, "python:3.11")`: GET the manifest (an index / manifest list picks linux/amd64),
then the config and every layer blob not already in the store, each checked against its
digest. A 401 carrying `WWW-Authenticate: Bearer realm=..,service=..,scope=..` is answered
with an anonymous token from that realm (public images on Docker Hub, ghcr.io, quay.io).
Loopback registries (localhost, 127.x, ::1) and those listed in $TIPHYS_INSECURE_REGISTRIES
(comma-separated host:port) are spoken to over plain http.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from typing import Any

import httpx

from tiphys.errors import InfrastructureError, NotFoundError
from tiphys.images import reference
from tiphys.images.store import Image, ImageStore

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
PLATFORM = ("linux", "amd64")
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(InfrastructureError):
    """The registry refused, failed, or sent something that is not an image."""


def pick_platform(manifests: list[dict[str, Any]], where: str) -> dict[str, Any]:
    """The linux/amd64 entry of an index (an entry without platform only when it is alone)."""
    for m in manifests:
        p = m.get("platform") or {}
        if (p.get("os"), p.get("architecture")) == PLATFORM and p.get("variant") in (None, "", "v1"):
            return m
    plain = [m for m in manifests if not m.get("platform")]
    if len(manifests) == 1 and plain:
        return plain[0]
    offered = ", ".join(f"{(m.get('platform') or {}).get('os')}/{(m.get('platform') or {}).get('architecture')}"
                        for m in manifests) or "nothing"
    raise RegistryError(f"{where}: no linux/amd64 image (offers {offered})")


def endpoint(ref: reference.Reference, env: dict[str, str] | None = None) -> str:
    env = dict(os.environ) if env is None else env
    host = "registry-1.docker.io" if ref.registry == reference.DOCKER_HUB else ref.registry
    insecure = {h.strip() for h in env.get("TIPHYS_INSECURE_REGISTRIES", "").split(",") if h.strip()}
    scheme = "http" if ref.loopback or ref.registry in insecure else "https"
    return f"{scheme}://{host}"


class Client:
    """One repository of one registry; keeps the bearer token it was given."""

    def __init__(self, ref: reference.Reference, http: httpx.Client, base: str):
        self.ref, self.http, self.base = ref, http, base
        self.token: str | None = None

    def _url(self, kind: str, ident: str) -> str:
        return f"{self.base}/v2/{self.ref.repository}/{kind}/{ident}"

    def _authenticate(self, challenge: str) -> None:
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() != "bearer":
            raise RegistryError(f"{self.ref.registry} asks for {scheme or 'unknown'} authentication; "
                                "only anonymous pulls (Bearer tokens) are supported")
        params = dict(_CHALLENGE_PARAM.findall(rest))
        if "realm" not in params:
            raise RegistryError(f"{self.ref.registry}: Bearer challenge without realm: {challenge!r}")
        query = {k: v for k, v in params.items() if k in ("service", "scope")}
        query.setdefault("scope", f"repository:{self.ref.repository}:pull")
        try:
            r = self.http.get(params["realm"], params=query)
        except httpx.HTTPError as exc:
            raise RegistryError(f"token request to {params['realm']} failed: {exc}") from exc
        if r.status_code != 200:
            raise RegistryError(f"token request to {params['realm']} answered {r.status_code}: {r.text[:200]}")
        doc = r.json()
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise RegistryError(f"token endpoint {params['realm']} returned no token")
        self.token = token

    def _send(self, url: str, headers: dict[str, str], stream: bool = False) -> httpx.Response:
        for attempt in range(2):
            h = dict(headers)
            if self.token:
                h["Authorization"] = f"Bearer {self.token}"
            try:
                req = self.http.build_request("GET", url, headers=h)
                r = self.http.send(req, stream=stream, follow_redirects=True)
            except httpx.HTTPError as exc:
                raise RegistryError(f"GET {url}: {exc}") from exc
            if r.status_code == 401 and attempt == 0 and "www-authenticate" in r.headers:
                r.close()
                self._authenticate(r.headers["www-authenticate"])
                continue
            if r.status_code == 404 or (r.status_code == 401 and attempt == 1):
                r.close()
                raise NotFoundError(f"image {self.ref.short} not found in {self.ref.registry} "
                                    f"(GET {url} answered {r.status_code})")
            if r.status_code >= 400:
                body = r.read()[:300].decode(errors="replace") if stream else r.text[:300]
                r.close()
                raise RegistryError(f"GET {url} answered {r.status_code}: {body}")
            return r
        raise AssertionError("unreachable")

    def manifest(self, ident: str) -> tuple[dict[str, Any], str, str]:
        """(document, media type, digest) of a manifest or index."""
        r = self._send(self._url("manifests", ident), {"Accept": ACCEPT})
        body = r.content
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if ident.startswith("sha256:") and ident != digest:
            raise RegistryError(f"manifest {ident} arrived with digest {digest}")
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise RegistryError(f"manifest {ident} of {self.ref.short} is not JSON") from exc
        media = doc.get("mediaType") or r.headers.get("content-type", "").split(";")[0]
        if doc.get("schemaVersion") == 1:
            raise RegistryError(f"{self.ref.short}: Docker schema 1 manifests are not supported")
        return doc, media, digest

    def blob(self, store: ImageStore, digest: str) -> None:
        if store.has_blob(digest):
            return
        r = self._send(self._url("blobs", digest), {}, stream=True)
        try:
            store.put_blob(_Reader(r), digest)
        except httpx.HTTPError as exc:
            raise RegistryError(f"downloading {digest}: {exc}") from exc
        finally:
            r.close()


class _Reader:
    """A file-like `read(n)` over a streamed httpx response."""

    def __init__(self, response: httpx.Response):
        self._chunks = response.iter_bytes(1 << 20)
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            try:
                self._buf += next(self._chunks)
            except StopIteration:
                break
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out


def pull(store: ImageStore, image: str, *, http: httpx.Client | None = None,
         progress: Callable[[str], None] | None = None) -> Image:
    """Fetch `image` from its registry into `store`; returns the stored image."""
    ref = reference.parse(image)
    say = progress or (lambda _msg: None)
    own = http is None
    http = http or httpx.Client(timeout=httpx.Timeout(30.0, read=300.0), headers={"User-Agent": "tiphys"})
    try:
        client = Client(ref, http, endpoint(ref))
        doc, media, digest = client.manifest(ref.digest or ref.tag or "latest")
        if media in (OCI_INDEX, DOCKER_LIST) or "manifests" in doc:
            chosen = pick_platform(doc.get("manifests") or [], ref.short)
            doc, media, digest = client.manifest(chosen["digest"])
        config = (doc.get("config") or {}).get("digest")
        layers = [layer.get("digest") for layer in doc.get("layers") or []]
        if not config or not all(layers):
            raise RegistryError(f"{ref.short}: manifest {digest} has no config or layers ({media})")
        say(f"config {config[:19]}")
        client.blob(store, config)
        for i, layer in enumerate(layers, 1):
            say(f"layer {i}/{len(layers)} {layer[:19]}")
            client.blob(store, layer)
        return store.add([ref.name], config, layers, digest=ref.digest or digest)
    finally:
        if own:
            http.close()
