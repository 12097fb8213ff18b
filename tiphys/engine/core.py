"""The engine: a pure, event-driven interpreter of one Workflow.

`Engine.start(now)` and `Engine.handle(events, now)` return the actions the shell must
perform (start or stop a pod, set a timer). The engine reads no clock, touches no file
and starts no process; the runtime feeds it events. Work per event does not grow with
the number of nodes already finished: each running template invocation owns a small
*frame* (steps.py, dag.py, retry.py) that is told when one of its children completes;
pods.py builds the pods the engine asks the shell to run; suspend.py opens and ends suspend nodes.

The status it maintains (`wf["status"]`) is Argo's shape, so it serialises as is.
"""
from __future__ import annotations

import copy
import json
from collections import ChainMap, deque
from collections.abc import Callable
from typing import Any, Protocol

from tiphys.engine import actions as A
from tiphys.engine import agent, inputs, names, phases, pods, scope, suspend
from tiphys.errors import SpecError, TiphysError
from tiphys.expr import template as tpl

MAX_RECURSION = 100    # Argo's maxStackDepth: the 100th nested template call errors
RECURSION_MESSAGE = ("Maximum recursion depth exceeded. See "
                     "https://argo-workflows.readthedocs.io/en/release-4.1/scaling/#maximum-recursion-depth")
TYPE_FIELDS = ("container", "script", "steps", "dag", "suspend", "resource", "http", "data",
               "containerSet", "plugin")
NODE_TYPES = {"container": "Pod", "script": "Pod", "steps": "Steps", "dag": "DAG", "suspend": "Suspend",
              **agent.NODE_TYPES}
QUEUED = ("container", "script", *agent.NODE_TYPES)   # kinds run as a step the shell starts

Registry = Callable[[str, str], "dict[str, Any] | None"]


class Frame(Protocol):
    def child_done(self, eng: Engine, child_id: str) -> None: ...


class Ctx:
    """Where template names resolve: the workflow's templates or a (cluster) WorkflowTemplate's."""

    def __init__(self, templates: dict[str, dict[str, Any]], scope_name: str, kind: str = "local"):
        self.templates, self.scope_name, self.kind = templates, scope_name, kind


