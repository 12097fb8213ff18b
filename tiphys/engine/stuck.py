"""Noticing a workflow that can make no progress, and ending it.

A workflow is stuck when it has not finished yet nothing can move it on: no step is queued
that may start or is running, no timer is pending, the user has not suspended it and no
suspend node waits for `argo resume`. Then nothing will ever send the engine an event, and a
run would wait for ever; the runtime asks `diagnose` after each batch and, when it answers,
hands the engine a `GiveUp` event, which `give_up` turns into an Error workflow.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tiphys.engine import names, phases

if TYPE_CHECKING:
    from tiphys.engine.core import Engine

SHOWN = 10     # stuck nodes named in the message


def diagnose(eng: Engine) -> str | None:
    """Why the workflow can make no progress, or None when it can (or has finished)."""
    if eng.finished or eng.tree.done:
        return None
    held = eng.extras.get("suspend")
    if eng.pods.running or eng.timers or (held is not None and held.nodes):
        return None
    if eng.pods.suspended or not _all_completed(eng, eng.pods.queued):
        return None
    if eng.extras.get("gates") or set(eng.extras.get("locks") or ()) - eng.extras.get("locks_held", set()):
        return None     # the shell has yet to answer a cache read or a lock request (gates.py, sync.py)
    waiting = waiting_nodes(eng)
    if not waiting:
        names = eng.name
    else:
        shown = [eng.nodes[n]["name"] for n in waiting[:SHOWN]]
        names = ", ".join(shown) + (f" and {len(waiting) - SHOWN} more" if len(waiting) > SHOWN else "")
    verb = "is" if len(waiting) == 1 else "are"
    noun = "node" if len(waiting) == 1 else "nodes"
    return f"workflow can make no progress: {noun} {names} {verb} waiting and nothing can start them"


def _all_completed(eng: Engine, ids: Iterable[str]) -> bool:
    return all(phases.completed(eng.nodes[n]["phase"]) for n in ids if n in eng.nodes)


def waiting_nodes(eng: Engine) -> list[str]:
    """The innermost unfinished nodes: unfinished, and neither the boundary nor the parent
    of another unfinished node."""
    unfinished = [nid for nid, node in eng.nodes.items() if not phases.completed(node["phase"])]
    outer: set[str] = set()
    for nid in unfinished:
        node = eng.nodes[nid]
        if node.get("boundaryID"):
            outer.add(node["boundaryID"])
        if any(c in eng.nodes and not phases.completed(eng.nodes[c]["phase"]) for c in node.get("children") or []):
            outer.add(nid)
    return [nid for nid in unfinished if nid not in outer]


def give_up(eng: Engine, message: str) -> None:
    """End a stuck workflow in Error: every unfinished node errors with `message`."""
    if eng.finished:
        return
    eng.pods.drop_queued()
    for nid, node in eng.nodes.items():
        if not phases.completed(node["phase"]):
            node["phase"] = phases.ERROR
            node["message"] = message
            node["finishedAt"] = names.timestamp(eng.now)
            if node.get("startedAt") is None:
                node["startedAt"] = node["finishedAt"]
    eng.tree.waiters.clear()
    eng.finish_workflow(phases.ERROR, message)

