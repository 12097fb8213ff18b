"""Daemon steps (`daemon: true`): a pod that serves the steps after it instead of finishing.

Argo's rules (operator.go): once its process runs (and is ready) the node stays `Running` with
`daemoned: true` and counts as fulfilled for whatever waits on it, so the next step group or
the dependent DAG tasks start (`X.Daemoned` and plain `X` in `depends` hold). When the steps
or DAG node it belongs to (its boundary) completes, whatever its phase, each daemon of that
boundary is stopped and marked Succeeded; the rest are stopped when the workflow ends. A
daemon that exits by itself ends as any pod would, except that exit code 0 is Failed
(a daemon is meant to run until released). A retried daemon's Retry node is daemoned as soon
as its current attempt is; a failed attempt is retried as usual.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiphys.engine import actions as A
from tiphys.engine import outputs, phases, pods

if TYPE_CHECKING:
    from tiphys.engine.frames import Ctx
    from tiphys.engine.frames import Interpreter as Engine

RELEASED = "daemon released: the steps it served completed"


def start(eng: Engine, node: dict[str, Any], tmpl: dict[str, Any], ctx: Ctx, sc: Any, bound: dict[str, Any],
          depth: int) -> None:
    """The start of a container or script template (kinds.py): a daemon's pod reads its exit here."""
    if not tmpl.get("daemon"):
        pods.queue(eng, node, tmpl, sc, bound)
        return
    nid = node["id"]
    pods.queue(eng, node, tmpl, sc, bound, on_exit=lambda info, ev: _exited(eng, nid, info, ev))


def _daemons(eng: Engine) -> dict[str, str | None]:
    """Daemoned node id -> its boundary; the first daemon makes the engine look after each batch."""
    found = eng.extras.get("daemons")
    if found is None:
        found = eng.extras["daemons"] = {}
        eng.on_settle.append(_settle)
    return found


def started(eng: Engine, ev: A.PodStarted) -> None:
    """A daemon pod's process is up: the node turns daemoned and its waiter moves on."""
    nid = ev.node_id
    node, info = eng.nodes.get(nid), eng.pods.info.get(nid)
    if node is None or info is None or not info["template"].get("daemon") or node.get("daemoned") \
            or phases.completed(node["phase"]):
        return
    if ev.ip:
        node["podIP"] = ev.ip
    mark(eng, nid)


def mark(eng: Engine, nid: str) -> None:
    """Node `nid` is daemoned: tell what waits on it, as if it had finished. A waiter with
    `child_daemoned` (a retry) decides itself; a node at the workflow's top (nothing inside a
    steps/DAG template waits for it) is released at once, as Argo does at the workflow's end."""
    node = eng.nodes[nid]
    node["daemoned"] = True
    _daemons(eng)[nid] = node.get("boundaryID")
    waiter = eng.tree.waiters.get(nid)
    if waiter is None:
        return
    on_daemoned = getattr(waiter, "child_daemoned", None)
    if on_daemoned is not None:
        on_daemoned(eng, nid)
    elif node.get("boundaryID") is None:
        release_node(eng, nid)
    else:
        eng.tree.done.append(nid)     # delivered like a completion: the waiter (popped then) moves on


def _settle(eng: Engine) -> bool:
    """After each batch: release the daemons whose steps/DAG node (boundary) completed, every
    one once the workflow ended."""
    found = _daemons(eng)
    for nid, boundary in list(found.items()):
        if eng.finished or (boundary is not None and phases.completed(eng.nodes[boundary]["phase"])):
            release_node(eng, nid)
    return False


def release_node(eng: Engine, nid: str) -> None:
    _daemons(eng).pop(nid, None)
    node = eng.nodes[nid]
    node.pop("daemoned", None)
    if phases.completed(node["phase"]):
        return
    if nid in eng.pods.info:
        eng.emit(A.StopPod(nid, RELEASED))
    eng.complete(nid, phases.SUCCEEDED)


def _exited(eng: Engine, nid: str, info: dict[str, Any], ev: A.PodExited) -> tuple[str, str | None, dict[str, Any]]:
    """A daemon's pod ended: read as any pod's, except that exit code 0 by itself is Failed; it
    is no longer daemoned."""
    phase, message, outs = outputs.for_pod(info, ev, eng.stopping)
    _daemons(eng).pop(nid, None)
    eng.nodes[nid].pop("daemoned", None)
    if phase == phases.SUCCEEDED and not ev.stopped:
        phase = phases.FAILED
    return phase, message, outs