class Engine:
    def __init__(self, wf: dict[str, Any], *, now: float, registry: Registry | None = None,
                 preset: dict[str, dict[str, Any]] | None = None, preset_outputs: dict[str, Any] | None = None):
        """`preset`: the nodes of an earlier run of this workflow to keep (`argo retry`): a node
        whose id is there and Succeeded is taken over, with the nodes inside it, instead of run;
        `preset_outputs`: that run's workflow outputs (global parameters and artifacts)."""
        self.wf = wf
        self.registry = registry or (lambda kind, name: None)
        meta = wf.setdefault("metadata", {})
        self.name: str = meta["name"]
        self.spec = self._effective_spec(wf.get("spec") or {})
        self.defaults = self.spec.get("templateDefaults") or {}
        self.local = Ctx({t["name"]: t for t in self.spec.get("templates") or []}, self.name)
        self.globals = scope.globals_for(wf, self.spec, now)
        self.status: dict[str, Any] = {"phase": phases.RUNNING, "startedAt": names.timestamp(now),
                                        "finishedAt": None, "progress": "0/0", "nodes": {}}
        wf["status"] = self.status
        self.nodes: dict[str, dict[str, Any]] = self.status["nodes"]
        self.now = now
        self.out: list[A.Action] = []
        self.waiters: dict[str, Frame] = {}
        self.done: deque[str] = deque()
        self.pods: dict[str, dict[str, Any]] = {}      # node id -> what handling its exit needs
        self.queued_pods: deque[str] = deque()
        self.running_pods: set[str] = set()
        self.timers: dict[str, Callable[[], None]] = {}
        self.parallelism = _int_or_none(self.spec.get("parallelism"))
        self.stopping: str | None = None
        self.finished = False
        self.pod_total = self.pod_done = 0
        self.invocation_errors: set[str] = set()   # nodes whose template could not even be called
        self.root_id = self.name
        self.static_templates: dict[int, tuple[dict[str, Any], bool]] = {}  # id -> (template, tagless)
        self.suspended = bool(self.spec.get("suspend"))
        self.open_suspends: dict[str, dict[str, Any]] = {}   # suspend node id -> its template
        self.supplied: dict[str, dict[str, str]] = {}        # suspend node id -> output parameters set
        self.preset = preset or {}
        self.wf_volumes: list[dict[str, Any]] | None = None   # what every pod mounts; set at the first pod
        if preset_outputs:
            self._seed_globals(preset_outputs)

    # ----------------------------------------------------------------- public API
    def start(self, now: float) -> list[A.Action]:
        self.now = now
        entry = self.spec.get("entrypoint")
        call = {"template": entry, "arguments": self.spec.get("arguments") or {}}
        self.invoke(self.name, self.name, call, self.local, ChainMap(self.globals), None, None,
                    _RootFrame(), depth=0)
        deadline = _int_or_none(self.spec.get("activeDeadlineSeconds"))
        if deadline is not None:
            self.set_timer("workflow-deadline", now + deadline, self._workflow_deadline)
        return self._flush()

    def handle(self, events: list[A.Event], now: float) -> list[A.Action]:
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
            elif isinstance(ev, A.PodLost):
                self._pod_exited(A.PodExited(ev.node_id, None, error=ev.message))
            elif isinstance(ev, A.SuspendRequested):
                self.suspended = ev.suspended
                self.admit()
            elif isinstance(ev, A.NodesResumed):
                suspend.resume_matching(self, ev.selector, phases.SUCCEEDED, None, {})
            elif isinstance(ev, A.NodesSet):
                suspend.set_matching(self, ev)
            self._drain()
        return self._flush()

    # ----------------------------------------------------------------- nodes
    def new_node(self, name: str, display: str, type_: str, *, template: str | None, boundary: str | None,
                 parent: str | None, phase: str = phases.RUNNING, ctx: Ctx | None = None,
                 started: bool = True) -> dict[str, Any]:
        nid = names.node_id(self.name, name)
        if nid in self.nodes:
            # fnv32a collides about once in 100,000 names: keep ids unique, deterministically
            k = 1
            while f"{nid}-{k}" in self.nodes:
                k += 1
            nid = f"{nid}-{k}"
        node: dict[str, Any] = {"id": nid, "name": name, "displayName": display, "type": type_,
                                "phase": phase, "startedAt": names.timestamp(self.now) if started else None}
        if template:
            node["templateName"] = template
        if ctx is not None and ctx.kind != "local":
            node["templateScope"] = f"{ctx.kind}/{ctx.scope_name}"
        elif template:
            node["templateScope"] = f"local/{self.name}"
        if boundary:
            node["boundaryID"] = boundary
        self.nodes[nid] = node
        if parent:
            self.add_child(parent, nid)
        return node

    def outbound(self, nid: str) -> list[str]:
        """The nodes a dependent attaches to (Argo's getOutboundNodes): a leaf is its own, a
        loop's are its children's, a retry's its last attempt, a steps/DAG node's are recorded
        in `outboundNodes` when it finishes."""
        node = self.nodes[nid]
        kind, kids = node["type"], node.get("children") or []
        if kind in ("Pod", "Skipped", "Suspend", "HTTP"):
            return [nid]
        if kind == "TaskGroup":
            return [o for c in kids for o in self.outbound(c)] or [nid]
        if kind == "Retry":
            return [kids[-1]] if kids else [nid]
        return node.get("outboundNodes") or [nid]

    def add_child(self, parent: str, child: str) -> None:
        """Link a child node; a node is linked to one parent once, so no search is needed."""
        self.nodes[parent].setdefault("children", []).append(child)

    def complete(self, nid: str, phase: str, message: str | None = None) -> None:
        node = self.nodes[nid]
        if phases.completed(node["phase"]):
            return
        node["phase"] = phase
        node["finishedAt"] = names.timestamp(self.now)
        if node.get("startedAt") is None:
            node["startedAt"] = node["finishedAt"]
        if message:
            node["message"] = message
        self.done.append(nid)

    def skipped_node(self, name: str, display: str, boundary: str | None, parent: str, waiter: Frame,
                     phase: str, message: str, template: str | None = None) -> str:
        node = self.new_node(name, display, "Skipped", template=template, boundary=boundary, parent=parent,
                             phase=phases.PENDING)
        self.waiters[node["id"]] = waiter
        self.complete(node["id"], phase, message)
        return node["id"]

    def error_node(self, name: str, display: str, boundary: str | None, parent: str | None, waiter: Frame,
                   message: str, template: str | None = None, type_: str = "Skipped") -> str:
        node = self.new_node(name, display, type_, template=template, boundary=boundary, parent=parent)
        self.waiters[node["id"]] = waiter
        self.complete(node["id"], phases.ERROR, message)
        return node["id"]

    # ----------------------------------------------------------------- templates
    def _effective_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        ref = spec.get("workflowTemplateRef")
        if not ref:
            return spec
        kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
        found = self.registry(kind, ref.get("name", ""))
        if found is None:
            raise SpecError(f"{kind} {ref.get('name')!r} not found", path="spec.workflowTemplateRef")
        base = copy.deepcopy(found.get("spec") or {})
        merged = {**base, **{k: v for k, v in spec.items() if k != "workflowTemplateRef"}}
        args = {p["name"]: p for p in (base.get("arguments") or {}).get("parameters") or []}
        for p in (spec.get("arguments") or {}).get("parameters") or []:
            args[p["name"]] = {**args.get(p["name"], {}), **p}
        if args:
            merged["arguments"] = {**(merged.get("arguments") or {}), "parameters": list(args.values())}
        merged["templates"] = list(base.get("templates") or []) + [
            t for t in spec.get("templates") or [] if t.get("name") not in {b.get("name") for b in base.get("templates") or []}]
        return merged

    def resolve(self, call: dict[str, Any], ctx: Ctx) -> tuple[dict[str, Any], Ctx]:
        if "inline" in call and call["inline"]:
            return self._with_defaults(call["inline"]), ctx
        ref = call.get("templateRef")
        if ref:
            kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
            found = self.registry(kind, ref.get("name", ""))
            if found is None:
                raise SpecError(f"{kind} {ref.get('name')!r} not found", path="templateRef")
            templates = {t["name"]: t for t in (found.get("spec") or {}).get("templates") or []}
            name = ref.get("template", "")
            if name not in templates:
                raise SpecError(f"template {name!r} not found in {kind} {ref.get('name')!r}", path="templateRef")
            return self._with_defaults(templates[name]), Ctx(templates, ref["name"],
                                                              "cluster" if ref.get("clusterScope") else "namespaced")
        name = call.get("template")
        if name not in ctx.templates:
            raise SpecError(f"template {name!r} not found", path="template")
        return self._with_defaults(ctx.templates[name]), ctx

    def _with_defaults(self, tmpl: dict[str, Any]) -> dict[str, Any]:
        if not self.defaults:
            return tmpl
        merged = copy.deepcopy(self.defaults)
        for k, v in tmpl.items():
            if isinstance(v, dict) and isinstance(merged.get(k), dict):
                merged[k] = {**merged[k], **v}
            else:
                merged[k] = v
        return merged

    def render(self, value: Any, sc: Any) -> Any:
        return tpl.render_obj(value, sc)

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
                                lambda v: self.render(v, ChainMap(self.globals)))
        except TiphysError as exc:
            nid = self.error_node(name, display, boundary, parent, waiter, str(exc), tname or None)
            self.invocation_errors.add(nid)
            return nid
        retry = tmpl.get("retryStrategy", self.spec.get("retryStrategy"))
        if retry is not None and any(k in tmpl for k in (*QUEUED, "steps", "dag")):
            from tiphys.engine import retry as retry_mod
            return retry_mod.start(self, name, display, tmpl, tctx, bound, retry, boundary, parent, waiter, depth)
        nid = self.run_template(name, display, tmpl, tctx, bound, boundary, parent, waiter, depth=depth)
        if call.get("templateRef"):
            self.nodes[nid]["templateRef"] = dict(call["templateRef"])
        return nid

    def run_template(self, name: str, display: str, tmpl: dict[str, Any], ctx: Ctx, bound: dict[str, Any],
                     boundary: str | None, parent: str | None, waiter: Frame, *, depth: int,
                     retries: int | None = None) -> str:
        kinds = [k for k in TYPE_FIELDS if k in tmpl]
        tname = tmpl.get("name") or ""
        if len(kinds) != 1 or kinds[0] not in NODE_TYPES:
            what = kinds[0] if kinds else "no type"
            return self.error_node(name, display, boundary, parent, waiter,
                                   f"template {tname!r}: {what} templates are not supported by Tiphys yet", tname)
        kind = kinds[0]
        local = scope.template_locals(bound, tmpl, name)
        for art_name, art in bound["artifacts"].items():
            if art is not None:
                local[f"inputs.artifacts.{art_name}"] = art
        if retries is not None:
            local["retries"] = str(retries)
        sc = ChainMap(local, self.globals)
        node = self.new_node(name, display, NODE_TYPES[kind], template=tname, boundary=boundary, parent=parent,
                             ctx=ctx, phase=phases.PENDING if kind in QUEUED else phases.RUNNING,
                             started=kind not in QUEUED)
        nid = node["id"]
        self.waiters[nid] = waiter
        if bound["parameters"] or bound["artifacts"]:
            node["inputs"] = _inputs_status(bound, tmpl)
        if kind in ("container", "script"):
            pods.queue(self, node, tmpl, sc, bound)
        elif kind in agent.NODE_TYPES:
            agent.queue(self, node, tmpl, sc, bound)
        elif kind == "steps":
            from tiphys.engine import steps
            steps.StepsFrame(self, node, tmpl, ctx, sc, depth).start()
        elif kind == "dag":
            from tiphys.engine import dag
            dag.DagFrame(self, node, tmpl, ctx, sc, depth).start()
        else:
            suspend.start(self, node, tmpl, sc)
        return nid

    # ----------------------------------------------------------------- pods
    def admit(self) -> None:
        """Start queued pods while the workflow is not suspended and `parallelism` allows."""
        if self.suspended:
            return
        while self.queued_pods and (self.parallelism is None or len(self.running_pods) < self.parallelism):
            nid = self.queued_pods.popleft()
            node, info = self.nodes[nid], self.pods[nid]
            if phases.completed(node["phase"]):
                continue
            node["phase"] = phases.RUNNING
            node["startedAt"] = names.timestamp(self.now)
            node["podName"] = info["pod"]
            self.running_pods.add(nid)
            self.out.append(pods.start_action(nid, info))

    def _pod_exited(self, ev: A.PodExited) -> None:
        info = self.pods.pop(ev.node_id, None)
        if info is None:
            return
        self.running_pods.discard(ev.node_id)
        self.pod_done += info["is_pod"]
        node = self.nodes[ev.node_id]
        from tiphys.engine import outputs
        judge = outputs.for_pod if "container" in info["template"] or "script" in info["template"] else agent.outcome
        phase, message, outs = judge(info, ev, self.stopping)
        if outs:
            node["outputs"] = outs
        if phase == phases.SUCCEEDED:
            self.publish_globals(info["template"], outs)
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
            self.nodes[k] = node
            if node.get("type") == "Pod":
                self.pod_total += 1
                self.pod_done += 1
        if parent:
            self.add_child(parent, nid)
        self.waiters[nid] = waiter
        self.done.append(nid)
        return nid

    # ----------------------------------------------------------------- timers, stop
    def set_timer(self, key: str, at: float, fire: Callable[[], None]) -> None:
        self.timers[key] = fire
        self.out.append(A.SetTimer(key, at))

    def _workflow_deadline(self) -> None:
        self.stop("Step exceeded its deadline", terminate=True)
        self.user_stop = False  # the workflow's message then comes from its entrypoint node

    def stop(self, message: str, *, terminate: bool) -> None:
        if self.finished:
            return
        self.stopping = message
        self.user_stop = True
        self.status["message"] = message
        for nid in list(self.queued_pods):
            self.pods.pop(nid, None)
            self.complete(nid, phases.FAILED, message)
        self.queued_pods.clear()
        for nid in list(self.running_pods):
            self.out.append(A.StopPod(nid, message))
        for nid in list(self.open_suspends):
            self.open_suspends.pop(nid)
            self.timers.pop(f"resume:{nid}", None)
            self.complete(nid, phases.FAILED, message)
        for key in [k for k in self.timers if k.startswith(("resume:", "retry:"))]:
            nid = key.split(":", 1)[1]
            self.timers.pop(key)
            node = self.nodes.get(nid)
            if node is not None:
                self.complete(nid, phases.FAILED, message)
        if terminate:
            self.skip_exit_handler = True

    skip_exit_handler = False
    user_stop = False

    # ----------------------------------------------------------------- completion
    def _drain(self) -> None:
        while self.done:
            nid = self.done.popleft()
            waiter = self.waiters.pop(nid, None)
            if waiter is not None:
                waiter.child_done(self, nid)

    def _flush(self) -> list[A.Action]:
        self._drain()
        self.status["progress"] = f"{self.pod_done}/{self.pod_total}"
        out, self.out = self.out, []
        return out

    def finish_workflow(self, phase: str, message: str | None) -> None:
        self.finished = True
        self.status["phase"] = phase
        self.status["finishedAt"] = names.timestamp(self.now)
        if message and phase != phases.SUCCEEDED:
            self.status["message"] = message
        elif phase == phases.SUCCEEDED:
            self.status.pop("message", None)
        self.timers.clear()


