"""The template kinds the engine runs, one module each: a new kind is one module and one line here.

A kind's `start(eng, node, tmpl, ctx, scope, bound, depth)` begins running a template whose node
the engine has just created; it completes the node (`eng.complete`) when the template ends,
at once or later from its own frames and timers.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tiphys.engine import agent, containerset, daemons, dag, pods, steps, suspend

Start = Callable[..., None]


@dataclass(frozen=True)
class Kind:
    node_type: str            # Argo's node type
    start: Start
    queued: bool = False      # the node waits in the pod queue (Pending, not started) before it runs
    retryable: bool = True    # a retryStrategy applies to it


KINDS: dict[str, Kind] = {
    "container": Kind("Pod", daemons.start, queued=True),
    "script": Kind("Pod", daemons.start, queued=True),
    "resource": Kind("Pod", pods.start, queued=True),     # the shell acts on the store (runtime/resources.py)
    "containerSet": Kind("Pod", containerset.start, queued=True),
    "http": Kind("HTTP", agent.start, queued=True),
    "data": Kind("Pod", agent.start, queued=True),
    "steps": Kind("Steps", steps.start),
    "dag": Kind("DAG", dag.start),
    "suspend": Kind("Suspend", suspend.start, retryable=False),
}


def find(kind: str | None) -> Kind | None:
    return KINDS.get(kind or "")


def unsupported(tmpl: dict[str, Any], kind: str | None) -> str:
    name = tmpl.get("name") or ""
    if kind is None:
        return f"template {name!r} has no type (or several): it needs exactly one of container, script, " \
               "steps, dag, suspend, resource, http, data, containerSet or plugin"
    return f"template {name!r}: {kind} templates are not supported by Tiphys yet"
