"""A container/script template's `sidecars`: more processes of the same pod beside its main.

As in an Argo pod, each sidecar starts with main and shares its network (every executor
here runs steps on the host's network, so `localhost` reaches a sidecar) and its volumes
(an emptyDir of the pod is one folder for all its containers; `mirrorVolumeMounts` gives a
sidecar main's mounts too). When main exits, the sidecars still running get SIGTERM, then
SIGKILL after the pod's grace period (`terminationGracePeriodSeconds`, 30 s by default).
A sidecar that ended with 137 or 143 (killed), 0, or was stopped here is ignored; any other
exit code fails the node (`<name>: Error (exit code N)`, Argo's message for a non-main
container). Each sidecar's logs are kept under its own container name.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tiphys.engine import actions as A
from tiphys.executors.base import Executor, StepResult, StepSpec

log = logging.getLogger("tiphys.runtime")
GRACE = 30.0
IGNORED_EXITS = (0, 137, 143)


def log_key(node_id: str, container: str) -> str:
    """The store key of a sidecar's logs (main's are under the node id itself)."""
    return f"{node_id}/{container}"


class Sidecars:
    """The sidecars of one step: built before main starts, stopped after it ended."""

    def __init__(self, specs: list[tuple[str, StepSpec]], grace: float):
        self.specs, self.grace = specs, grace
        self.handles: list[tuple[str, Any]] = []
        self.results: list[tuple[str, StepResult]] = []

    @classmethod
    def of(cls, action: A.StartPod, workdir: Path, build: Callable[[A.StartPod, Path], StepSpec]) -> Sidecars:
        """`build(action, workdir)` makes a StepSpec (steps.build_spec with the run's options);
        each sidecar is built as a container of main's template (its volumes, its pod
        fields) in main's workdir, so that the pod's emptyDirs are shared, then given its own
        folder for logs."""
        tmpl = action.template
        found: list[tuple[str, StepSpec]] = []
        main = tmpl.get("container") or tmpl.get("script") or {}
        for i, side in enumerate(tmpl.get("sidecars") or []):
            if not isinstance(side, dict):
                continue
            name = str(side.get("name") or f"sidecar-{i}")
            body = dict(side)
            if body.get("mirrorVolumeMounts"):
                own = {m.get("mountPath") for m in body.get("volumeMounts") or []}
                body["volumeMounts"] = [*(body.get("volumeMounts") or []),
                                        *(m for m in main.get("volumeMounts") or [] if m.get("mountPath") not in own)]
            side_tmpl = {k: v for k, v in tmpl.items() if k not in ("script", "container", "sidecars", "outputs")}
            side_tmpl["container"] = body
            spec = build(dataclasses.replace(action, template=side_tmpl, inputs=(), parameter_paths=(), artifacts=()),
                         workdir)
            own_dir = workdir / "sidecars" / name
            own_dir.mkdir(parents=True, exist_ok=True)
            found.append((name, dataclasses.replace(spec, key=f"{spec.key}-{name}", workdir=own_dir, output_paths=())))
        grace = tmpl.get("terminationGracePeriodSeconds")
        return cls(found, float(grace) if isinstance(grace, (int, float)) else GRACE)

    async def start(self, executor: Executor) -> None:
        for name, spec in self.specs:
            self.handles.append((name, await executor.start(spec)))

    async def stop(self) -> str | None:
        """Main ended: end the sidecars; the failure message of one that failed, if any."""
        async def end(name: str, handle: Any) -> tuple[str, StepResult]:
            waiting = asyncio.ensure_future(handle.wait())
            done, _ = await asyncio.wait({waiting}, timeout=0)
            if not done:
                await handle.stop(grace=self.grace)
            return name, await waiting

        self.results = list(await asyncio.gather(*(end(n, h) for n, h in self.handles)))
        return judge(self.results)


def judge(results: Sequence[tuple[str, StepResult]]) -> str | None:
    """The failure message of the first sidecar that failed (killed, stopped or 0: ignored)."""
    for name, result in results:
        if result.error:
            log.warning("sidecar %s: %s", name, result.error)
        if result.stopped or result.exit_code in IGNORED_EXITS or result.exit_code is None:
            continue
        return f"{name}: Error (exit code {result.exit_code})"
    return None
