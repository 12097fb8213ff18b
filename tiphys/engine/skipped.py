"""Outputs of steps and tasks that never ran (Argo's absence semantics for Skipped/Omitted nodes).

A step or task whose `when` was false (Skipped) or whose `depends` can no longer hold
(Omitted) produced nothing. What its template declares still matters to the nodes after it:

* an output parameter with `valueFrom.default` takes that default: it is recorded on the
  node's outputs and `{{steps|tasks.X.outputs.parameters.P}}` resolves to it (so a `withParam`
  over it expands, a consumer receives it);
* any other declared output (a parameter without default, every artifact) is an *absent
  optional*: an expression sees nil (`?? 'fallback'` works); a simple tag naming it fails.
  In a call's argument parameter the callee's input `default` (or fixed `value`) is used
  instead; without one the call fails and its node ends Error, as does a `when`, `withParam`
  or artifact reference to it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiphys.engine import inputs, phases, scope
from tiphys.errors import TiphysError
from tiphys.expr import template as tpl

if TYPE_CHECKING:
    from tiphys.engine.frames import Ctx
    from tiphys.engine.frames import Interpreter as Engine

NOT_RUN = (phases.SKIPPED, phases.OMITTED)


def node_vars(eng: Engine, prefix: str, node: dict[str, Any], call: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    """`scope.node_vars` for a finished step/task node; for one that never ran, first give it
    its template's output defaults, and name its other declared outputs as Absent."""
    if node["phase"] not in NOT_RUN or node.get("type") != "Skipped":
        return scope.node_vars(prefix, node)
    try:
        tmpl, _ = eng.resolve(call, ctx)
    except TiphysError:
        return scope.node_vars(prefix, node)
    declared = tmpl.get("outputs") or {}
    absent: dict[str, Any] = {}
    defaults = []
    for decl in declared.get("parameters") or []:
        vf = decl.get("valueFrom") or {}
        if "default" in vf:
            defaults.append({"name": decl["name"], "value": tpl.format_value(vf["default"])})
        else:
            key = f"{prefix}.outputs.parameters.{decl['name']}"
            absent[key] = tpl.Absent(_message(key, node, f"output parameter {decl['name']!r}",
                                              "it declares no valueFrom.default"))
    for decl in declared.get("artifacts") or []:
        key = f"{prefix}.outputs.artifacts.{decl['name']}"
        absent[key] = tpl.Absent(_message(key, node, f"output artifact {decl['name']!r}", "artifacts have no default"))
    if defaults:
        node.setdefault("outputs", {})["parameters"] = defaults
    return {**absent, **scope.node_vars(prefix, node)}


def _message(key: str, node: dict[str, Any], what: str, why: str) -> str:
    return (f"unable to resolve {{{{{key}}}}}: {node['displayName']!r} was {node['phase']}, so its {what} "
            f"is an absent optional ({why})")


def render_call(call: dict[str, Any], sc: Any) -> dict[str, Any]:
    """Render a step's/task's call; an argument (parameter or artifact) naming an absent output
    is passed on marked absent, so the callee's input default can stand in (see inputs.bind)."""
    args = call.get("arguments")
    if not isinstance(args, dict) or not (args.get("parameters") or args.get("artifacts")):
        return tpl.render_obj(call, sc)
    kinds = ("parameters", "artifacts")
    rest = tpl.render_obj({**call, "arguments": {k: v for k, v in args.items() if k not in kinds}}, sc)
    for kind in kinds:
        if args.get(kind):
            rest["arguments"][kind] = [_render_argument(a, sc) for a in args[kind]]
    return rest


def _render_argument(arg: Any, sc: Any) -> Any:
    try:
        return tpl.render_obj(arg, sc)
    except tpl.AbsentValue as exc:
        name = tpl.render(str(arg.get("name", "")), sc) if isinstance(arg, dict) else ""
        return {"name": name, inputs.ABSENT: exc.message}
