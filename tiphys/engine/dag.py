"""DAG templates: tasks start when their `depends`/`dependencies` are met.

A task whose `depends` evaluates false is Omitted; `when` false gives Skipped; loops
expand under a TaskGroup node. The DAG's phase follows Argo's assessDAGPhase: only the
target (or leaf) tasks count, and Skipped/Omitted tasks inherit a failed parent's branch.
"""
from __future__ import annotations

from collections import ChainMap, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tiphys.engine import exit_hooks, hooks, loops, outputs, phases, scope, skipped
from tiphys.engine.podqueue import limit
from tiphys.engine.steps import evaluate_when
from tiphys.errors import ExpressionError, TiphysError
from tiphys.expr import depends
from tiphys.expr import template as tpl

if TYPE_CHECKING:
    from tiphys.engine.frames import Ctx
    from tiphys.engine.frames import Interpreter as Engine

_LOOP_KEYS = ("withItems", "withParam", "withSequence", "when", "depends", "dependencies", "continueOn")


def _expression(task: dict[str, Any]) -> str:
    if task.get("depends"):
        return str(task["depends"])
    if task.get("dependencies"):
        return depends.from_dependencies(list(task["dependencies"]))
    return ""


def start(eng: Engine, node: dict[str, Any], tmpl: dict[str, Any], ctx: Ctx, sc: ChainMap, bound: dict[str, Any],
          depth: int) -> None:
    DagFrame(eng, node, tmpl, ctx, sc, depth).start()


