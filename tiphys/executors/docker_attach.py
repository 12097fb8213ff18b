"""Re-attaching to a docker step's container after the Tiphys process that started it died.

A step container is a pod: it does not depend on the process that created it (the reaper
leaves it running while its step folder, which the runtime keeps until the step's end is
journaled, is there: reaper.sweep). The journal records the container's id (its handle's
`identity`); a resumed run asks `DockerExecutor.attach` for it, which finds the container by
that id, or, when the controller died before journaling it, by its labels (the workflow's
uid and the node id), then waits for it as for one it started: a container still running is
followed (its logs streamed), one that exited meanwhile is collected (exit code, logs,
outputs, OOM). A journaled container that is gone is a lost step (Error, as Argo says of a
deleted pod); one never created (no id journaled, none labelled so) is started now.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tiphys.executors import reaper
from tiphys.executors.base import StepResult, StepSpec
from tiphys.executors.handles import _DoneHandle


def find(ctl: Any, spec: StepSpec, cid: str | None) -> dict[str, Any] | None:
    """The step's container, inspected: by id, else the newest labelled with its node id and
    workflow; None when there is none."""
    if not cid:
        listed = ctl.containers(all=True, filters={"label": [f"{reaper.LABEL_STEP}={spec.key}",
                                                              reaper.selector(spec.workflow, spec.workflow_uid)]})
        if not listed:
            return None
        cid = max(listed, key=lambda c: c.get("Created") or 0)["Id"]
    try:
        return ctl.inspect_container(cid)
    except Exception as e:  # noqa: BLE001 - NotFound, or the engine lost it
        if getattr(e, "status_code", None) == 404:
            return None
        raise


async def attach(ex: Any, spec: StepSpec, ident: dict[str, Any]) -> Any:
    from tiphys.executors.docker import _Run
    workdir = Path(spec.workdir).absolute()
    stdout, stderr = workdir / "stdout", workdir / "stderr"

    def failed(msg: str) -> _DoneHandle:
        return _DoneHandle(StepResult(exit_code=None, stdout=stdout, stderr=stderr,
                                      outputs={p: None for p in spec.output_paths}, error=msg))
    try:
        ctl, long = ex._clients()
        found = await ex._call(find, ctl, spec, ident.get("container"))
    except Exception as e:  # noqa: BLE001
        return failed(f"cannot reach the container engine to re-attach to the step: {reaper._explain(e)}")
    if found is None:
        if ident.get("container"):
            return failed(f"step container {str(ident['container'])[:12]} is gone: the step was lost")
        return await ex.start(spec)      # the controller died before creating it: it never ran
    for f in (stdout, stderr):
        if not f.exists():
            workdir.mkdir(parents=True, exist_ok=True)
            f.write_bytes(b"")
    run = _Run(ex, spec, workdir, stdout, stderr, ctl, long)
    run.cid = found["Id"]
    config = found.get("Config") or {}
    run.cwd = spec.working_dir or config.get("WorkingDir") or "/"
    run.argv0 = next(iter(config.get("Entrypoint") or config.get("Cmd") or ["?"]))
    reaper.hold(spec.workflow)
    return run.follow()
