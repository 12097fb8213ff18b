"""Argo's `synchronization`: the locks a workflow or template needs, and how waiting for and
holding them shows in the status.

Locks are shared between workflows, so the engine cannot decide who gets one: it asks the shell
with an AcquireLock action (holder `<ns>/<wf>` for the workflow, `<ns>/<wf>/<nodeID>` for a
node), hears LockWaiting while the lock is taken and LockAcquired once it has it, and gives it
back with ReleaseLock. The shell's lock manager (runtime/locks.py) keeps the queue. A workflow
waiting for its locks is Pending; a node waiting for its own is kept by gates.py.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiphys.engine import actions as A
from tiphys.engine import phases
from tiphys.errors import SpecError
from tiphys.expr import template as tpl

if TYPE_CHECKING:
    from tiphys.engine.frames import Interpreter as Engine


def namespace(eng: Engine) -> str:
    return (eng.wf.get("metadata") or {}).get("namespace") or "default"


def lock_names(block: dict[str, Any] | None, ns: str) -> tuple[str, ...]:
    """`<ns>/Mutex/<name>` and `<ns>/ConfigMap/<cm>/<key>` for every mutex and semaphore of a
    (rendered) `synchronization` block, the singular `mutex`/`semaphore` fields included."""
    if not block:
        return ()
    found: list[str] = []
    mutexes = list(block.get("mutexes") or []) + ([block["mutex"]] if block.get("mutex") else [])
    semaphores = list(block.get("semaphores") or []) + ([block["semaphore"]] if block.get("semaphore") else [])
    for m in mutexes:
        if not isinstance(m, dict) or not m.get("name"):
            raise SpecError("synchronization: a mutex needs a name")
        kind = "Database" if m.get("database") else "Mutex"
        found.append(f"{m.get('namespace') or ns}/{kind}/{m['name']}")
    for s in semaphores:
        ref = (s or {}).get("configMapKeyRef") if isinstance(s, dict) else None
        if not ref or not ref.get("name") or not ref.get("key"):
            what = "database semaphores are" if isinstance(s, dict) and s.get("database") else "a semaphore needs"
            raise SpecError(f"synchronization: {what} "
                            + ("not supported by Tiphys" if "database" in what else "configMapKeyRef {name, key}"))
        found.append(f"{s.get('namespace') or ns}/ConfigMap/{ref['name']}/{ref['key']}")
    return tuple(dict.fromkeys(found))


def wants(eng: Engine) -> dict[str, tuple[str, ...]]:
    """Lock holder -> the locks it asked for (kept in `eng.extras`)."""
    found = eng.extras.get("locks")
    if found is None:
        found = eng.extras["locks"] = {}
        eng.extras["locks_held"] = set()
        eng.on_stop.append(workflow_stopped)
    return found


def holding(eng: Engine) -> set[str]:
    wants(eng)
    return eng.extras["locks_held"]


def holder(eng: Engine, node_id: str | None = None) -> str:
    base = f"{namespace(eng)}/{eng.name}"
    return f"{base}/{node_id}" if node_id else base


def acquire(eng: Engine, who: str, locks: tuple[str, ...], priority: Any = None) -> None:
    try:
        prio = int(priority if priority is not None else eng.spec.get("priority") or 0)
    except (TypeError, ValueError):
        prio = 0
    created = (eng.wf.get("metadata") or {}).get("creationTimestamp") or eng.status.get("startedAt") or ""
    eng.emit(A.AcquireLock(who, locks, prio, created))
    wants(eng)[who] = locks


def _short(who: str) -> str:
    """What Argo's status names a holder: the workflow's name, or the node's id."""
    return who.rsplit("/", 1)[-1]


