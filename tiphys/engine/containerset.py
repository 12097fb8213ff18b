"""containerSet templates: one pod whose containers run in dependency order.

Argo shows the pod as one `Pod` node and each container as a `Container` child node named
`<pod node>.<container>`: those without dependencies are children of the pod node, the
others children of each container they depend on. The shell runs the containers (see
tiphys/runtime/containerset.py) and reports each one's exit in `PodExited.containers`
(name -> {"exitCode", "reason", "message"}); this module turns those into node phases the
way Argo's controller reads container statuses:

- a container node: exit 0 Succeeded, 64 (the emissary's own failure, e.g. a dependency
  that failed) Error, anything else Failed, with `<c>: <reason> (exit code N): <message>`;
- the pod node: Failed with the first failed container's `<c>: <reason> (exit code N)`
  (every container of a set is a main container), else Succeeded;
- outputs, `result` and `exitCode` only come from the container named `main`.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from tiphys.engine import actions as A
from tiphys.engine import durations, outputs, phases, pods
from tiphys.errors import SpecError, TiphysError

if TYPE_CHECKING:
    from tiphys.engine.frames import Ctx
    from tiphys.engine.frames import Interpreter as Engine

MAIN = "main"
EMISSARY_FAILURE = 64


def start(eng: Engine, node: dict[str, Any], tmpl: dict[str, Any], ctx: Ctx, sc: Any, bound: dict[str, Any],
          depth: int) -> None:
    """Check the set's graph, then queue its pod like any other; a bad graph is an Error node."""
    nid = node["id"]
    try:
        graph(tmpl)
    except TiphysError as exc:
        eng.complete(nid, phases.ERROR, str(exc))
        return
    pods.queue(eng, node, tmpl, sc, bound, on_start=lambda: open_containers(eng, nid, eng.pods.info[nid]),
               on_exit=lambda info, ev: exited(eng, nid, info, ev))


def graph(tmpl: dict[str, Any]) -> dict[str, list[str]]:
    """container name -> its dependencies, in the template's order; SpecError (Argo's
    validation messages) when a name repeats, a dependency is unknown or they form a cycle."""
    cs = tmpl.get("containerSet") or {}
    found: dict[str, list[str]] = {}
    containers = cs.get("containers") if isinstance(cs, dict) else None
    if not containers or not isinstance(containers, list):
        raise SpecError("containers must have at least one container", path="containerSet.containers")
    for i, c in enumerate(containers):
        name = c.get("name") if isinstance(c, dict) else None
        if not name or not isinstance(name, str):
            raise SpecError("name is required", path=f"containerSet.containers[{i}].name")
        if name in found:
            raise SpecError(f"containers[{i}].name '{name}' is not unique", path="containerSet.containers")
        found[name] = [str(d) for d in c.get("dependencies") or []]
    for name, deps in found.items():
        for dep in deps:
            if dep not in found:
                raise SpecError(f"containers.{name} dependency '{dep}' not defined", path="containerSet.containers")
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise SpecError(f"containers dependency cycle detected: {' -> '.join([*trail, name])}",
                            path="containerSet.containers")
        state[name] = 1
        for dep in found[name]:
            visit(dep, [*trail, name])
        state[name] = 2

    for name in found:
        visit(name, [])
    return found


def open_containers(eng: Engine, nid: str, info: dict[str, Any]) -> None:
    """The pod starts: its Container nodes appear, Pending, linked as Argo links them."""
    pod = eng.nodes[nid]
    deps = graph(info["template"])
    ids: dict[str, str] = {}
    for name in deps:
        child = eng.new_node(f"{pod['name']}.{name}", name, "Container", template=pod.get("templateName"),
                             boundary=nid, parent=None, phase=phases.PENDING)
        if pod.get("templateScope"):
            child["templateScope"] = pod["templateScope"]
        child["podName"] = info["pod"]
        ids[name] = child["id"]
    for name, needs in deps.items():
        for parent in needs or [None]:
            eng.add_child(ids[parent] if parent else nid, ids[name])
    info["containers"] = ids
    info["action"] = pods.start_action(nid, info)   # the shell learns each container's node


def exited(eng: Engine, nid: str, info: dict[str, Any], ev: A.PodExited) -> tuple[str, str | None, dict[str, Any]]:
    """Complete the Container nodes from the pod's report; the pod node's phase, message, outputs."""
    ids: dict[str, str] = info.get("containers") or {}
    reports = ev.containers or {}
    first_failure: str | None = None
    for name, cid in ids.items():
        report = reports.get(name)
        code = report.get("exitCode") if report else None
        if code is None:
            if report and report.get("error"):
                eng.complete(cid, phases.ERROR, f"{name}: {report['error']}")
            elif ev.error:
                eng.complete(cid, phases.ERROR, ev.error)
            else:
                eng.complete(cid, phases.FAILED, "Pod Failed whilst container running")
            continue
        reason = report.get("reason") or ("Completed" if code == 0 else "Error")
        text = report.get("message") or ""
        if code == 0:
            eng.complete(cid, phases.SUCCEEDED)
            continue
        eng.complete(cid, phases.ERROR if code == EMISSARY_FAILURE else phases.FAILED,
                     f"{name}: {reason} (exit code {code}): {text}")
        if first_failure is None:
            first_failure = f"{name}: {reason} (exit code {code})" + (f": {text}" if text else "")
    main = reports.get(MAIN) if MAIN in ids else None
    main_ev = dataclasses.replace(ev, exit_code=(main or {}).get("exitCode") or 0, oom_killed=False,
                                  deadline_exceeded=False, stopped=False, error=None)
    out_phase, out_message, outs = outputs.for_pod(info, main_ev, None)
    if main is None or main.get("exitCode") is None:
        outs.pop("exitCode", None)
    if main is None:
        outs.pop("result", None)
    if ev.error:
        return phases.ERROR, ev.error, outs
    if ev.deadline_exceeded:
        return phases.FAILED, (info["deadline"] or (0, "Step exceeded its deadline"))[1], outs
    if ev.stopped:
        return phases.FAILED, eng.stopping or "Stopped", outs
    if first_failure is not None:
        return phases.FAILED, first_failure, outs
    if any((reports.get(n) or {}).get("exitCode") is None for n in ids):
        return phases.FAILED, "pod failed: a container did not complete", outs
    return out_phase, out_message, outs


def attempts(cs: dict[str, Any]) -> tuple[int, float]:
    """(runs of a container's command, seconds between them) from `retryStrategy`."""
    retry = cs.get("retryStrategy") or {}
    if not isinstance(retry, dict) or retry.get("retries") in (None, ""):
        return 1, 0.0
    try:
        runs = int(str(retry["retries"]))
    except ValueError:
        raise TiphysError(f"containerSet.retryStrategy.retries: not an integer: {retry['retries']!r}") from None
    delay = durations.seconds(retry["duration"], "containerSet.retryStrategy.duration") \
        if retry.get("duration") not in (None, "") else 0.0
    if delay < 0:
        raise TiphysError("containerSet.retryStrategy.duration: has to be positive")
    return max(1, runs), float(delay)
