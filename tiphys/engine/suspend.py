"""Suspend nodes: open until their `duration` passes or `argo resume` / `argo node set` ends them.

The open suspend nodes and the output parameters `argo node set` gives them before they end
are this kind's own state (`Open`, kept in `eng.extras`); a stopping workflow fails them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiphys.engine import actions as A
from tiphys.engine import durations, nodesel, phases
from tiphys.errors import TiphysError
from tiphys.expr import template as tpl

if TYPE_CHECKING:
    from tiphys.engine.frames import Ctx
    from tiphys.engine.frames import Interpreter as Engine


class Open:
    """The suspend nodes still open (id -> template) and what `argo node set` gave them."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.supplied: dict[str, dict[str, str]] = {}

    def stop(self, eng: Engine, message: str) -> None:
        for nid in list(self.nodes):
            self.nodes.pop(nid)
            eng.cancel_timer(f"resume:{nid}")
            eng.complete(nid, phases.FAILED, message)


def workflow_suspended(eng: Engine, value: bool) -> None:
    """`argo suspend` / `argo resume` of the whole workflow: start no new pod while suspended.
    The engine owns `spec.suspend` of the workflow it reports, as Argo's controller shows the
    field its clients patched."""
    eng.pods.suspended = value
    spec = eng.wf.setdefault("spec", {})
    if value:
        spec["suspend"] = True
    else:
        spec.pop("suspend", None)


def open_nodes(eng: Engine) -> Open:
    found = eng.extras.get("suspend")
    if found is None:
        found = eng.extras["suspend"] = Open()
        eng.on_stop.append(found.stop)
    return found


def start(eng: Engine, node: dict[str, Any], tmpl: dict[str, Any], ctx: Ctx, sc: Any, bound: dict[str, Any],
          depth: int) -> None:
    nid = node["id"]
    state = open_nodes(eng)
    state.nodes[nid] = tmpl
    duration = (tmpl.get("suspend") or {}).get("duration")
    if duration in (None, ""):
        return
    try:
        secs = durations.seconds(tpl.render_obj(duration, sc), "suspend.duration")
    except TiphysError as exc:
        state.nodes.pop(nid, None)
        eng.complete(nid, phases.ERROR, str(exc))
        return
    eng.set_timer(f"resume:{nid}", eng.now + secs, lambda: _elapsed(eng, nid))


def _elapsed(eng: Engine, nid: str) -> None:
    """The duration passed: the node succeeds, unless a `supplied` output was never set and has
    no default, which errs the node as Argo's executeSuspend does."""
    state = open_nodes(eng)
    tmpl, given = state.nodes.get(nid) or {}, state.supplied.get(nid, {})
    for p in (tmpl.get("outputs") or {}).get("parameters") or []:
        vf = p.get("valueFrom") or {}
        if "supplied" in vf and vf.get("default") is None and p.get("value") is None and p["name"] not in given:
            state.nodes.pop(nid, None)
            state.supplied.pop(nid, None)
            eng.tree.invocation_errors.add(nid)
            eng.complete(nid, phases.ERROR,
                         f"raw output parameter '{p['name']}' has not been set and does not have a default value")
            return
    resume(eng, nid, phases.SUCCEEDED, None)


def resume(eng: Engine, nid: str, phase: str, message: str | None, params: dict[str, str] | None = None) -> None:
    """End a suspend node; its output parameters come from `argo node set` (supplied) or
    their `valueFrom.default`."""
    state = open_nodes(eng)
    tmpl = state.nodes.pop(nid, None)
    if tmpl is None:
        return
    eng.cancel_timer(f"resume:{nid}")
    values = {**state.supplied.pop(nid, {}), **(params or {})}
    found = []
    for p in (tmpl.get("outputs") or {}).get("parameters") or []:
        vf = p.get("valueFrom") or {}
        if p["name"] in values:
            value = values[p["name"]]
        elif vf.get("default") is not None:
            value = vf["default"]
        elif p.get("value") is not None:
            value = p["value"]
        else:
            continue
        found.append({"name": p["name"], "value": str(value), **({"valueFrom": vf} if vf else {})})
    if found:
        eng.nodes[nid]["outputs"] = {"parameters": found}
        eng.publish_globals(tmpl, eng.nodes[nid]["outputs"])
    eng.complete(nid, phase, message)


def resume_matching(eng: Engine, selector: str, phase: str, message: str | None, params: dict[str, str]) -> None:
    for nid in _matching(eng, selector):
        resume(eng, nid, phase, message, params)


def set_matching(eng: Engine, ev: A.NodesSet) -> None:
    params = dict(ev.output_parameters)
    for nid in _matching(eng, ev.selector):
        if ev.phase and phases.completed(ev.phase):
            resume(eng, nid, ev.phase, ev.message, params)
            continue
        open_nodes(eng).supplied.setdefault(nid, {}).update(params)
        if ev.message:
            eng.nodes[nid]["message"] = ev.message
        if params:
            shown = {**{p["name"]: p["value"] for p in (eng.nodes[nid].get("outputs") or {}).get("parameters") or []},
                     **params}
            eng.nodes[nid]["outputs"] = {"parameters": [{"name": k, "value": v} for k, v in shown.items()]}


def _matching(eng: Engine, selector: str) -> list[str]:
    try:
        terms = nodesel.parse(selector)
    except TiphysError:
        return []   # the shell validates selectors before sending them
    return [nid for nid in open_nodes(eng).nodes if nodesel.matches(terms, eng.nodes[nid])]
