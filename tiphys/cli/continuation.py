"""A `tiphys run` that died (SIGKILL, a closed terminal, an OOM kill) and the command that
continues its workflow: `tiphys run --continue NAME`.

`tiphys run` is the workflow's controller. Like Argo's, it journals every input of the engine
(runtime/journal.py) and its steps run detached (executors/detached.py), so its death costs
no step: they run to their end. While it runs, it holds the workflow's lease (the store's
`leases` table) under an owner naming its process: "run:" + JSON {host, pid, start (clock
ticks since boot), boot id, executor}, so a later process can tell "it still runs" from "that
pid is someone else's now" (`gone`).

What an Argo user expects when the controller is down: the workflow stays Running (its steps
do run), and nothing is lost once a controller is back. So the phase stays Running; `tiphys
get/list/wait/watch` add a note (`status.message`, on display only) that its runner is gone
and how to continue it. `tiphys run --continue NAME` takes the lease over and resumes the
journal: steps still running are re-attached to (same attempt, same start time), steps that
ended meanwhile are collected, finished ones are never run again.
"""
from __future__ import annotations

import json
import os
import socket
from typing import Any

from tiphys.errors import SpecError
from tiphys.executors import detached

PREFIX = "run:"
FOREVER = 10 * 365 * 86400.0     # the lease of a `tiphys run` never lapses: its process is checked instead
HOST = socket.gethostname()


def owner(executor: str | None = None) -> str:
    """The lease owner naming this process."""
    ident = detached.identity(os.getpid())
    return PREFIX + json.dumps({"host": HOST, "pid": ident["pid"], "start": ident["start"],
                                "boot": ident["boot"], **({"executor": executor} if executor else {})},
                               separators=(",", ":"))


def parse(holder: str | None) -> dict[str, Any] | None:
    """The process a `tiphys run` lease owner names (None for any other owner)."""
    if not holder or not holder.startswith(PREFIX):
        return None
    try:
        found = json.loads(holder[len(PREFIX):])
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def gone(holder: str | None) -> bool:
    """Whether the lease owner is a `tiphys run` of this machine whose process ended (one of
    another machine sharing the store cannot be checked: it counts as alive)."""
    found = parse(holder)
    if found is None or found.get("host") != HOST:
        return False
    return not detached.alive(found)


def _holder(store: Any, namespace: str, name: str) -> str | None:
    return store.lease_owner(namespace, name)


def take(store: Any, namespace: str, name: str, executor: str | None = None) -> None:
    """Hold the workflow's lease for this process (taking it from a runner that is gone);
    a clear error when a live process runs it."""
    me = owner(executor)
    if store.claim(namespace, name, me, FOREVER):
        return
    holder = _holder(store, namespace, name)
    if holder is not None and not gone(holder):
        found = parse(holder)
        who = f"`tiphys run` process {found.get('pid')}" if found else f"controller {holder}"
        raise SpecError(f"workflow {namespace}/{name} is being run by {who}")
    if holder is not None:
        store.release(namespace, name, holder)
    if not store.claim(namespace, name, me, FOREVER):
        raise SpecError(f"workflow {namespace}/{name} was taken by another process meanwhile")


def let_go(store: Any, namespace: str, name: str) -> None:
    holder = _holder(store, namespace, name)
    if holder is not None and parse(holder) is not None and (parse(holder) or {}).get("pid") == os.getpid():
        store.release(namespace, name, holder)


def orphaned(store: Any, wf: dict[str, Any]) -> bool:
    """Whether `wf` is left Running/Pending by a `tiphys run` that is gone."""
    if ((wf.get("status") or {}).get("phase") or "Pending") not in ("Pending", "Running"):
        return False
    meta = wf.get("metadata") or {}
    return gone(_holder(store, meta.get("namespace") or "default", meta.get("name", "")))


def note(wf: dict[str, Any]) -> str:
    name = (wf.get("metadata") or {}).get("name", "")
    return (f"its `tiphys run` process is gone (its steps run on); continue it with "
            f"`tiphys run --continue {name}`")


def noted(store: Any, wf: dict[str, Any]) -> dict[str, Any]:
    """`wf` as shown: with the note in status.message when its runner is gone."""
    if not orphaned(store, wf):
        return wf
    return {**wf, "status": {**(wf.get("status") or {}), "message": note(wf)}}


def recorded_executor(store: Any, namespace: str, name: str) -> str | None:
    """The executor the dead runner used (recorded in its lease), for the continuation."""
    return (parse(_holder(store, namespace, name)) or {}).get("executor")
