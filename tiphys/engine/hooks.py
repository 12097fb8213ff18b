"""Lifecycle hooks: the `hooks` of the workflow, a step or a DAG task, other than `exit`.

Argo evaluates each hook's `expression` (plain expr-lang over the global parameters, plus the
scope of the steps/DAG for a step's or task's hooks, `steps.X.status` / `tasks.X.status` among
them) at every reconciliation; once true, the hook's template runs as node
`<owner>.hooks.<name>` (a child of the owner, flagged `hooked`), once. The owner's completion
is reported to whoever waits for it only when every hook it triggered has completed, and the
workflow runs its exit handler and ends only when its triggered hooks have.

Tiphys reconciles after every batch of events (`Engine.on_settle`), so a step is always seen
Running once its pod started, and once more with its final phase.
"""
from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tiphys.engine import phases, scope
from tiphys.errors import TiphysError
from tiphys.expr import exprlang
from tiphys.expr import template as tpl
from tiphys.expr.exprlang import UnknownVariable

if TYPE_CHECKING:
    from tiphys.engine.frames import Ctx, Frame, Interpreter

WORKFLOW_STATUS = {phases.PENDING: "Pending", phases.RUNNING: "Running", phases.SUCCEEDED: "Succeeded",
                   phases.SKIPPED: "Succeeded", phases.OMITTED: "Succeeded", phases.FAILED: "Failed",
                   phases.ERROR: "Error"}


def lifecycle(hooks: Any) -> dict[str, dict[str, Any]]:
    """The hooks other than `exit`, by name."""
    if not isinstance(hooks, dict):
        return {}
    return {k: v for k, v in hooks.items() if k != "exit" and isinstance(v, dict)}


class Hooked:
    """One owner of lifecycle hooks (the workflow, or one step/task node) and what it triggered."""

    def __init__(self, hooks: dict[str, dict[str, Any]], owner_name: str, owner_display: str,
                 variables: Callable[[dict[str, Any]], dict[str, Any]], sc: Any, ctx: Ctx,
                 boundary: str | None, depth: int):
        self.hooks, self.owner_name, self.owner_display = hooks, owner_name, owner_display
        self.variables, self.scope, self.ctx, self.boundary, self.depth = variables, sc, ctx, boundary, depth
        self.owner_id: str | None = None
        self.fired: dict[str, str] = {}       # hook name -> its node id
        self.running: set[str] = set()        # hook nodes not completed yet
        self.ended = False                    # the owner completed and its last evaluation was made
        self.then: Callable[[], None] | None = None   # what to do once the owner and its hooks are done

    def evaluate(self, eng: Interpreter) -> bool:
        """Start the hooks whose expression is now true; whether any started."""
        owner = eng.nodes.get(self.owner_id or "")
        if owner is None or eng.stopping:
            return False
        started = False
        sc = ChainMap(self.variables(owner), self.scope)
        for name, hook in self.hooks.items():
            if name in self.fired:
                continue
            try:
                if not _true(hook.get("expression"), sc):
                    continue
                call = tpl.render_obj({k: v for k, v in hook.items() if k != "expression"}, sc)
            except TiphysError as exc:
                self.fired[name] = eng.error_node(f"{self.owner_name}.hooks.{name}",
                                                  f"{self.owner_display}.hooks.{name}", self.boundary,
                                                  owner["id"], _Waiter(self), f"hook {name!r}: {exc}")
                self.running.add(self.fired[name])
                started = True
                continue
            nid = eng.invoke(f"{self.owner_name}.hooks.{name}", f"{self.owner_display}.hooks.{name}", call,
                             self.ctx, sc, self.boundary, owner["id"], _Waiter(self), depth=self.depth + 1)
            eng.nodes[nid]["nodeFlag"] = {**(eng.nodes[nid].get("nodeFlag") or {}), "hooked": True}
            self.fired[name] = nid
            self.running.add(nid)     # its completion reaches `hook_done` when the tree drains
            started = True
        return started

    def hook_done(self, eng: Interpreter, nid: str) -> None:
        self.running.discard(nid)
        self._maybe_done()

    def owner_done(self, eng: Interpreter, then: Callable[[], None]) -> None:
        """The owner completed: evaluate once more with its final phase, then `then` once the
        hooks it triggered have completed."""
        self.evaluate(eng)
        self.ended = True
        self.then = then
        self._maybe_done()

    def _maybe_done(self) -> None:
        if self.ended and not self.running and self.then is not None:
            then, self.then = self.then, None
            then()


