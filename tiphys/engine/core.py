"""The engine: a pure, event-driven interpreter of one Workflow.

`Engine.start(now)` and `Engine.handle(events, now)` return the actions the shell must
perform (start or stop a pod, set a timer). The engine reads no clock, touches no file
and starts no process; the runtime feeds it events. See README.md beside this file for the
model, its costs and its invariants.

The engine owns invocation (a step, task or the workflow calling a template: inputs bound,
retryStrategy applied, the template's kind started), timers, stopping and the end of the
workflow. The node tree is `tree.NodeTree`, the pod queue `podqueue.PodQueue`, template lookup
`templates`, each template kind its own module (`kinds.KINDS`), exit handlers `exit_hooks`.
"""
from __future__ import annotations

import copy
from collections import ChainMap
from collections.abc import Callable
from typing import Any

from tiphys.engine import actions as A
from tiphys.engine import (admission, daemons, gates, hooks, inputs, kinds, names, outputs, phases, progress, results, retry,
                           scope, stuck, suspend, sync, templates)
from tiphys.engine.exit_hooks import RootFrame
from tiphys.engine.frames import Ctx, Frame
from tiphys.engine.podqueue import PodQueue
from tiphys.engine.tree import NodeTree
from tiphys.errors import SpecError, TiphysError
from tiphys.expr import exprfuncs
from tiphys.expr import template as tpl

MAX_RECURSION = 100    # Argo's maxStackDepth: the 100th nested template call errors
RECURSION_MESSAGE = ("Maximum recursion depth exceeded. See "
                     "https://argo-workflows.readthedocs.io/en/release-4.1/scaling/#maximum-recursion-depth")

Registry = templates.Registry


