"""`tiphys apply -f FILE|DIR`, `tiphys get|delete KIND NAME` (ConfigMaps, Secrets, templates and
the kinds of tiphys/objects/kinds.py), on the store of $TIPHYS_HOME or, with --server /
TIPHYS_SERVER, through the server. A Secret is shown with its key names only."""
from __future__ import annotations

import argparse
from typing import Any

from tiphys.cli import home as state
from tiphys.objects import apply as objects
from tiphys.objects import kinds


def _server(args: argparse.Namespace) -> Any:
    from tiphys.client.config import resolve
    cfg = resolve(args)
    if cfg is None:
        return None
    from tiphys.client.api import Client
    return Client(cfg)


def cmd_apply(args: argparse.Namespace) -> int:
    docs = objects.load(args.files, args.namespace)
    client = _server(args)
    if client is not None:
        with client:
            lines = objects.apply_remote(client, docs)
    else:
        home = state.home_dir()
        with state.open_store(home) as store:
            lines = objects.apply_local(kinds.Context(store, home), docs)
    for line in lines:
        print(line)
    return 0


def is_kind_form(words: list[str]) -> bool:
    """`get|delete KIND NAME...`: a known kind name followed by names."""
    if len(words) < 2:
        return False
    try:
        kinds.by_name(words[0])
    except Exception:  # noqa: BLE001 - not a kind: a workflow name
        return False
    return True


def cmd_get(args: argparse.Namespace) -> int:
    kind = kinds.by_name(args.name)
    ns = args.namespace or "default"
    client = _server(args)
    if client is not None:
        with client:
            found = objects.get_remote(client, kind, ns, args.object)
    else:
        home = state.home_dir()
        with state.open_store(home) as store:
            found = objects.get_local(kinds.Context(store, home), kind, ns, args.object)
    if args.output == "name":
        state.out(f"{kind.kind.lower()}/{args.object}")
    else:
        state.out(state.dump(found, args.output if args.output in ("json", "yaml") else "yaml"))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    kind = kinds.by_name(args.names[0])
    ns = args.namespace or "default"
    client = _server(args)
    if client is not None:
        with client:
            for name in args.names[1:]:
                objects.delete_remote(client, kind, ns, name)
                print(f'{kind.kind.lower()} "{name}" deleted')
        return 0
    home = state.home_dir()
    with state.open_store(home) as store:
        for name in args.names[1:]:
            objects.delete_local(kinds.Context(store, home), kind, ns, name)
            print(f'{kind.kind.lower()} "{name}" deleted')
    return 0
