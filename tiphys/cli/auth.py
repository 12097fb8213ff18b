"""`tiphys auth token create|list|delete`: bearer tokens for `tiphys server --auth-mode client`.

The token is printed once, on stdout alone (so `TOKEN=$(tiphys auth token create -n argo)`
works); the store keeps its SHA-256 digest only. Clients send `Authorization: Bearer <token>`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tiphys import auth
from tiphys.cli import home as state


def cmd_create(args: argparse.Namespace) -> int:
    namespaces = list(args.namespaces) + ([auth.ALL] if args.all_namespaces else [])
    with store_of(args) as store:
        token_id, token = auth.create_token(store, namespaces, args.description)
    if args.output:
        info = {"id": token_id, "token": token, "namespaces": auth.check_namespaces(namespaces),
                "description": args.description}
        state.out(state.dump(info, args.output))
        return 0
    print(token)
    print(f"tiphys: token {token_id} for namespaces {', '.join(auth.check_namespaces(namespaces))}; it is shown "
          "only now. Send it as 'Authorization: Bearer <token>' (Hera: WorkflowsService(token=...))",
          file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with store_of(args) as store:
        tokens = store.list_tokens()
    if args.output:
        state.out(state.dump(tokens, args.output))
        return 0
    rows = [(t["id"], ",".join(t["namespaces"]), t.get("createdAt") or "", t.get("description") or "")
            for t in tokens]
    if not args.no_headers:
        rows.insert(0, ("ID", "NAMESPACES", "CREATED", "DESCRIPTION"))
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(3)]
    for r in rows:
        state.out("   ".join([r[i].ljust(widths[i]) for i in range(3)] + [r[3]]).rstrip())
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with store_of(args) as store:
        for token_id in args.ids:
            auth.delete_token(store, token_id)
            print(f"token {token_id} deleted")
    return 0


def store_of(args: argparse.Namespace, home: Path | None = None) -> Any:
    """--store URL (as tiphys server --store), else $TIPHYS_HOME/tiphys.db."""
    if getattr(args, "store", None):
        from tiphys.store import open_store
        return open_store(args.store)
    return state.open_store(home)
