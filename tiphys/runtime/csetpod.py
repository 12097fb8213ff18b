"""A containerSet as ONE Pod, for the executors that play whole pods (`pod`, `kubernetes`).

The Pod is the one `tiphys pods` prints (k8s/podspec.py): every container of the set wrapped
by the helper (k8s/helper.py), which, as Argo's emissary, waits for the exit code of each
container a container depends on, does not run it when one failed (64, `dependency "X" exited
with non-zero code: N`) and retries its command in place as the set's retryStrategy says.
The executor plays it and reports every container back: the default container (`main`) as
the step's result, the others in `StepResult.containers`. This module turns that into the
same PodExited, container reports and Container-node logs as runtime/containerset.py (which
composes the set itself for the executors without pods), so the engine's containerset.py
sees no difference.

The StepSpec handed beside the Pod is the one of `main` (else the first container): its
environment (secrets resolved), inputs, outputs and the host folders of the set's volumes.
"""
from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiphys.engine import actions as A
from tiphys.engine.containerset import EMISSARY_FAILURE, MAIN, graph
from tiphys.errors import TiphysError
from tiphys.executors.base import StepResult, StepSpec
from tiphys.k8s import clusterpod
from tiphys.runtime import containerset, sidecars, steps, wholepod

if TYPE_CHECKING:
    from tiphys.runtime.runner import Runner


def build(runner: Runner, action: A.StartPod, workdir: Path) -> StepSpec:
    """The StepSpec of the set's `main` (else first) container, with the whole set's Pod."""
    tmpl = action.template
    cs = tmpl["containerSet"]
    containers = cs["containers"]
    first = next((c for c in containers if c.get("name") == MAIN), containers[0])
    body = {k: v for k, v in first.items() if k != "dependencies"}
    body["volumeMounts"] = [*(first.get("volumeMounts") or []), *(cs.get("volumeMounts") or [])]
    main = first.get("name") == MAIN
    one = dataclasses.replace(action, template={**{k: v for k, v in tmpl.items() if k != "containerSet"},
                                                "container": body},
                              inputs=action.inputs if main else (),
                              parameter_paths=action.parameter_paths if main else (),
                              artifacts=action.artifacts if main else ())
    secrets = steps.secret_lookup(runner.store, runner.home, runner.wf["metadata"].get("namespace") or "default")
    spec = steps.build_spec(one, workdir, runner.repo, secrets, pod_labels=runner.pod_labels,
                            pod_gc=runner.pod_gc, workflow_uid=str(runner.wf["metadata"].get("uid") or ""))
    return wholepod.with_pod(runner, action, spec)


def reports(deps: dict[str, list[str]], by_name: dict[str, StepResult], error: str | None) -> dict[str, dict[str, Any]]:
    """Each container's report (exitCode, reason, message) from the results the executor gave;
    a container that did not run for a failed dependency says which, as the emissary does."""
    found: dict[str, dict[str, Any]] = {}
    for name in deps:
        result = by_name.get(name)
        if result is None:
            found[name] = containerset._report(None, "Error", "")
            continue
        found[name] = containerset._from_result(result) if result.error is None or error is None \
            else containerset._report(None, "Error", "")
    for name, needs in deps.items():
        if found[name].get("exitCode") != EMISSARY_FAILURE:
            continue
        bad = next((d for d in needs if found[d].get("exitCode") not in (0,)), None)
        if bad is not None:
            code = found[bad].get("exitCode")
            found[name]["message"] = (f'dependency "{bad}" exited with non-zero code: {code}' if code is not None
                                      else f'dependency "{bad}" died without reporting exit code')
    return found


async def run(runner: Runner, action: A.StartPod, workdir: Path) -> None:
    """Play the set's Pod to its end and queue its PodExited."""
    assert runner.executor is not None
    nid = action.node_id
    try:
        deps = graph(action.template)
        spec = await asyncio.to_thread(build, runner, action, workdir)
    except TiphysError as exc:
        runner.events.put_nowait(A.PodExited(nid, None, error=str(exc), unstarted=True))
        return
    handle = await runner.executor.start(spec)
    runner.handles[nid] = handle
    if nid in runner.stop_on_start:
        runner.stop_on_start.discard(nid)
        await handle.stop(grace=0.0)
    timer = None
    if action.deadline is not None:
        timer = asyncio.get_running_loop().call_later(action.deadline, runner._deadline, nid)
    try:
        result = await handle.wait()
    finally:
        if timer:
            timer.cancel()
        runner.handles.pop(nid, None)
    default = clusterpod.default_container(spec.pod or {})
    by_name = {**dict(result.containers), default: result}
    found = reports(deps, by_name, result.error)
    results = {n: r for n, r in by_name.items() if n in deps and r.error is None}
    wf_name = runner.wf["metadata"]["name"]
    for name, other in by_name.items():
        if name not in deps:           # the template's sidecars
            out, err = steps.read_logs(other)
            runner.pending_logs.append((wf_name, sidecars.log_key(nid, name), action.pod_name, out, err))
    event = containerset._event(runner, action, workdir, {MAIN: spec} if default == MAIN else {}, results, found,
                                result.stopped)
    if result.error is not None and not event.error:
        event = dataclasses.replace(event, error=result.error)
    runner.events.put_nowait(event)
