"""A minimal `tiphys apply -f FILE|DIR [-n NS]` for the kinds of the events work
(CronWorkflow, EventSource, Sensor, WorkflowEventBinding) plus WorkflowTemplates, locally or
through a server. Branch s3's general `tiphys apply` (one kind table) replaces this command;
tiphys/events/kinds.py then registers the same four kinds with that table."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tiphys.errors import SpecError

TEMPLATES = ("WorkflowTemplate", "ClusterWorkflowTemplate")


def _files(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if p == "-" or path.is_file():
            out.append(p)
        elif path.is_dir():
            out += [str(f) for f in sorted(path.rglob("*")) if f.suffix in (".yaml", ".yml", ".json")]
        else:
            raise SpecError("no such file or directory", file=p)
    return out


def cmd_apply(args: argparse.Namespace) -> int:
    from tiphys.cli import home as state
    from tiphys.cli.run import load_manifests
    from tiphys.client.config import resolve
    from tiphys.events import kinds
    docs = []
    for file in _files(args.files):
        for m in load_manifests(file):
            where = f"{m.file}: document {m.index + 1}"
            if m.kind not in kinds.KINDS and m.kind not in TEMPLATES:
                known = ", ".join(sorted([*kinds.KINDS, *TEMPLATES]))
                raise SpecError(f"kind {m.kind!r} cannot be applied (known: {known})", file=where)
            body = dict(m.raw)
            meta = dict(body.get("metadata") or {})
            if not meta.get("name"):
                raise SpecError(f"a {m.kind} needs metadata.name", file=where, path="metadata.name")
            if meta.get("namespace") and args.namespace and meta["namespace"] != args.namespace:
                raise SpecError(f"the namespace from the provided object {meta['namespace']!r} does not match "
                                f"--namespace {args.namespace!r}", file=where)
            if m.kind != "ClusterWorkflowTemplate":
                meta["namespace"] = meta.get("namespace") or args.namespace or "default"
            body["metadata"] = meta
            docs.append((m.kind, body, where))
    if not docs:
        raise SpecError("no objects found", file=", ".join(args.files))
    if resolve(args) is not None:
        from tiphys.cli.remote import client
        with client(args) as c:
            lines = [_remote(c, kind, body, where) for kind, body, where in docs]
    else:
        with state.open_store() as store:
            for kind, body, where in docs:     # everything checked before anything is written
                try:
                    _check(store, kind, body)
                except SpecError as exc:
                    raise SpecError(str(exc), file=where) from None
            lines = [_local(store, kind, body) for kind, body, _ in docs]
    for line in lines:
        print(line)
    return 0


def _check(store: Any, kind: str, body: dict) -> None:
    from tiphys.events import kinds
    kinds.check(kind, body, store.registry)


def _local(store: Any, kind: str, body: dict) -> str:
    from tiphys.events import kinds
    meta = body["metadata"]
    existed = store.get_template(kind, meta["name"], meta.get("namespace")) is not None
    if kind in TEMPLATES:
        store.save_template(kind, body)
    else:
        kinds.apply_stored(store, kind, body)
    return f"{kind.lower()}/{meta['name']} {'configured' if existed else 'created'}"


def _remote(c: Any, kind: str, body: dict, where: str) -> str:
    from tiphys.client.errors import ServerNotFound, ServerRejected
    from tiphys.events import kinds
    meta = body["metadata"]
    try:
        if kind in TEMPLATES:
            ns = meta.get("namespace")
            try:
                c.get_template(kind, ns, meta["name"])
                c.update_template(kind, ns, meta["name"], body)
                action = "configured"
            except ServerNotFound:
                c.create_template(kind, ns, body)
                action = "created"
        else:
            action = kinds.remote_apply(c, kind, body)["action"]
    except ServerRejected as exc:
        raise SpecError(exc.message, file=where) from None
    return f"{kind.lower()}/{meta['name']} {action}"


def add_parser(sub: argparse._SubParsersAction, client_options: Any) -> None:
    p = sub.add_parser("apply", help="create or update CronWorkflows, EventSources, Sensors, "
                                     "WorkflowEventBindings and WorkflowTemplates from files")
    p.add_argument("-f", "--filename", dest="files", action="append", required=True, metavar="FILE|DIR")
    p.add_argument("-n", "--namespace")
    client_options(p)
    p.set_defaults(handler="applyevents:cmd_apply")