class DagFrame:
    def __init__(self, eng: Engine, node: dict[str, Any], tmpl: dict[str, Any], ctx: Ctx, sc: ChainMap,
                 depth: int):
        self.eng, self.node, self.tmpl, self.ctx, self.depth = eng, node, tmpl, ctx, depth
        self.vars: dict[str, Any] = {}
        self.scope = sc.new_child(self.vars)
        dag = tmpl.get("dag") or {}
        self.tasks = {t["name"]: t for t in dag.get("tasks") or []}
        self.exprs = {name: _expression(t) for name, t in self.tasks.items()}
        self.deps: dict[str, set[str]] = {}
        self.dependents: dict[str, list[str]] = {name: [] for name in self.tasks}
        self.error: str | None = None
        for name, expr in self.exprs.items():
            try:
                found = depends.task_names(expr) if expr else set()
            except ExpressionError as exc:
                self.error = f"task {name!r}: {exc}"
                found = set()
            missing = found - set(self.tasks)
            if missing:
                self.error = f"task {name!r} depends on unknown task(s) {sorted(missing)}"
            self.deps[name] = found & set(self.tasks)
            for d in self.deps[name]:
                self.dependents[d].append(name)
        # as Argo, the template's inputs and the globals are substituted before target is read
        self.targets = tpl.render(str(dag.get("target") or ""), sc).split()
        self.needed = self._needed(self.targets)
        self.task_node: dict[str, str] = {}
        self.node_task: dict[str, str] = {}
        self.finished: list[str] = []
        self.finished_set: set[str] = set()
        self.active: set[str] = set()
        self.parallelism = limit(tmpl.get("parallelism"))
        self.queue: deque[tuple[Any, ...]] = deque()

    def _needed(self, targets: list[str]) -> set[str]:
        if not targets:
            return set(self.tasks)
        needed: set[str] = set()
        stack = [t for t in targets if t in self.tasks]
        if len(stack) != len(targets):
            self.error = f"target {targets} names unknown tasks"
        while stack:
            t = stack.pop()
            if t not in needed:
                needed.add(t)
                stack.extend(self.deps.get(t, ()))
        return needed

    def start(self) -> None:
        if self.error:
            self.eng.complete(self.node["id"], phases.ERROR, self.error)
            return
        if not self.needed:
            self._finish()
            return
        for name in self.tasks:
            if name in self.needed and not self.deps[name]:
                self._consider(name)

    # ------------------------------------------------------------ scheduling
    def _consider(self, name: str) -> None:
        if name in self.task_node or not self.deps[name] <= self.finished_set:
            return
        eng, task = self.eng, self.tasks[name]
        node_name = f"{self.node['name']}.{name}"
        parents = list(dict.fromkeys(o for d in sorted(self.deps[name]) for o in eng.outbound(self.task_node[d]))) \
            or [self.node["id"]]
        if self.exprs[name]:
            try:
                ok = depends.evaluate(self.exprs[name], self._operand)
            except ExpressionError as exc:
                self._mark(name, eng.error_node(node_name, name, self.node["id"], parents[0], self, str(exc)), parents)
                return
            if not ok:
                nid = eng.skipped_node(node_name, name, self.node["id"], parents[0], self, phases.OMITTED,
                                       "omitted: depends condition not met", task.get("template"))
                self._mark(name, nid, parents)
                return
        if loops.has_loop(task):
            self._loop(name, node_name, task, parents)
            return
        self._start_one(node_name, name, task, self.scope, parents[0], self,
                        mark=lambda nid: self._mark(name, nid, parents))

    def _mark(self, name: str, nid: str, parents: list[str]) -> None:
        self.task_node[name] = nid
        self.node_task[nid] = name
        for p in parents[1:]:
            self.eng.add_child(p, nid)

    def _loop(self, name: str, node_name: str, task: dict[str, Any], parents: list[str]) -> None:
        eng = self.eng
        try:
            items = loops.expand(task, lambda v: tpl.render_obj(v, self.scope))
        except TiphysError as exc:
            self._mark(name, eng.error_node(node_name, name, self.node["id"], parents[0], self, str(exc)), parents)
            return
        if not items:  # as Argo: a looped task over nothing is Skipped
            self._mark(name, eng.skipped_node(node_name, name, self.node["id"], parents[0], self, phases.SKIPPED,
                                              "Skipped, empty params", task.get("template")), parents)
            return
        group = eng.new_node(node_name, name, "TaskGroup", template=task.get("template"),
                             boundary=self.node["id"], parent=parents[0])
        self._mark(name, group["id"], parents)
        eng.tree.waiters[group["id"]] = self
        frame = _LoopGroup(self, group["id"], task, len(items))
        for i, item in enumerate(items):
            label = loops.label(item)
            sc = self.scope.new_child(scope.item_vars(item))
            self._start_one(f"{node_name}({i}:{label})", f"{name}({i}:{label})", task, sc, group["id"], frame)

    def _start_one(self, node_name: str, display: str, task: dict[str, Any], sc: Any, parent: str,
                   waiter: Any, mark: Callable[[str], None] = lambda nid: None) -> None:
        """Start (or queue, under `parallelism`) one invocation; `mark` learns its node id."""
        eng = self.eng
        if task.get("when") is not None:
            try:
                ok, rendered = evaluate_when(task["when"], sc)
            except TiphysError as exc:
                mark(eng.error_node(node_name, display, self.node["id"], parent, waiter, str(exc)))
                return
            if not ok:
                mark(eng.skipped_node(node_name, display, self.node["id"], parent, waiter, phases.SKIPPED,
                                      f"when '{rendered}' evaluated false", task.get("template")))
                return
        try:
            call = skipped.render_call({k: v for k, v in task.items() if k not in _LOOP_KEYS}, sc)
        except TiphysError as exc:
            mark(eng.error_node(node_name, display, self.node["id"], parent, waiter, str(exc)))
            return
        waiter, hooked = hooks.wrap(eng, exit_hooks.wrap(waiter, task, sc), task, node_name, display, "tasks", sc,
                                    self.ctx, self.node["id"], self.depth)
        if hooked is not hooks.ignore:
            mark = _both(mark, hooked)
        if self.parallelism is not None and len(self.active) >= self.parallelism:
            self.queue.append((node_name, display, call, sc, parent, waiter, mark))
            return
        self._invoke(node_name, display, call, sc, parent, waiter, mark)

    def _invoke(self, node_name: str, display: str, call: dict[str, Any], sc: Any, parent: str, waiter: Any,
                mark: Callable[[str], None]) -> None:
        nid = self.eng.invoke(node_name, display, call, self.ctx, sc, self.node["id"], parent, waiter,
                              depth=self.depth + 1)
        mark(nid)
        if self.parallelism is not None:
            self.active.add(nid)

    def release(self, nid: str) -> None:
        """A started invocation finished: start queued ones under `parallelism`."""
        if nid not in self.active:
            return
        self.active.discard(nid)
        while self.queue and len(self.active) < (self.parallelism or 0):
            self._invoke(*self.queue.popleft())

    def _operand(self, task: str, result: str | None) -> bool:
        nid = self.task_node.get(task)
        if nid is None:
            raise ExpressionError(f"depends names task {task!r} that has not run")
        node = self.eng.nodes[nid]
        phase = node["phase"]
        if result is None:
            return phase in (phases.SUCCEEDED, phases.SKIPPED) or bool(node.get("daemoned")) or \
                phases.continues_on(self.tasks[task], phase)
        if result in ("AnySucceeded", "AllFailed"):
            kids = [self.eng.nodes[c]["phase"] for c in node.get("children") or [] if c in self.eng.nodes
                    and self.eng.nodes[c].get("boundaryID") == self.node["id"] and c not in self.node_task]
            if result == "AnySucceeded":
                return any(p == phases.SUCCEEDED for p in kids)
            return bool(kids) and all(p == phases.FAILED for p in kids)
        wanted = {"Succeeded": phases.SUCCEEDED, "Failed": phases.FAILED, "Errored": phases.ERROR,
                  "Skipped": phases.SKIPPED, "Omitted": phases.OMITTED}
        if result == "Daemoned":
            return bool(node.get("daemoned"))
        return phase == wanted[result]

    # ------------------------------------------------------------ completion
    def child_done(self, eng: Engine, child_id: str) -> None:
        name = self.node_task.get(child_id)
        if name is None or name in self.finished_set:
            return
        node = eng.nodes[child_id]
        self.release(child_id)
        self.finished.append(name)
        self.finished_set.add(name)
        if node["type"] == "TaskGroup":
            kids = [eng.nodes[c] for c in node.get("children") or [] if c not in self.node_task]
            self.vars.update(scope.aggregate_vars(f"tasks.{name}", node["phase"], kids, child_id))
        else:
            self.vars.update(skipped.node_vars(eng, f"tasks.{name}", node, self.tasks[name], self.ctx))
        for d in self.dependents[name]:
            if d in self.needed:
                self._consider(d)
        if len(self.finished) == len(self.needed):
            self._finish()

    def _finish(self) -> None:
        eng = self.eng
        targets = self.targets or \
            [n for n in self.tasks if n in self.needed and not any(d in self.needed for d in self.dependents[n])]
        self.node["outboundNodes"] = [o for t in targets if t in self.task_node for o in eng.outbound(self.task_node[t])]
        branch: dict[str, str] = {}
        for name in self.finished:
            phase = eng.nodes[self.task_node[name]]["phase"]
            if phase in (phases.SKIPPED, phases.OMITTED):
                bad = next((branch[d] for d in self.deps[name] if phases.failed_or_error(branch[d])), None)
                branch[name] = bad or phase
            else:
                branch[name] = phase
        for t in targets:
            phase = branch.get(t, phases.SUCCEEDED)
            if phases.failed_or_error(phase) and not phases.continues_on(self.tasks[t], phase):
                eng.complete(self.node["id"], branch[t])   # Argo's markNodePhase: no message
                return
        if eng.stopping:
            eng.complete(self.node["id"], phases.FAILED, eng.stopping)
            return
        outs, problems = outputs.for_template(self.tmpl, self.scope)
        if outs:
            self.node["outputs"] = outs
            eng.publish_globals(self.tmpl, outs)
        eng.complete(self.node["id"], phases.ERROR if problems else phases.SUCCEEDED, "; ".join(problems) or None)


def _both(first: Callable[[str], None], second: Callable[[str], None]) -> Callable[[str], None]:
    def mark(nid: str) -> None:
        first(nid)
        second(nid)
    return mark


class _LoopGroup:
    """Collects the expanded children of one looped DAG task into its TaskGroup node."""

    def __init__(self, dag: DagFrame, group_id: str, task: dict[str, Any], count: int):
        self.dag, self.group_id, self.task, self.pending = dag, group_id, task, count
        self.ctx, self.depth = dag.ctx, dag.depth

    def child_done(self, eng: Engine, child_id: str) -> None:
        self.pending -= 1
        self.dag.release(child_id)
        if self.pending:
            return
        kids = [eng.nodes[c] for c in eng.nodes[self.group_id].get("children") or []]
        bad = next((k for k in reversed(kids) if phases.failed_or_error(k["phase"])), None)
        if bad is not None:   # Argo marks the TaskGroup with its last failed child's phase, no message
            eng.complete(self.group_id, bad["phase"])
        else:
            eng.complete(self.group_id, phases.SUCCEEDED)