class Engine:
    def __init__(self, wf: dict[str, Any], *, now: float, registry: Registry | None = None,
                 preset: dict[str, dict[str, Any]] | None = None, preset_outputs: dict[str, Any] | None = None):
        """`preset`: the nodes of an earlier run of this workflow to keep (`argo retry`): a node
        whose id is there and Succeeded is taken over, with the nodes inside it, instead of run;
        `preset_outputs`: that run's workflow outputs (global parameters and artifacts)."""
        self.wf = wf
        self.registry: Registry = registry or (lambda kind, name: None)
        self.name: str = wf.setdefault("metadata", {})["name"]
        self.fatal: str | None = None    # why the workflow cannot start (it ends in Error)
        try:
            self.spec = templates.effective_spec(wf.get("spec") or {}, self.registry)
        except SpecError as exc:        # as Argo's controller: a missing workflowTemplateRef
            self.spec, self.fatal = {k: v for k, v in (wf.get("spec") or {}).items()
                                     if k != "workflowTemplateRef"}, str(exc)
        self.defaults = self.spec.get("templateDefaults") or {}
        self.local = Ctx({t["name"]: t for t in self.spec.get("templates") or []}, self.name)
        self.globals = scope.globals_for(wf, self.spec, now, self.configmap)
        self.status: dict[str, Any] = {"phase": phases.RUNNING, "startedAt": names.timestamp(now),
                                        "finishedAt": None, "progress": "0/0", "nodes": {}}
        wf["status"] = self.status
        self.nodes: dict[str, dict[str, Any]] = self.status["nodes"]
        self.tree = NodeTree(self.name, self.nodes, now)
        self.pods = PodQueue(self.tree, self.spec.get("parallelism"), bool(self.spec.get("suspend")))
        self.out: list[A.Action] = []
        self.timers: dict[str, Callable[[], None]] = {}
        self.extras: dict[str, Any] = {}          # per-kind state, keyed by the kind's module name
        self.on_stop: list[Callable[[Any, str], None]] = []   # kinds' own handling of a stop
        self.on_settle: list[Callable[[Any], bool]] = []      # run after each batch; True: it started nodes
        self.stopping: str | None = None
        self.user_stop = False                    # stopped by a user (not by the workflow deadline)
        self.skip_exit_handler = False            # terminated: no exit handler runs
        self.finished = False
        self.preset = preset or {}
        if preset_outputs:
            self._seed_globals(preset_outputs)

    # the node tree's clock and shortcuts: frames call these on the engine
    @property
    def now(self) -> float:
        return self.tree.now

    @now.setter
    def now(self, value: float) -> None:
        self.tree.now = value

    @property
    def suspended(self) -> bool:
        return self.pods.suspended

    @suspended.setter
    def suspended(self, value: bool) -> None:
        self.pods.suspended = value

    def new_node(self, *args: Any, **kw: Any) -> dict[str, Any]:
        return self.tree.new_node(*args, **kw)

    def complete(self, nid: str, phase: str, message: str | None = None) -> None:
        self.tree.complete(nid, phase, message)

    def error_node(self, *args: Any, **kw: Any) -> str:
        return self.tree.error_node(*args, **kw)

    def skipped_node(self, *args: Any, **kw: Any) -> str:
        return self.tree.skipped_node(*args, **kw)

    def outbound(self, nid: str) -> list[str]:
        return self.tree.outbound(nid)

    def add_child(self, parent: str, child: str) -> None:
        self.tree.add_child(parent, child)

    def resolve(self, call: dict[str, Any], ctx: Ctx) -> tuple[dict[str, Any], Ctx]:
        """The template `call` names, seen from `ctx`, with `templateDefaults` applied."""
        return templates.resolve(call, ctx, self.registry, self.defaults)

    def configmap(self, name: str) -> dict[str, Any] | None:
        """ConfigMap `name` of the workflow's namespace (through the registry), None if absent."""
        return self.registry("ConfigMap", name)

    def emit(self, action: A.Action) -> None:
        self.out.append(action)

    # ----------------------------------------------------------------- public API
    def start(self, now: float) -> list[A.Action]:
        with exprfuncs.clock_at(now):   # expressions' now() is the engine's clock
            return self._start(now)

    def handle(self, events: list[A.Event], now: float) -> list[A.Action]:
        with exprfuncs.clock_at(now):
            return self._handle(events, now)

    def _start(self, now: float) -> list[A.Action]:
        self.now = now
        if self.fatal:
            self.finish_workflow(phases.ERROR, self.fatal)
            return self._flush()
        if not sync.hold_workflow(self):     # else Pending: begin() once the workflow's locks are taken
            self.begin()
        return self._flush()

    def begin(self) -> None:
        now = self.now
        entry = self.spec.get("entrypoint")
        call = {"template": entry, "arguments": self.spec.get("arguments") or {}}
        self.invoke(self.name, self.name, call, self.local, ChainMap(self.globals), None, None,
                    RootFrame(), depth=0)
        hooks.arm_workflow(self)
        deadline = _int_or_none(self.spec.get("activeDeadlineSeconds"))
        if deadline is not None:
            self.set_timer("workflow-deadline", now + deadline, self._workflow_deadline)

    def _handle(self, events: list[A.Event], now: float) -> list[A.Action]:
        self.now = now
        for ev in events:
            if isinstance(ev, A.PodExited):
                self._pod_exited(ev)
            elif isinstance(ev, A.TimerFired):
                fire = self.timers.pop(ev.key, None)
                if fire:
                    fire()
            elif isinstance(ev, A.StopRequested):
                self.stop(ev.message, terminate=ev.terminate)
            elif isinstance(ev, A.PodStarted):
                daemons.started(self, ev)
            elif isinstance(ev, A.PodPending):
                admission.pending(self, ev)
            elif isinstance(ev, A.PodLost):
                self._pod_exited(A.PodExited(ev.node_id, None, error=ev.message))
            elif isinstance(ev, A.SuspendRequested):
                suspend.workflow_suspended(self, ev.suspended)
                self.admit()
            elif isinstance(ev, A.NodesResumed):
                suspend.resume_matching(self, ev.selector, phases.SUCCEEDED, None, {})
            elif isinstance(ev, A.NodesSet):
                suspend.set_matching(self, ev)
            elif isinstance(ev, A.GiveUp):
                stuck.give_up(self, ev.message)
            elif isinstance(ev, (A.CacheResult, A.LockWaiting, A.LockAcquired)):
                gates.on_event(self, ev)
            self.tree.drain(self)
        return self._flush()

    # ----------------------------------------------------------------- invocation
    def invoke(self, name: str, display: str, call: dict[str, Any], ctx: Ctx, caller_scope: Any,
               boundary: str | None, parent: str | None, waiter: Frame, *, depth: int) -> str:
        """Run the template a step/task (or the workflow) calls, as node `name`."""
        tname = call.get("template") or (call.get("templateRef") or {}).get("template") or ""
        if self.preset:
            kept = self._keep(name, parent, waiter)
            if kept is not None:
                return kept
        if self.stopping:
            return self.skipped_node(name, display, boundary, parent or "", waiter, phases.FAILED, self.stopping, tname) \
                if parent else self.error_node(name, display, boundary, parent, waiter, self.stopping)
        try:
            if depth + 1 >= MAX_RECURSION:
                raise SpecError(RECURSION_MESSAGE)
            tmpl, tctx = self.resolve(call, ctx)
            args = call.get("arguments") or {}
            bound = inputs.bind(tmpl, args, lambda key: caller_scope.get(key),
                                lambda v: tpl.render_obj(v, ChainMap(self.globals)), self.configmap)
        except TiphysError as exc:
            nid = self.error_node(name, display, boundary, parent, waiter, str(exc), tname or None)
            self.tree.invocation_errors.add(nid)
            return nid
        gate = gates.check(self, name, display, call, ctx, caller_scope, boundary, parent, waiter, depth, tmpl, bound)
        if isinstance(gate, str):
            return gate     # held for its locks or cache entry (gates.py invokes again)
        kind = kinds.find(templates.kind_of(tmpl))
        strategy = tmpl.get("retryStrategy", self.spec.get("retryStrategy"))
        if strategy is not None and kind is not None and kind.retryable:
            nid = retry.start(self, name, display, tmpl, tctx, bound, strategy, boundary, parent, waiter, depth)
        else:
            nid = self.run_template(name, display, tmpl, tctx, bound, boundary, parent, waiter, depth=depth)
            if call.get("templateRef"):
                self.nodes[nid]["templateRef"] = dict(call["templateRef"])
        if gate is not None:
            gates.created(self, name, nid)
        return nid

    def run_template(self, name: str, display: str, tmpl: dict[str, Any], ctx: Ctx, bound: dict[str, Any],
                     boundary: str | None, parent: str | None, waiter: Frame, *, depth: int,
                     retries: int | None = None) -> str:
        """Create the node of one run of `tmpl` and start its kind."""
        kind_name = templates.kind_of(tmpl)
        kind = kinds.find(kind_name)
        tname = tmpl.get("name") or ""
        if kind is None:
            return self.error_node(name, display, boundary, parent, waiter, kinds.unsupported(tmpl, kind_name), tname)
        local = scope.template_locals(bound, tmpl, name)
        for art_name, art in bound["artifacts"].items():
            if art is not None:
                local[f"inputs.artifacts.{art_name}"] = art
        if retries is not None:
            local["retries"] = str(retries)
        sc = ChainMap(local, self.globals)
        node = self.new_node(name, display, kind.node_type, template=tname, boundary=boundary, parent=parent,
                             ctx=ctx, phase=phases.PENDING if kind.queued else phases.RUNNING,
                             started=not kind.queued)
        self.tree.waiters[node["id"]] = waiter
        if bound["parameters"] or bound["artifacts"]:
            node["inputs"] = _inputs_status(bound, tmpl)
        results.remember(self, node, tmpl)
        kind.start(self, node, tmpl, ctx, sc, bound, depth)
        return node["id"]

    # ----------------------------------------------------------------- pods
    def admit(self) -> None:
        """Start the queued pods that may start now."""
        self.out.extend(self.pods.admit())

    def _pod_exited(self, ev: A.PodExited) -> None:
        info = self.pods.exited(ev.node_id)
        if info is None:
            return
        node = self.nodes[ev.node_id]
        finish = info.get("on_exit")   # a kind's own reading of its pod's exit (containerSet)
        phase, message, outs = finish(info, ev) if finish else outputs.for_pod(info, ev, self.stopping)
        if outs:
            node["outputs"] = outs
        if phase == phases.SUCCEEDED:
            self.publish_globals(info["template"], outs)
        if ev.unstarted and phase == phases.ERROR:
            self.tree.invocation_errors.add(ev.node_id)
        self.complete(ev.node_id, phase, message)
        self.admit()

    def publish_globals(self, tmpl: dict[str, Any], outs: dict[str, Any] | None) -> None:
        """Output parameters and artifacts with `globalName` become workflow outputs."""
        decls = (tmpl.get("outputs") or {})
        values = {p["name"]: p for p in (outs or {}).get("parameters") or []}
        for p in decls.get("parameters") or []:
            if p.get("globalName") and p["name"] in values and "value" in values[p["name"]]:
                value = values[p["name"]]["value"]
                self.globals[f"workflow.outputs.parameters.{p['globalName']}"] = value
                params = self.status.setdefault("outputs", {}).setdefault("parameters", [])
                params[:] = [x for x in params if x["name"] != p["globalName"]] + [{"name": p["globalName"], "value": value}]
        arts = {a["name"]: a for a in (outs or {}).get("artifacts") or []}
        for a in decls.get("artifacts") or []:
            if a.get("globalName") and a["name"] in arts:
                self.globals[f"workflow.outputs.artifacts.{a['globalName']}"] = arts[a["name"]]
                found = self.status.setdefault("outputs", {}).setdefault("artifacts", [])
                found[:] = [x for x in found if x["name"] != a["globalName"]] + [{**arts[a["name"]], "name": a["globalName"]}]

    # ----------------------------------------------------------------- retry: nodes kept from an earlier run
    def _seed_globals(self, old: dict[str, Any]) -> None:
        for p in old.get("parameters") or []:
            if "value" in p:
                self.globals[f"workflow.outputs.parameters.{p['name']}"] = p["value"]
        for a in old.get("artifacts") or []:
            self.globals[f"workflow.outputs.artifacts.{a['name']}"] = a
        self.status["outputs"] = copy.deepcopy(old)

    def _keep(self, name: str, parent: str | None, waiter: Frame) -> str | None:
        """Take over node `name` and the nodes inside it from the earlier run when it Succeeded
        there. Links to nodes outside it (a DAG task's dependents) are made again as they run."""
        nid = names.node_id(self.name, name)
        old = self.preset.get(nid)
        if old is None or old.get("phase") != phases.SUCCEEDED or nid in self.nodes or nid == self.name:
            return None
        inside = {k for k, n in self.preset.items() if k == nid or _within(n.get("name", ""), name)}
        for k in inside:
            node = copy.deepcopy(self.preset[k])
            if node.get("children"):
                node["children"] = [c for c in node["children"] if c in inside]
            self.tree.adopt(node)
        if parent:
            self.add_child(parent, nid)
        self.tree.waiters[nid] = waiter
        self.tree.done.append(nid)
        return nid

    # ----------------------------------------------------------------- timers, stop
    def set_timer(self, key: str, at: float, fire: Callable[[], None]) -> None:
        self.timers[key] = fire
        self.out.append(A.SetTimer(key, at))

    def cancel_timer(self, key: str) -> None:
        self.timers.pop(key, None)

    def _workflow_deadline(self) -> None:
        # as `argo stop`, not terminate: the exit handler still runs (its pods ignore the deadline)
        self.stop("Step exceeded its deadline", terminate=False)
        self.user_stop = False  # the workflow's message then comes from its entrypoint node

    def stop(self, message: str, *, terminate: bool) -> None:
        if self.finished:
            return
        self.stopping = message
        self.user_stop = True
        self.status["message"] = message
        for nid in self.pods.drop_queued():
            self.complete(nid, phases.FAILED, message)
        for nid in list(self.pods.running):
            self.out.append(A.StopPod(nid, message))
        for stop_kind in list(self.on_stop):
            stop_kind(self, message)
        for key in [k for k in self.timers if k.startswith("retry:")]:
            nid = key.split(":", 1)[1]
            self.timers.pop(key)
            if nid in self.nodes:
                self.complete(nid, phases.FAILED, message)
        if terminate:
            self.skip_exit_handler = True

    # ----------------------------------------------------------------- completion
    def _flush(self) -> list[A.Action]:
        """Deliver completions, then let lifecycle hooks (and anything else that reconciles)
        look at the settled tree, until nothing more happens."""
        self.tree.drain(self)
        while any([settle(self) for settle in list(self.on_settle)]) or self.tree.done:
            self.tree.drain(self)
        self.status["progress"] = self.tree.progress
        out, self.out = self.out, []
        return out

    def finish_workflow(self, phase: str, message: str | None) -> None:
        self.finished = True
        progress.fill(self.nodes)
        sync.workflow_finished(self)
        self.status["phase"] = phase
        self.status["finishedAt"] = names.timestamp(self.now)
        if message and phase != phases.SUCCEEDED:
            self.status["message"] = message
        elif phase == phases.SUCCEEDED:
            self.status.pop("message", None)
        self.timers.clear()


def _within(name: str, owner: str) -> bool:
    """Whether node `name` is inside node `owner` (Argo extends the owner's name)."""
    return len(name) > len(owner) and name.startswith(owner) and name[len(owner)] in ".(["


def _int_or_none(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _inputs_status(bound: dict[str, Any], tmpl: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if bound["parameters"]:
        found["parameters"] = [{"name": k, "value": v} for k, v in bound["parameters"].items()]
    arts = []
    decls = {a["name"]: a for a in (tmpl.get("inputs") or {}).get("artifacts") or [] if isinstance(a, dict)}
    for name, art in bound["artifacts"].items():
        if art is not None:
            arts.append({k: v for k, v in {**art, "name": name, "path": decls.get(name, {}).get("path")}.items()
                         if v is not None and k != inputs.KEYED})
        elif name in decls:   # an optional artifact not supplied: Argo lists it as declared
            arts.append(dict(decls[name]))
    if arts:
        found["artifacts"] = arts
    return found
