"""Invocations held until the shell answers: a template's locks (`synchronization`) and its
cache entry (`memoize`).

When a step or task calls a template with either, `check` creates the node Pending and asks the
shell (AcquireLock, then LookupCache, in Argo's order: the cache is read once the lock is held).
On the answers the node either ends at once (a cache hit: Succeeded with the cached outputs, no
pod) or the invocation is made again (`_open`): the held node gives way to the real one, under
the same id and at the same place among its parent's children. The real node's waiter is
wrapped so that, when it ends, its outputs are saved to the cache and its locks released.
"""
from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tiphys.engine import actions as A
from tiphys.engine import kinds, memo, phases, scope, sync, templates
from tiphys.engine.frames import Ctx, Frame
from tiphys.errors import TiphysError
from tiphys.expr import template as tpl

if TYPE_CHECKING:
    from tiphys.engine.frames import Interpreter as Engine


def held(eng: Engine) -> dict[str, Gate]:
    """`name:<node name>`, `node:<id>`, `lock:<holder>` -> a held invocation (in `eng.extras`)."""
    found = eng.extras.get("gates")
    if found is None:
        found = eng.extras["gates"] = {}
        eng.on_stop.append(stop)
    return found


@dataclass
class Gate:
    name: str
    display: str
    call: dict[str, Any]
    ctx: Ctx
    caller_scope: Any
    boundary: str | None
    parent: str | None
    waiter: Frame
    depth: int
    node_type: str
    memo: memo.Memo | None
    locks: tuple[str, ...]
    holder: str = ""
    node_id: str = ""
    stage: str = "lock"        # lock -> memo -> open
    place: int = -1            # index among the parent's children


def check(eng: Engine, name: str, display: str, call: dict[str, Any], ctx: Ctx, caller_scope: Any,
          boundary: str | None, parent: str | None, waiter: Frame, depth: int,
          tmpl: dict[str, Any], bound: dict[str, Any]) -> str | Gate | None:
    """None: nothing to wait for; a Gate: its wait is over, invoke on with `gate.waiter`; a node
    id: the invocation is held (or failed) as that node."""
    if not tmpl.get("memoize") and not tmpl.get("synchronization"):
        return None
    gate = held(eng).get(f"name:{name}")
    if gate is not None and gate.stage == "open":
        return gate
    kind = kinds.find(templates.kind_of(tmpl))
    node_type = kind.node_type if kind is not None else "Pod"
    tname = tmpl.get("name") or None
    sc = ChainMap(scope.template_locals(bound, tmpl, name), eng.globals)
    try:
        rendered = tpl.render_obj({k: tmpl[k] for k in ("memoize", "synchronization") if tmpl.get(k)}, sc)
        locks = sync.lock_names(rendered.get("synchronization"), sync.namespace(eng))
        cached = memo.parse(rendered["memoize"]) if rendered.get("memoize") else None
    except TiphysError as exc:
        nid = eng.error_node(name, display, boundary, parent, waiter, str(exc), tname, type_=node_type)
        eng.tree.invocation_errors.add(nid)
        return nid
    if not locks and cached is None:
        return None
    node = eng.new_node(name, display, node_type, template=tname, boundary=boundary, parent=parent,
                        phase=phases.PENDING, ctx=ctx, started=False)
    gate = Gate(name, display, call, ctx, caller_scope, boundary, parent, waiter, depth, node_type, cached, locks,
                node_id=node["id"])
    held(eng)[f"name:{name}"] = gate
    held(eng)[f"node:{node['id']}"] = gate
    if locks:
        gate.holder = sync.holder(eng, node["id"])
        held(eng)[f"lock:{gate.holder}"] = gate
        sync.acquire(eng, gate.holder, locks, tmpl.get("priority"))
    else:
        _lookup(eng, gate)
    return node["id"]


def _lookup(eng: Engine, gate: Gate) -> None:
    if gate.memo is None:
        _open(eng, gate)
        return
    gate.stage = "memo"
    eng.emit(A.LookupCache(gate.node_id, sync.namespace(eng), gate.memo.cache, gate.memo.key))