class _RootFrame:
    """Waits for the entrypoint node, then runs the workflow's exit handler."""

    def child_done(self, eng: Engine, child_id: str) -> None:
        node = eng.nodes[child_id]
        phase = node["phase"]
        main = phases.SUCCEEDED if phase in (phases.SKIPPED, phases.OMITTED) else phase
        message = node.get("message") if main != phases.SUCCEEDED else None
        if eng.stopping:
            main = phases.FAILED if main == phases.SUCCEEDED else main
            message = eng.stopping if eng.user_stop or not message else message
        handler = eng.spec.get("onExit") or ((eng.spec.get("hooks") or {}).get("exit") or {}).get("template")
        hook = (eng.spec.get("hooks") or {}).get("exit")
        if (not handler and not hook) or eng.skip_exit_handler:
            eng.finish_workflow(main, message)
            return
        eng.globals["workflow.status"] = main
        eng.globals["workflow.failures"] = json.dumps(scope.compact(_failures(eng)))
        eng.globals["workflow.duration"] = str(eng.now - names.parse_timestamp(eng.status["startedAt"]))
        eng.stopping = None
        call = {"template": handler} if eng.spec.get("onExit") else dict(hook)
        eng.invoke(f"{eng.name}.onExit", f"{eng.name}.onExit", call, eng.local, ChainMap(eng.globals),
                   None, None, _ExitFrame(main, message), depth=0)


