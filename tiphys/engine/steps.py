"""Steps templates: a list of groups run one after another, the steps of a group in parallel.

A group's loops expand into sibling nodes; `when` false gives a Skipped node; the group
fails when a child Failed/Errored without a matching `continueOn`, and then no later group runs.
"""
from __future__ import annotations

from collections import ChainMap, deque
from typing import TYPE_CHECKING, Any

from tiphys.engine import exit_hooks, hooks, loops, outputs, phases, scope, skipped
from tiphys.engine.podqueue import limit
from tiphys.errors import TiphysError
from tiphys.expr import govaluate
from tiphys.expr import template as tpl

if TYPE_CHECKING:
    from tiphys.engine.frames import Ctx
    from tiphys.engine.frames import Interpreter as Engine


def start(eng: Engine, node: dict[str, Any], tmpl: dict[str, Any], ctx: Ctx, sc: ChainMap, bound: dict[str, Any],
          depth: int) -> None:
    StepsFrame(eng, node, tmpl, ctx, sc, depth).start()


def evaluate_when(when: Any, sc: Any) -> tuple[bool, str]:
    rendered = tpl.render(str(when), sc)
    return govaluate.evaluate_when(rendered), rendered


class StepsFrame:
    def __init__(self, eng: Engine, node: dict[str, Any], tmpl: dict[str, Any], ctx: Ctx, sc: ChainMap,
                 depth: int):
        self.eng, self.node, self.tmpl, self.ctx, self.depth = eng, node, tmpl, ctx, depth
        self.vars: dict[str, Any] = {}
        self.scope = sc.new_child(self.vars)
        self.groups = tmpl.get("steps") or []
        self.index = -1
        self.group_id = ""
        self.prev_children: list[str] = []
        self.children: dict[str, dict[str, Any]] = {}
        self.pending = 0
        self.queue: deque[tuple[str, str, dict[str, Any], Any]] = deque()
        self.running = 0
        self.parallelism = limit(tmpl.get("parallelism"))
        self.fail_fast = bool(tmpl.get("failFast"))
        self.failed = False

    def start(self) -> None:
        self._next_group()

    def _next_group(self) -> None:
        eng = self.eng
        self.index += 1
        if self.index >= len(self.groups):
            self._finish(phases.SUCCEEDED, None)
            return
        name = f"{self.node['name']}[{self.index}]"
        # Argo makes a step group with an empty WorkflowStep: no templateName, but a scope
        group = eng.new_node(name, f"[{self.index}]", "StepGroup", template=None, ctx=self.ctx,
                             boundary=self.node["id"], parent=None if self.prev_children else self.node["id"])
        for prev in self.prev_children:
            eng.add_child(prev, group["id"])
        self.group_id = group["id"]
        self.children, self.pending, self.failed = {}, 0, False
        for step in self.groups[self.index] or []:
            self._expand(step, name)
        if self.pending == 0:
            self._group_done()

    def _expand(self, step: dict[str, Any], group_name: str) -> None:
        sname = step.get("name", "")
        base = f"{group_name}.{sname}"
        if not loops.has_loop(step):
            self._launch(base, sname, step, None)
            return
        try:
            items = loops.expand(step, lambda v: tpl.render_obj(v, self.scope))
        except TiphysError as exc:
            self.pending += 1
            self.running += 1  # child_done counts it down
            nid = self.eng.error_node(base, sname, self.node["id"], self.group_id, self, str(exc))
            self.children[nid] = step
            return
        if not items:  # as Argo: a looped step over nothing is one Skipped node
            self.pending += 1
            self.running += 1
            nid = self.eng.skipped_node(base, sname, self.node["id"], self.group_id, self, phases.SKIPPED,
                                        "Skipped, empty params", step.get("template"))
            self.children[nid] = step
            return
        for i, item in enumerate(items):
            label = loops.label(item)
            self._launch(f"{base}({i}:{label})", f"{sname}({i}:{label})", step, (item,))

    def _launch(self, name: str, display: str, step: dict[str, Any], item: tuple[Any] | None) -> None:
        self.pending += 1
        sc = self.scope.new_child(scope.item_vars(item[0])) if item is not None else self.scope
        if self.parallelism is not None and self.running >= self.parallelism:
            self.queue.append((name, display, step, sc))
            return
        self._run(name, display, step, sc)

    def _run(self, name: str, display: str, step: dict[str, Any], sc: Any) -> None:
        eng = self.eng
        self.running += 1
        if step.get("when") is not None:
            try:
                ok, rendered = evaluate_when(step["when"], sc)
            except TiphysError as exc:
                nid = eng.error_node(name, display, self.node["id"], self.group_id, self, str(exc))
                self.children[nid] = step
                return
            if not ok:
                nid = eng.skipped_node(name, display, self.node["id"], self.group_id, self, phases.SKIPPED,
                                       f"when '{rendered}' evaluated false", step.get("template"))
                self.children[nid] = step
                return
        try:
            call = skipped.render_call({k: v for k, v in step.items() if k not in ("withItems", "withParam", "withSequence", "when")}, sc)
        except TiphysError as exc:
            nid = eng.error_node(name, display, self.node["id"], self.group_id, self, str(exc))
            self.children[nid] = step
            return
        waiter, hooked = hooks.wrap(eng, exit_hooks.wrap(self, step, sc), step, name, display, "steps", sc,
                                    self.ctx, self.node["id"], self.depth)
        nid = eng.invoke(name, display, call, self.ctx, sc, self.node["id"], self.group_id, waiter,
                         depth=self.depth + 1)
        hooked(nid)
        self.children[nid] = step

    def child_done(self, eng: Engine, child_id: str) -> None:
        self.pending -= 1
        self.running -= 1
        node = eng.nodes[child_id]
        step = self.children[child_id]
        if phases.failed_or_error(node["phase"]) and not phases.continues_on(step, node["phase"]):
            self.failed = True
            if self.fail_fast:
                self.pending -= len(self.queue)
                self.queue.clear()
        while self.queue and (self.parallelism is None or self.running < self.parallelism):
            self._run(*self.queue.popleft())
        if self.pending == 0:
            self._group_done()

    def _group_done(self) -> None:
        eng = self.eng
        by_step: dict[str, list[dict[str, Any]]] = {}
        looped: set[str] = set()
        failed_child = None
        for cid, step in self.children.items():
            node = eng.nodes[cid]
            by_step.setdefault(step.get("name", ""), []).append(node)
            if loops.has_loop(step):
                looped.add(step.get("name", ""))
            if phases.failed_or_error(node["phase"]) and not phases.continues_on(step, node["phase"]):
                failed_child = failed_child or node
        for sname, nodes in by_step.items():
            prefix = f"steps.{sname}"
            if sname in looped:
                self.vars.update(scope.aggregate_vars(prefix, _aggregate_phase(nodes), nodes, nodes[0]["id"]))
            else:
                self.vars.update(skipped.node_vars(eng, prefix, nodes[0], self.children[nodes[0]["id"]], self.ctx))
        for step in self.groups[self.index] or []:
            if loops.has_loop(step) and step.get("name") not in by_step:
                self.vars.update(scope.aggregate_vars(f"steps.{step.get('name')}", phases.SUCCEEDED, [], ""))
        self.prev_children = [o for c in self.children for o in eng.outbound(c)] or [self.group_id]
        broken = next((eng.nodes[c] for c in self.children if c in eng.tree.invocation_errors), None)
        if broken is not None:
            msg = f"step group deemed errored due to child {broken['name']} error: {broken.get('message', '')}"
            eng.complete(self.group_id, phases.ERROR, msg)
            self._finish(phases.FAILED, msg)
            return
        if failed_child is not None:
            msg = f"child '{failed_child['id']}' failed"
            eng.complete(self.group_id, phases.FAILED, msg)
            self._finish(phases.FAILED, msg)
            return
        eng.complete(self.group_id, phases.SUCCEEDED)
        if eng.stopping:
            self._finish(phases.FAILED, eng.stopping)
            return
        self._next_group()

    def _finish(self, phase: str, message: str | None) -> None:
        eng = self.eng
        if self.index >= 0:
            self.node["outboundNodes"] = self.prev_children if self.index >= len(self.groups) else \
                [o for c in self.children for o in eng.outbound(c)] or [self.group_id]
        if phase == phases.SUCCEEDED:
            outs, problems = outputs.for_template(self.tmpl, self.scope)
            if outs:
                self.node["outputs"] = outs
                eng.publish_globals(self.tmpl, outs)
            if problems:
                phase, message = phases.ERROR, "; ".join(problems)
        eng.complete(self.node["id"], phase, message)


def _aggregate_phase(nodes: list[dict[str, Any]]) -> str:
    return next((n["phase"] for n in nodes if phases.failed_or_error(n["phase"])), phases.SUCCEEDED)
