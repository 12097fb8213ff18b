"""A dry run's steps: nothing starts; each step "ends" at once as its mock says.

`--mock TEMPLATE=FILE` gives a template's steps their stdout, output parameters and exit code
(a data or http step its reply); `plan(pod, argv)` is told the command each would have run.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tiphys.engine import actions as A
from tiphys.runtime import agent, containerset


def pretend(action: A.StartPod, mocks: dict[str, dict[str, Any]],
            plan: Callable[[str, list[str]], None] | None) -> A.PodExited:
    mock = mocks.get(action.template.get("name", ""), {})
    if agent.is_agent_step(action):
        return A.PodExited(action.node_id, None, reply=agent.pretend(action, mock))
    body = action.template.get("container") or action.template.get("script") or {}
    argv = [str(x) for x in (body.get("command") or []) + (body.get("args") or [])]
    if "script" in action.template:
        argv.append("/argo/staging/script")
    if plan is not None:
        plan(action.pod_name, argv)
    return A.PodExited(action.node_id, mock.get("exit_code", 0), mock.get("stdout", ""),
                       parameters={n: mock.get("parameters", {}).get(n) for n, _ in action.parameter_paths},
                       containers=containerset.pretend(action, mock.get("exit_code", 0)))
