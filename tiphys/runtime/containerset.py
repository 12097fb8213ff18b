"""Running a containerSet pod: its containers as steps of one pod, in dependency order.

Each container is one executor step with a filesystem of its own (as a pod's containers
are), in `workdir/ctr/<name>`; the pod's volumes (the set's `volumeMounts` are added to
every container) resolve against the pod's workdir, so an emptyDir is one folder shared by
its containers. Containers without pending dependencies run at once, side by side. As with
Argo's emissary:

- a container whose dependency failed does not run: it exits 64 with
  `dependency "X" exited with non-zero code: N`;
- once a container fails, the others still running about TERMINATE_AFTER later are stopped
  (Argo's controller terminates a pod whose main container failed when it next looks at
  it, so quick siblings finish first) and those not started by then end as terminated (143);
- `containerSet.retryStrategy` re-runs the failed command in the same container
  (retryloop.py): `retries` runs in all, at least one (the emissary hands `retries` to its
  backoff as the number of steps), `duration` apart;
- input artifacts, output parameters/artifacts and `result` belong to the container `main`.

Each container's logs are stored under its Container node.
"""
from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiphys.engine import actions as A
from tiphys.engine.containerset import EMISSARY_FAILURE, MAIN, attempts, graph
from tiphys.errors import TiphysError
from tiphys.executors.base import StepResult, StepSpec
from tiphys.runtime import steps, wholepod

if TYPE_CHECKING:
    from tiphys.runtime.runner import Runner

TERMINATED = 143
TERMINATE_AFTER = 2.0   # s: about when Argo's controller sees a failed container and terminates the rest
TERMINATE_GRACE = 1.0   # s between its SIGTERM and SIGKILL here (Argo: terminationGracePeriodSeconds)


class PodHandle:
    """What the runner holds for the pod: stopping it stops every container, and no more start."""

    def __init__(self) -> None:
        self.running: dict[str, Any] = {}
        self.stopped = False

    async def stop(self, grace: float = 0.0) -> None:
        self.stopped = True
        await asyncio.gather(*(h.stop(grace) for h in list(self.running.values())), return_exceptions=True)


def container_specs(runner: Runner, action: A.StartPod, workdir: Path) -> dict[str, StepSpec]:
    """One StepSpec per container, sharing the pod's volumes; only `main` gets the inputs and
    collects the outputs."""
    tmpl = action.template
    cs = tmpl["containerSet"]
    runs, delay = attempts(cs)
    base = {k: v for k, v in tmpl.items() if k != "containerSet"}
    secrets = steps.secret_lookup(runner.store, runner.home, runner.wf["metadata"].get("namespace") or "default")
    found = {}
    for c in cs["containers"]:
        name = c["name"]
        body = {k: v for k, v in c.items() if k != "dependencies"}
        body["volumeMounts"] = [*(c.get("volumeMounts") or []), *(cs.get("volumeMounts") or [])]
        main = name == MAIN
        one = dataclasses.replace(action, template={**base, "container": body},
                                  inputs=action.inputs if main else (),
                                  parameter_paths=action.parameter_paths if main else (),
                                  artifacts=action.artifacts if main else ())
        spec = steps.build_spec(one, workdir, runner.repo, secrets, pod_labels=runner.pod_labels,
                                pod_gc=runner.pod_gc, workflow_uid=str(runner.wf["metadata"].get("uid") or ""))
        found[name] = dataclasses.replace(spec, key=f"{action.node_id}-{name}", workdir=spec.workdir / "ctr" / name,
                                          attempts=runs, attempt_delay=delay)
    return found