class _Waiter:
    def __init__(self, hooked: Hooked):
        self.hooked = hooked

    def child_done(self, eng: Interpreter, child_id: str) -> None:
        self.hooked.hook_done(eng, child_id)


def _true(expression: Any, sc: Any) -> bool:
    if expression in (None, ""):
        return False
    try:
        value = exprlang.evaluate(str(expression), tpl.expand(sc))
    except UnknownVariable:
        return False      # expr-lang over a map gives nil for a missing key: not true
    if not isinstance(value, bool):
        raise TiphysError(f"expression {expression!r} did not give a boolean")
    return value


class Registry:
    """The hooked owners of one workflow, evaluated each time the engine settles."""

    def __init__(self) -> None:
        self.live: list[Hooked] = []

    def settle(self, eng: Interpreter) -> bool:
        started = False
        for h in self.live:
            if not h.ended:
                started = h.evaluate(eng) or started
        self.live = [h for h in self.live if not h.ended]
        return started


def _registry(eng: Interpreter) -> Registry:
    found = eng.extras.get("hooks")
    if found is None:
        found = eng.extras["hooks"] = Registry()
        eng.on_settle.append(found.settle)
    return found


# ----------------------------------------------------------------------------- the workflow's hooks
def arm_workflow(eng: Interpreter) -> Hooked | None:
    hooks = lifecycle(eng.spec.get("hooks"))
    if not hooks:
        return None
    hooked = Hooked(hooks, eng.name, eng.name,
                    lambda root: {"workflow.status": WORKFLOW_STATUS.get(root["phase"], root["phase"])},
                    ChainMap(eng.globals), eng.local, None, 0)
    hooked.owner_id = eng.name if eng.name in eng.nodes else None
    _registry(eng).live.append(hooked)
    eng.extras["workflow-hooks"] = hooked
    return hooked


def workflow_done(eng: Interpreter, then: Callable[[], None]) -> None:
    """The entrypoint completed: run `then` (the exit handler, the end) after the workflow's hooks."""
    hooked: Hooked | None = eng.extras.get("workflow-hooks")
    if hooked is None or hooked.owner_id is None:
        then()
        return
    hooked.owner_done(eng, then)


# ----------------------------------------------------------------------------- a step's or task's hooks
def wrap(eng: Interpreter, waiter: Frame, step: dict[str, Any], name: str, display: str, prefix: str,
         sc: Any, ctx: Ctx, boundary: str | None, depth: int) -> tuple[Frame, Callable[[str], None]]:
    """The frame to wait for step/task `name` and a function to call with its node id once
    invoked: with lifecycle hooks, a frame that runs them and reports the step once they ended."""
    hooks = lifecycle(step.get("hooks"))
    if not hooks:
        return waiter, ignore
    key = f"{prefix}.{step.get('name', '')}"
    hooked = Hooked(hooks, name, display, lambda node: scope.node_vars(key, node), sc, ctx, boundary, depth)
    _registry(eng).live.append(hooked)
    return _StepHooks(waiter, hooked), lambda nid: setattr(hooked, "owner_id", nid)


def ignore(nid: str) -> None:
    return None


class _StepHooks:
    def __init__(self, parent: Frame, hooked: Hooked):
        self.parent, self.hooked = parent, hooked

    def child_done(self, eng: Interpreter, child_id: str) -> None:
        self.hooked.owner_id = child_id
        self.hooked.owner_done(eng, lambda: self.parent.child_done(eng, child_id))