class _ExitFrame:
    def __init__(self, main: str, message: str | None):
        self.main, self.message = main, message

    def child_done(self, eng: Engine, child_id: str) -> None:
        node = eng.nodes[child_id]
        if self.main == phases.SUCCEEDED and phases.failed_or_error(node["phase"]):
            eng.finish_workflow(node["phase"], node.get("message"))
        else:
            eng.finish_workflow(self.main, self.message)


def _failures(eng: Engine) -> list[dict[str, Any]]:
    """Argo's failedNodeStatus list: every Failed/Error node, whatever its type."""
    found = []
    for node in eng.nodes.values():
        if phases.failed_or_error(node["phase"]):
            tname = node.get("templateName") or (node.get("templateRef") or {}).get("template", "")
            found.append({"displayName": node["displayName"], "message": node.get("message", ""),
                          "templateName": tname, "phase": node["phase"],
                          "podName": names.pod_name(eng.name, node["name"], tname),
                          "finishedAt": node.get("finishedAt")})
    return found


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
    paths = {a["name"]: a.get("path") for a in (tmpl.get("inputs") or {}).get("artifacts") or []}
    for name, art in bound["artifacts"].items():
        if art is not None:
            arts.append({k: v for k, v in {**art, "name": name, "path": paths.get(name)}.items() if v is not None})
    if arts:
        found["artifacts"] = arts
    return found