async def run(runner: Runner, action: A.StartPod, workdir: Path) -> None:
    """Run the pod of `action` to its end and queue its PodExited."""
    assert runner.executor is not None
    if wholepod.plays_pods(runner.executor):     # one Pod, its helper ordering the containers
        from tiphys.runtime import csetpod      # (it reports as this module does)
        await csetpod.run(runner, action, workdir)
        return
    executor = runner.executor
    pod = PodHandle()
    runner.handles[action.node_id] = pod
    if action.node_id in runner.stop_on_start:
        runner.stop_on_start.discard(action.node_id)
        pod.stopped = True
    timer = None
    if action.deadline is not None:
        timer = asyncio.get_running_loop().call_later(action.deadline, runner._deadline, action.node_id)
    try:
        deps = graph(action.template)
        specs = container_specs(runner, action, workdir)
    except TiphysError as exc:
        runner.handles.pop(action.node_id, None)
        if timer:
            timer.cancel()
        runner.events.put_nowait(A.PodExited(action.node_id, None, error=str(exc), unstarted=True))
        return
    reports: dict[str, dict[str, Any]] = {}
    results: dict[str, StepResult] = {}
    tasks: dict[asyncio.Task[StepResult], str] = {}
    failing = False
    terminate: asyncio.TimerHandle | None = None

    def end_others() -> None:
        nonlocal failing
        failing = True
        for handle in list(pod.running.values()):
            asyncio.ensure_future(handle.stop(grace=TERMINATE_GRACE))

    async def one(name: str) -> StepResult:
        handle = await executor.start(specs[name])
        pod.running[name] = handle
        try:
            if pod.stopped or failing:
                await handle.stop(grace=0.0)
            return await handle.wait()
        finally:
            pod.running.pop(name, None)

    try:
        waiting = list(deps)
        while waiting or tasks:
            for name in list(waiting):
                bad = next((d for d in deps[name] if d in reports and reports[d].get("exitCode") != 0), None)
                if bad is not None:
                    waiting.remove(name)
                    code = reports[bad].get("exitCode")
                    reports[name] = _report(EMISSARY_FAILURE, "Error", f'dependency "{bad}" exited with non-zero code: {code}'
                                            if code is not None else f'dependency "{bad}" died without reporting exit code')
                elif pod.stopped or failing:
                    waiting.remove(name)
                    reports[name] = _report(TERMINATED, "Error", "")
                elif all(d in reports for d in deps[name]):
                    waiting.remove(name)
                    tasks[asyncio.ensure_future(one(name))] = name
            if not tasks:
                continue
            done, _ = await asyncio.wait(list(tasks), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                name = tasks.pop(task)
                result = results[name] = task.result()
                reports[name] = _from_result(result)
                if reports[name].get("exitCode") != 0 and terminate is None:
                    terminate = asyncio.get_running_loop().call_later(TERMINATE_AFTER, end_others)
    finally:
        for task in tasks:
            task.cancel()
        if terminate:
            terminate.cancel()
        if timer:
            timer.cancel()
        runner.handles.pop(action.node_id, None)
    runner.events.put_nowait(_event(runner, action, workdir, specs, results, reports, pod.stopped))


def pretend(action: A.StartPod, code: int) -> dict[str, dict[str, Any]]:
    """A dry run's reports: every container of the set exited with `code` (none for other pods)."""
    return {name: _report(code, "Completed" if code == 0 else "Error", "") for name, _ in action.containers}


def _report(code: int | None, reason: str, message: str, error: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"exitCode": code, "reason": reason, "message": message}
    if error:
        found["error"] = error
    return found


def _from_result(result: StepResult) -> dict[str, Any]:
    if result.error is not None and result.exit_code is None:
        return _report(None, "Error", "", result.error)
    if result.oom_killed:
        return _report(137, "OOMKilled", "")
    code = result.exit_code
    if code is None:
        code = 137 if result.stopped else EMISSARY_FAILURE
    return _report(code, "Completed" if code == 0 else "Error", "")


def _settled_outputs(spec: StepSpec, result: StepResult) -> StepResult:
    """`main`'s outputs on a volume with a host folder, read once every container ended (as
    Argo's wait container does): a sibling may write them after `main` exited."""
    outputs = dict(result.outputs)
    for path in spec.output_paths:
        mount = max((m for m in spec.mounts if m.source is not None and _under(path, m.path)),
                    key=lambda m: len(m.path), default=None)
        if mount is None:
            continue
        rel = path[len(mount.path.rstrip("/")):].lstrip("/")
        found = Path(mount.source) / rel if rel else Path(mount.source)  # type: ignore[arg-type]
        outputs[path] = found if os.path.lexists(found) else None
    return dataclasses.replace(result, outputs=outputs)


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _event(runner: Runner, action: A.StartPod, workdir: Path, specs: dict[str, StepSpec],
           results: dict[str, StepResult], reports: dict[str, dict[str, Any]], stopped: bool) -> A.PodExited:
    """The pod's PodExited: `main`'s outputs, every container's report; logs queued per container."""
    nodes = dict(action.containers)
    wf_name = runner.wf["metadata"]["name"]
    main_out = ""
    for name, result in results.items():
        out, err = steps.read_logs(result)
        if name == MAIN:
            main_out = out
        runner.pending_logs.append((wf_name, nodes.get(name, f"{action.node_id}-{name}"), action.pod_name, out, err))
    runner.pending_cleanup.append(workdir)
    deadline = action.node_id in runner.deadlines
    errors = [f"{n}: {r['error']}" for n, r in reports.items() if r.get("error")]
    main = results.get(MAIN)
    if main is not None and MAIN in specs:
        main = _settled_outputs(specs[MAIN], main)
    if main is not None:
        event = steps.collect(action, main, runner.repo, runner.prefix, deadline, main_out)
    else:
        event = A.PodExited(action.node_id, None, deadline_exceeded=deadline)
    return dataclasses.replace(event, exit_code=reports.get(MAIN, {}).get("exitCode"),
                               stopped=stopped and not deadline, oom_killed=False,
                               error="; ".join(errors) if errors else event.error, containers=reports)
