"""Translating an engine `StartPod` into an executor `StepSpec`, and a finished step back
into a `PodExited` event (reading declared outputs, saving artifacts). The only place
where a pod's files are touched."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tiphys.artifacts.local import LocalRepository
from tiphys.engine import actions as A
from tiphys.engine.outputs import RESULT_LIMIT
from tiphys.errors import TiphysError
from tiphys.executors.base import InputFile, StepResult, StepSpec
from tiphys.runtime import quantities


def build_spec(action: A.StartPod, workdir: Path, repo: LocalRepository) -> StepSpec:
    tmpl = action.template
    body = tmpl.get("container") or tmpl.get("script") or {}
    env = tuple((str(e["name"]), _str(e.get("value", ""))) for e in body.get("env") or [] if "name" in e)
    limits = (body.get("resources") or {}).get("limits") or {}
    memory = int(quantities.parse(limits["memory"], "resources.limits.memory")) if limits.get("memory") else None
    cpu = quantities.parse(limits["cpu"], "resources.limits.cpu") if limits.get("cpu") else None
    workdir.mkdir(parents=True, exist_ok=True)
    placed = []
    for i, art in enumerate(action.inputs):
        host = workdir / "inputs" / f"{i}-{art.name}"
        if art.raw is not None:
            host.parent.mkdir(parents=True, exist_ok=True)
            host.write_text(art.raw)
        elif art.source is not None:
            repo.load(art.source, host, art.sub_path)
        else:
            continue
        placed.append(InputFile(host, art.path))
    paths = [p for _, p in action.parameter_paths] + [a.path for a in action.artifacts]
    return StepSpec(
        key=action.node_id, image=str(body.get("image", "")),
        command=tuple(_str(c) for c in body.get("command") or ()), args=tuple(_str(a) for a in body.get("args") or ()),
        env=env, working_dir=body.get("workingDir"), script=body.get("source") if "script" in tmpl else None,
        inputs=tuple(placed), output_paths=tuple(dict.fromkeys(paths)), memory_limit=memory, cpu_limit=cpu,
        workdir=workdir)


def collect(action: A.StartPod, result: StepResult, repo: LocalRepository, key_prefix: str,
            deadline_exceeded: bool, stdout: str) -> A.PodExited:
    """The event for a finished step; `stdout` is its log, already read for the store."""
    params: dict[str, str | None] = {}
    for name, path in action.parameter_paths:
        host = result.outputs.get(path)
        params[name] = _read(host) if host is not None and host.is_file() else None
    arts: dict[str, dict[str, Any] | None] = {}
    error = result.error
    for art in action.artifacts:
        host = result.outputs.get(art.path)
        if host is None or not host.exists():
            arts[art.name] = None
            continue
        try:
            arts[art.name] = repo.save(host, f"{key_prefix}/{action.node_id}/{art.name}", art.archive)
        except TiphysError as exc:
            error = error or str(exc)
    return A.PodExited(node_id=action.node_id, exit_code=result.exit_code, stdout=stdout[-RESULT_LIMIT:],
                       parameters=params, artifacts=arts, oom_killed=result.oom_killed,
                       deadline_exceeded=deadline_exceeded, stopped=result.stopped and not deadline_exceeded,
                       error=error)


def read_logs(result: StepResult) -> tuple[str, str]:
    return _read(result.stdout) or "", _read(result.stderr) or ""


def cleanup(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
