"""`tiphys apply -f FILE|DIR`: create or update every document of the files, kind by kind
(kinds.py), in the local store or through a Tiphys server. Documents are checked first
(each must be a kind the table knows), so a file with a bad document changes nothing."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tiphys.errors import NotFoundError, SpecError
from tiphys.objects import kinds
from tiphys.objects.kinds import Context, Kind


def files_of(paths: list[str]) -> list[str]:
    """FILEs as given, DIRs expanded to their *.yaml, *.yml, *.json (recursively, sorted)."""
    found: list[str] = []
    for p in paths:
        path = Path(p)
        if p == "-":
            found.append(p)
        elif path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [os.path.join(root, n) for n in sorted(names) if n.endswith((".yaml", ".yml", ".json"))]
        elif path.exists():
            found.append(p)
        else:
            raise SpecError("no such file or directory", file=p)
    return found


def load(paths: list[str], namespace: str | None) -> list[tuple[Kind, dict[str, Any], str]]:
    """(kind, body with its namespace settled, where) for every document; refuses unknown kinds."""
    from tiphys.spec.load import load_path as load_manifests
    docs = []
    for file in files_of(paths):
        for m in load_manifests(file):
            where = f"{m.file}: document {m.index + 1}"
            kind = kinds.of_manifest(m.kind, where)
            try:
                docs.append((kind, kinds.namespace_of(m.raw, kind, namespace), where))
            except SpecError as exc:
                raise SpecError(str(exc), file=where) from None
    if not docs:
        raise SpecError("no objects found", file=", ".join(paths))
    return docs


def label(kind: Kind, body: dict[str, Any]) -> str:
    return f"{kind.kind.lower()}/{body['metadata']['name']}"


def apply_local(ctx: Context, docs: list[tuple[Kind, dict[str, Any], str]]) -> list[str]:
    """Apply each document; returns kubectl's lines (`configmap/x created`)."""
    lines = []
    for kind, body, where in docs:
        meta = body["metadata"]
        existed = kind.get(ctx, meta.get("namespace") or "", meta["name"]) is not None
        try:
            kind.apply(ctx, body)
        except SpecError as exc:
            raise SpecError(str(exc), file=where) from None
        lines.append(f"{label(kind, body)} {'configured' if existed else 'created'}")
    return lines


# -- through a server -------------------------------------------------------------------------

def rest_path(kind: Kind, namespace: str, name: str | None = None) -> str:
    path = f"/api/v1/{kind.rest}/{quote(namespace, safe='')}"
    return path + (f"/{quote(name, safe='')}" if name else "")


def apply_remote(client: Any, docs: list[tuple[Kind, dict[str, Any], str]]) -> list[str]:
    lines = []
    for kind, body, where in docs:
        if kind.remote_apply is not None:
            answer = kind.remote_apply(client, body)
        elif kind.rest:
            answer = client.request("POST", rest_path(kind, body["metadata"]["namespace"]), body={"object": body})
        else:
            raise SpecError(f"{kind.kind} cannot be applied through a server yet", file=where)
        lines.append(f"{label(kind, body)} {answer.get('action', 'configured')}")
    return lines


def get_remote(client: Any, kind: Kind, namespace: str, name: str) -> dict[str, Any]:
    if kind.remote_get is not None:
        return kind.remote_get(client, namespace, name)
    if not kind.rest:
        raise SpecError(f"{kind.kind} cannot be read through a server yet")
    return client.request("GET", rest_path(kind, namespace, name))


def delete_remote(client: Any, kind: Kind, namespace: str, name: str) -> None:
    if kind.remote_delete is not None:
        kind.remote_delete(client, namespace, name)
    elif kind.rest:
        client.request("DELETE", rest_path(kind, namespace, name))
    else:
        raise SpecError(f"{kind.kind} cannot be deleted through a server yet")


def get_local(ctx: Context, kind: Kind, namespace: str, name: str) -> dict[str, Any]:
    found = kind.get(ctx, namespace, name)
    if found is None:
        where = f" in namespace {namespace!r}" if kind.namespaced else ""
        raise NotFoundError(f'{kind.kind.lower()} "{name}" not found{where}')
    return found


def delete_local(ctx: Context, kind: Kind, namespace: str, name: str) -> None:
    if not kind.delete(ctx, namespace, name):
        where = f" in namespace {namespace!r}" if kind.namespaced else ""
        raise NotFoundError(f'{kind.kind.lower()} "{name}" not found{where}')
