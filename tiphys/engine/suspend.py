"""Suspend nodes: open until their `duration` passes or `argo resume` / `argo node set` ends them.

An open suspend node is in `eng.open_suspends`; the output parameters `argo node set` gives it
before it ends wait in `eng.supplied`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiphys.engine import actions as A
from tiphys.engine import durations, nodesel, phases
from tiphys.errors import TiphysError

if TYPE_CHECKING:
    from tiphys.engine.core import Engine


def start(eng: Engine, node: dict[str, Any], tmpl: dict[str, Any], sc: Any) -> None:
    nid = node["id"]
    eng.open_suspends[nid] = tmpl
    duration = (tmpl.get("suspend") or {}).get("duration")
    if duration in (None, ""):
        return
    try:
        secs = durations.seconds(eng.render(duration, sc), "suspend.duration")
    except TiphysError as exc:
        eng.open_suspends.pop(nid, None)
        eng.complete(nid, phases.ERROR, str(exc))
        return
    eng.set_timer(f"resume:{nid}", eng.now + secs, lambda: resume(eng, nid, phases.SUCCEEDED, None))


def resume(eng: Engine, nid: str, phase: str, message: str | None, params: dict[str, str] | None = None) -> None:
    """End a suspend node; its output parameters come from `argo node set` (supplied) or
    their `valueFrom.default`."""
    tmpl = eng.open_suspends.pop(nid, None)
    if tmpl is None:
        return
    eng.timers.pop(f"resume:{nid}", None)
    values = {**eng.supplied.pop(nid, {}), **(params or {})}
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
        eng.supplied.setdefault(nid, {}).update(params)
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
    return [nid for nid in eng.open_suspends if nodesel.matches(terms, eng.nodes[nid])]
