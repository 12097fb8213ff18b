"""Exit handlers: the workflow's `onExit` (or `hooks.exit`) and a step's or task's exit hook.

`RootFrame` waits for the entrypoint node, then runs the workflow's exit handler with
`workflow.status` and `workflow.failures` set (`ExitFrame` then ends the workflow); `HookFrame`
runs a step's or task's exit hook once it finished, then tells the frame that called the step.
"""
from __future__ import annotations

import json
from collections import ChainMap
from typing import TYPE_CHECKING, Any

from tiphys.engine import hooks, names, phases, scope
from tiphys.errors import TiphysError
from tiphys.expr import template as tpl

if TYPE_CHECKING:
    from tiphys.engine.frames import Frame, Interpreter


def exit_hook(step: dict[str, Any]) -> dict[str, Any] | None:
    """The exit hook of a step or task (`hooks.exit`, or the older `onExit`), None without one."""
    hook = (step.get("hooks") or {}).get("exit")
    if hook:
        return hook
    if step.get("onExit"):
        return {"template": step["onExit"]}
    return None


def workflow_exit_call(spec: dict[str, Any]) -> dict[str, Any] | None:
    if spec.get("onExit"):
        return {"template": spec["onExit"]}
    hook = (spec.get("hooks") or {}).get("exit")
    return dict(hook) if hook else None


# Argo's workflow message when the entry or exit template itself errs (not one of its children)
ENTRY_ERROR = "error in entry template execution: "
EXIT_ERROR = "error in exit template execution: "


class RootFrame:
    """Waits for the entrypoint node and the lifecycle hooks it triggered, then runs the
    workflow's exit handler."""

    def child_done(self, eng: Interpreter, child_id: str) -> None:
        hooks.workflow_done(eng, lambda: self._main_done(eng, child_id))

    def _main_done(self, eng: Interpreter, child_id: str) -> None:
        node = eng.nodes[child_id]
        phase = node["phase"]
        main = phases.SUCCEEDED if phase in (phases.SKIPPED, phases.OMITTED) else phase
        message = node.get("message") if main != phases.SUCCEEDED else None
        if child_id in eng.tree.invocation_errors:   # the entry template itself could not run
            message = f"{ENTRY_ERROR}{message or ''}"
        if eng.stopping:
            main = phases.FAILED if main == phases.SUCCEEDED else main
            message = eng.stopping if eng.user_stop or not message else message
        call = workflow_exit_call(eng.spec)
        if call is None or eng.skip_exit_handler:
            eng.finish_workflow(main, message)
            return
        eng.globals["workflow.status"] = main
        eng.globals["workflow.failures"] = json.dumps(scope.compact(eng.tree.failures(eng.name)))
        eng.globals["workflow.duration"] = str(eng.now - names.parse_timestamp(eng.status["startedAt"]))
        eng.stopping = None
        try:   # the hook's arguments see workflow.status, workflow.failures... as in Argo
            call = tpl.render_obj(call, ChainMap(eng.globals))
        except TiphysError as exc:
            eng.finish_workflow(phases.ERROR, str(exc))
            return
        _hooked(eng, eng.invoke(f"{eng.name}.onExit", f"{eng.name}.onExit", call, eng.local, ChainMap(eng.globals),
                                None, None, ExitFrame(main, message), depth=0))


class ExitFrame:
    def __init__(self, main: str, message: str | None):
        self.main, self.message = main, message

    def child_done(self, eng: Interpreter, child_id: str) -> None:
        node = eng.nodes[child_id]
        if child_id in eng.tree.invocation_errors:   # the exit template itself could not run
            eng.finish_workflow(phases.ERROR, f"{EXIT_ERROR}{node.get('message') or ''}")
        elif self.main == phases.SUCCEEDED and phases.failed_or_error(node["phase"]):
            eng.finish_workflow(node["phase"], node.get("message"))
        else:
            eng.finish_workflow(self.main, self.message)


class HookFrame:
    """Runs a step's or task's exit hook after it finishes, then tells the parent frame."""

    def __init__(self, parent: Any, step: dict[str, Any], sc: Any):
        self.parent, self.step, self.scope = parent, step, sc
        self.main_id: str | None = None

    def child_done(self, eng: Interpreter, child_id: str) -> None:
        if self.main_id is not None:
            self.parent.child_done(eng, self.main_id)
            return
        self.main_id = child_id
        node = eng.nodes[child_id]
        hook = exit_hook(self.step) or {}
        sc = self.scope.new_child({"steps.status": node["phase"], "tasks.status": node["phase"],
                                   **scope.node_vars(f"steps.{self.step.get('name')}", node),
                                   **scope.node_vars(f"tasks.{self.step.get('name')}", node)})
        try:
            call = tpl.render_obj(hook, sc)
        except TiphysError as exc:
            eng.error_node(f"{node['name']}.onExit", f"{node['displayName']}.onExit", node.get("boundaryID"),
                           child_id, self, str(exc))
            return
        _hooked(eng, eng.invoke(f"{node['name']}.onExit", f"{node['displayName']}.onExit", call, self.parent.ctx,
                                sc, node.get("boundaryID"), child_id, self, depth=self.parent.depth + 1))


def _hooked(eng: Interpreter, nid: str | None) -> None:
    """Argo flags the node an exit handler or exit hook runs as (`nodeFlag.hooked`)."""
    node = eng.nodes.get(nid) if nid else None
    if node is not None:
        node["nodeFlag"] = {**(node.get("nodeFlag") or {}), "hooked": True}


def wrap(waiter: Frame, step: dict[str, Any], sc: Any) -> Frame:
    """The frame to wait for a step or task: its parent's, behind its exit hook if it has one."""
    return HookFrame(waiter, step, sc) if exit_hook(step) else waiter