def _section(eng: Engine, lock: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    kind = "mutex" if "/ConfigMap/" not in lock else "semaphore"
    status = eng.status.setdefault("synchronization", {}).setdefault(kind, {})
    return status.setdefault("holding", []), status.setdefault("waiting", []), kind


def _add(entries: list[dict[str, Any]], kind: str, lock: str, who: str) -> None:
    if kind == "mutex":
        if not any(e["mutex"] == lock and e["holder"] == who for e in entries):
            entries.append({"mutex": lock, "holder": who})
        return
    for e in entries:
        if e["semaphore"] == lock:
            if who not in e["holders"]:
                e["holders"].append(who)
            return
    entries.append({"semaphore": lock, "holders": [who]})


def _remove(entries: list[dict[str, Any]], kind: str, lock: str, who: str) -> None:
    if kind == "mutex":
        entries[:] = [e for e in entries if not (e["mutex"] == lock and e["holder"] == who)]
        return
    for e in entries:
        if e["semaphore"] == lock and who in e["holders"]:
            e["holders"].remove(who)
    entries[:] = [e for e in entries if kind == "mutex" or e["holders"]]


def waiting(eng: Engine, who: str, lock: str) -> None:
    _, wait, kind = _section(eng, lock)
    _add(wait, kind, lock, _short(who))
    _tidy(eng)


def acquired(eng: Engine, who: str) -> None:
    for lock in wants(eng).get(who, ()):
        hold, wait, kind = _section(eng, lock)
        _remove(wait, kind, lock, _short(who))
        _add(hold, kind, lock, _short(who))
    holding(eng).add(who)
    _tidy(eng)


def release(eng: Engine, who: str) -> None:
    """Give back what `who` holds, or stop waiting for it."""
    locks = wants(eng).pop(who, None)
    if locks is None:
        return
    holding(eng).discard(who)
    for lock in locks:
        hold, wait, kind = _section(eng, lock)
        _remove(hold, kind, lock, _short(who))
        _remove(wait, kind, lock, _short(who))
    eng.emit(A.ReleaseLock(who))
    _tidy(eng)


def _tidy(eng: Engine) -> None:
    status = eng.status.get("synchronization") or {}
    for kind in list(status):
        for part in list(status[kind]):
            if not status[kind][part]:
                del status[kind][part]
        if not status[kind]:
            del status[kind]
    if not status:
        eng.status.pop("synchronization", None)


# --------------------------------------------------------------------- the workflow's own locks
def hold_workflow(eng: Engine) -> bool:
    """Whether the workflow must first take the locks of `spec.synchronization` (then it is
    Pending and `begin()` runs on LockAcquired)."""
    block = eng.spec.get("synchronization")
    if not block:
        return False
    try:
        locks = lock_names(tpl.render_obj(block, eng.globals), namespace(eng))
    except SpecError as exc:
        eng.finish_workflow(phases.ERROR, str(exc))
        return True
    if not locks:
        return False
    eng.status["phase"] = phases.PENDING
    acquire(eng, holder(eng), locks)
    return True


def on_event(eng: Engine, ev: A.LockWaiting | A.LockAcquired) -> bool:
    """Handle a lock event for the workflow itself; False when it is a node's."""
    if ev.holder != holder(eng) or ev.holder not in wants(eng):
        return False
    if eng.finished or ev.holder in holding(eng):
        return True
    if isinstance(ev, A.LockWaiting):
        eng.status["message"] = ev.message
        waiting(eng, ev.holder, ev.lock)
        return True
    acquired(eng, ev.holder)
    eng.status["phase"] = phases.RUNNING
    eng.status.pop("message", None)
    eng.begin()
    return True


def workflow_stopped(eng: Engine, message: str) -> None:
    """A stop while the workflow still waits for its locks ends it at once."""
    who = holder(eng)
    if who in wants(eng) and who not in holding(eng):
        release(eng, who)
        eng.finish_workflow(phases.FAILED, message)


def workflow_finished(eng: Engine) -> None:
    if "locks" not in eng.extras:
        return
    for who in list(wants(eng)):
        release(eng, who)
