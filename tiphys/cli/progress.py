"""Showing a workflow until it ends, for `watch`, `wait` and `submit --watch/--wait`, local or
against a server: the caller supplies the successive snapshots of the workflow (polled from
the store, or streamed from the server), this module presents them.

    follow(snapshots, ...)  the last snapshot, once it is completed; on a terminal the live node
                            tree on stdout, otherwise one progress line per change
    wait_line(wf)           argo wait's `NAME PHASE at TIME`
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

from tiphys.errors import NotFoundError

COMPLETED = frozenset({"Succeeded", "Failed", "Error"})


def phase(wf: dict) -> str:
    return (wf.get("status") or {}).get("phase") or "Pending"


def completed(wf: dict) -> bool:
    return phase(wf) in COMPLETED


def wait_line(wf: dict) -> str:
    status = wf.get("status") or {}
    return f"{(wf.get('metadata') or {}).get('name', '')} {phase(wf)} at {status.get('finishedAt') or '?'}"


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def follow(snapshots: Iterable[dict], *, live: bool | None = None, wide: bool = False,
           stream: IO[str] | None = None, name: str = "") -> dict:
    """Consume snapshots until one is completed and return it. `live`: draw the rich tree
    (default: when `stream` is a terminal); otherwise print a line whenever progress changes.
    With `live=False` and no stream nothing is printed (plain waiting)."""
    stream = stream if stream is not None else sys.stdout
    if live is None:
        live = _isatty(stream)
    if live:
        from tiphys.cli.live import LiveTree
        with LiveTree(stream, wide=wide) as tree:
            return _consume(snapshots, tree.update, name)
    return _consume(snapshots, _line_printer(stream), name)


def quietly(snapshots: Iterable[dict], name: str = "") -> dict:
    return _consume(snapshots, lambda wf: None, name)


def _line_printer(stream: IO[str]):
    from tiphys.cli import render
    last = [""]

    def show(wf: dict) -> None:
        line = render.progress_line(wf)
        if line != last[0]:
            last[0] = line
            stream.write(line + "\n")
            stream.flush()
    return show


def _consume(snapshots: Iterable[dict], show, name: str) -> dict:
    for wf in snapshots:
        show(wf)
        if completed(wf):
            return wf
    raise NotFoundError(f'workflow "{name}" disappeared before it completed (deleted?)')