def on_event(eng: Engine, ev: A.CacheResult | A.LockWaiting | A.LockAcquired) -> None:
    if isinstance(ev, A.CacheResult):
        gate = held(eng).get(f"node:{ev.node_id}")
        if gate is None or gate.stage != "memo":
            return
        node = eng.nodes[gate.node_id]
        assert gate.memo is not None
        if ev.error:
            _end(eng, gate, phases.ERROR, ev.error)
        elif memo.hit(gate.memo, ev.entry, eng.now):
            node["memoizationStatus"] = gate.memo.status(True)
            outputs = (ev.entry or {}).get("outputs")
            if outputs:
                node["outputs"] = outputs
            _end(eng, gate, phases.SUCCEEDED, None)
        else:
            _open(eng, gate)
        return
    if sync.on_event(eng, ev):
        return
    gate = held(eng).get(f"lock:{ev.holder}")
    if gate is None or gate.stage != "lock":
        return
    node = eng.nodes[gate.node_id]
    if isinstance(ev, A.LockWaiting):
        node["message"] = ev.message
        node["synchronizationStatus"] = {"waiting": ev.lock}
        sync.waiting(eng, ev.holder, ev.lock)
        return
    node.pop("message", None)
    node.pop("synchronizationStatus", None)
    sync.acquired(eng, ev.holder)
    _lookup(eng, gate)


def _end(eng: Engine, gate: Gate, phase: str, message: str | None) -> None:
    """The held node ends without running (cache hit, cache error, stop)."""
    _forget(eng, gate)
    eng.tree.waiters[gate.node_id] = _Release(gate)
    eng.complete(gate.node_id, phase, message)


def _forget(eng: Engine, gate: Gate) -> None:
    for key in (f"name:{gate.name}", f"node:{gate.node_id}", f"lock:{gate.holder}"):
        held(eng).pop(key, None)


def _open(eng: Engine, gate: Gate) -> None:
    """Invoke again, now past the gate; the held node makes way for the real one."""
    gate.stage = "open"
    held(eng).pop(f"node:{gate.node_id}", None)
    held(eng).pop(f"lock:{gate.holder}", None)
    eng.tree.discard(gate.node_id)
    if gate.parent and gate.parent in eng.nodes:
        kids = eng.nodes[gate.parent].get("children") or []
        if gate.node_id in kids:
            gate.place = kids.index(gate.node_id)
            kids.remove(gate.node_id)
    eng.invoke(gate.name, gate.display, gate.call, gate.ctx, gate.caller_scope, gate.boundary, gate.parent,
               gate.waiter, depth=gate.depth)


def created(eng: Engine, name: str, nid: str) -> None:
    """The invocation past the gate made node `nid`: put it where the held node was."""
    gate = held(eng).pop(f"name:{name}", None)
    if gate is None:
        return
    if gate.parent and gate.place >= 0:
        kids = eng.nodes[gate.parent].get("children") or []
        if kids and kids[-1] == nid and gate.place < len(kids) - 1:
            kids.insert(gate.place, kids.pop())
    if gate.memo is not None:
        eng.nodes[nid]["memoizationStatus"] = gate.memo.status(False)
    if nid in eng.tree.waiters:
        eng.tree.waiters[nid] = _Release(gate, save=gate.memo is not None)
    elif nid in eng.nodes and phases.completed(eng.nodes[nid]["phase"]):
        # ended while being made (an error): its waiter is already queued; just let the locks go
        if gate.holder:
            sync.release(eng, gate.holder)


class _Release:
    """Wraps a gated node's waiter: on its end, save its outputs (memoize) and free its locks."""

    def __init__(self, gate: Gate, save: bool = False):
        self.gate, self.save = gate, save

    def child_done(self, eng: Engine, child_id: str) -> None:
        node = eng.nodes[child_id]
        gate = self.gate
        if self.save and gate.memo is not None and node["phase"] == phases.SUCCEEDED:
            eng.emit(A.SaveCache(child_id, sync.namespace(eng), gate.memo.cache, gate.memo.key,
                                       node.get("outputs")))
        if gate.holder:
            sync.release(eng, gate.holder)
        gate.waiter.child_done(eng, child_id)


def stop(eng: Engine, message: str) -> None:
    """A stop fails the nodes still held, and the workflow if it still waits for its locks."""
    seen: set[int] = set()
    for gate in list(held(eng).values()):
        if gate.stage == "open" or id(gate) in seen:
            continue
        seen.add(id(gate))
        if gate.holder:
            sync.release(eng, gate.holder)
            gate.holder = ""
        _end(eng, gate, phases.FAILED, message)
