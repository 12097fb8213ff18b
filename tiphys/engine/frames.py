"""The seam between the interpreter and the template kinds: a leaf module.

A template kind (steps.py, dag.py, retry.py, pods.py, suspend.py, exit_hooks.py ...) is
handed an `Interpreter` and gives it back a `Frame`: the object told when one of the nodes it
started completes. Kinds import this module, never `core`, so the interpreter can import every
kind without a cycle, and adding a kind touches nothing but its own module and `kinds.py`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tiphys.engine.podqueue import PodQueue
    from tiphys.engine.tree import NodeTree


class Frame(Protocol):
    """Waits for the nodes it started: `child_done` runs once per completed child."""

    def child_done(self, eng: Interpreter, child_id: str) -> None: ...


class Ctx:
    """Where template names resolve: the workflow's templates or a (cluster) WorkflowTemplate's."""

    def __init__(self, templates: dict[str, dict[str, Any]], scope_name: str, kind: str = "local"):
        self.templates, self.scope_name, self.kind = templates, scope_name, kind


class Interpreter(Protocol):
    """What a template kind may use of the engine."""

    name: str                       # the workflow's name
    spec: dict[str, Any]            # its effective spec (workflowTemplateRef merged)
    globals: dict[str, Any]         # workflow-wide variables
    status: dict[str, Any]          # the workflow status being built
    nodes: dict[str, dict[str, Any]]
    tree: NodeTree
    pods: PodQueue
    local: Ctx
    now: float
    stopping: str | None            # why the workflow is stopping (None: it is not)
    extras: dict[str, Any]          # per-kind state, keyed by the kind's module name
    wf: dict[str, Any]              # the Workflow (metadata: namespace, creationTimestamp)
    finished: bool
    on_stop: list[Callable[[Any, str], None]]   # called with (engine, message) on a stop

    def begin(self) -> None: ...    # run the entrypoint (after the workflow's locks are taken)

    def invoke(self, name: str, display: str, call: dict[str, Any], ctx: Ctx, caller_scope: Any,
               boundary: str | None, parent: str | None, waiter: Frame, *, depth: int) -> str: ...

    def run_template(self, name: str, display: str, tmpl: dict[str, Any], ctx: Ctx, bound: dict[str, Any],
                     boundary: str | None, parent: str | None, waiter: Frame, *, depth: int,
                     retries: int | None = None) -> str: ...

    def resolve(self, call: dict[str, Any], ctx: Ctx) -> tuple[dict[str, Any], Ctx]: ...

    def set_timer(self, key: str, at: float, fire: Callable[[], None]) -> None: ...

    def cancel_timer(self, key: str) -> None: ...

    def emit(self, action: Any) -> None: ...

    def publish_globals(self, tmpl: dict[str, Any], outs: dict[str, Any] | None) -> None: ...

    def finish_workflow(self, phase: str, message: str | None) -> None: ...

    # node tree shortcuts (the same as `tree.*`)
    def new_node(self, name: str, display: str, type_: str, *, template: str | None, boundary: str | None,
                 parent: str | None, phase: str = ..., ctx: Ctx | None = None,
                 started: bool = True) -> dict[str, Any]: ...

    def complete(self, nid: str, phase: str, message: str | None = None) -> None: ...

    def error_node(self, name: str, display: str, boundary: str | None, parent: str | None, waiter: Frame,
                   message: str, template: str | None = None, type_: str = "Skipped") -> str: ...

    def skipped_node(self, name: str, display: str, boundary: str | None, parent: str, waiter: Frame,
                     phase: str, message: str, template: str | None = None) -> str: ...

    def outbound(self, nid: str) -> list[str]: ...

    def add_child(self, parent: str, child: str) -> None: ...
