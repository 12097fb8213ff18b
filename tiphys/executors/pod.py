"""Run each step as its Kubernetes Pod, played locally by `podman kube play` (executor `pod`).

The Pod is the very one `tiphys pods` prints and the `kubernetes` executor creates
(`StepSpec.pod`, built by tiphys/k8s/podspec.py: this executor says `plays_pods`): main
wrapped by Tiphys' helper (tiphys/k8s/helper.py), the helper's init container installing the
wrapper in /var/run/argo, the template's own initContainers and sidecars, its volumes, and
podSpecPatch. podman plays all of it, one pod per step; `podman kube down` removes it as the
workflow's podGC says (podgc.py: at the step's end, else when the workflow ends; `close()`
removes the rest).

What changes between the built Pod and the played one (pod_file.py) is only what binds it to
this machine:
- volumes: /var/run/argo (`var-run-argo`) and the script's /argo/staging are host folders of
  the step, from which outputs, the exit code and stdout are read back after main ended;
  each input artifact (in the `input-artifacts` emptyDir of the built Pod) is the file the
  runtime placed in the step folder, bound at its path; an emptyDir, hostPath or claim
  mounted by main is the host folder every executor gives it (runtime/steps.py), so the steps
  of a workflow share claims; an emptyDir nobody binds (a sidecar's own, `medium: Memory`) is
  a podman volume of the pod, removed with it;
- main's environment is the StepSpec's (secretKeyRef and secretRef resolved by the runtime);
- a container the helper does not wrap (a sidecar) is wrapped too, as Argo's emissary wraps
  every container: its signals reach its program (podman has no init process for it);
- a workingDir is created first (podman, unlike a kubelet, refuses a missing one);
- the pod's name is made unique on the machine; images are never pulled (a missing one is
  an Error naming it); the network is the host's (`--network host`).

When main has exited, the pod's other containers get SIGTERM (the wrapper forwards it), then
SIGKILL after the pod's terminationGracePeriodSeconds (30 s by default); their logs and exit
codes come back in `StepResult.containers`. A template initContainer that fails stops the pod
before main: the step ends in Error naming it.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
import weakref
from pathlib import Path
from typing import Any

import yaml

from tiphys.executors import pod_file
from tiphys.executors.base import StepResult, StepSpec
from tiphys.executors.exits import kernel_oom
from tiphys.executors.handles import _DoneHandle
from tiphys.k8s import clusterpod

MAIN = "main"
GRACE = 30.0
TERMINATE_AFTER = 2.0   # s: a containerSet's container failed: about when Argo's controller ends the rest
TERMINATE_GRACE = 1.0   # s between their SIGTERM and SIGKILL
WAIT_POLL = "20ms"      # `podman wait` polls the container's state (250 ms by default)


def _dns(text: str, most: int = 40) -> str:
    """`text` as part of a DNS-1123 label."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:most].strip("-") or "step"


async def _podman(*args: str, check: bool = True, cwd: Path | None = None) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec("podman", *args, stdin=asyncio.subprocess.DEVNULL, cwd=cwd,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    rc = proc.returncode if proc.returncode is not None else -1
    if check and rc != 0:
        raise RuntimeError(f"podman {' '.join(args[:2])}: {err.decode(errors='replace').strip() or f'exit {rc}'}")
    return rc, out, err


class PodExecutor:
    name = "pod"
    plays_pods = True

    def __init__(self, network: str = "host"):
        self.network = network
        self._images: dict[str, tuple[list[str], list[str]] | None] = {}   # image -> (ENTRYPOINT, CMD)
        self._files = Path(tempfile.mkdtemp(prefix="tiphys-pods-"))   # each played Pod's file, for kube down
        weakref.finalize(self, shutil.rmtree, self._files, True)
        self._kept: dict[str, list[tuple[Path, dict[str, str], Any]]] = {}   # workflow -> pods kept
        copies = os.environ.get("TIPHYS_POD_FILES")      # keep a copy of each played Pod there (bench/pods.py)
        self._copies = Path(copies) if copies else None
        self._played = 0

    @staticmethod
    def available() -> bool:
        return shutil.which("podman") is not None

    def entrypoint(self, image: str) -> tuple[list[str], list[str]] | None:
        """The image's (ENTRYPOINT, CMD) (podspec.build wraps a container without `command` with
        them); None when podman does not have the image."""
        if image not in self._images:
            done = subprocess.run(["podman", "image", "inspect", image], stdin=subprocess.DEVNULL,
                                  capture_output=True, check=False)
            if done.returncode != 0:
                self._images[image] = None
            else:
                config = json.loads(done.stdout)[0].get("Config") or {}
                self._images[image] = (list(config.get("Entrypoint") or []), list(config.get("Cmd") or []))
        return self._images[image]

    async def start(self, spec: StepSpec) -> Any:
        workdir = Path(spec.workdir).absolute()
        stdout, stderr = workdir / "stdout", workdir / "stderr"

        def failed(msg: str) -> _DoneHandle:
            return _DoneHandle(StepResult(exit_code=None, stdout=stdout, stderr=stderr,
                                          outputs={p: None for p in spec.output_paths}, error=msg))
        try:
            workdir.mkdir(parents=True, exist_ok=True)
            stdout.write_bytes(b"")
            stderr.write_bytes(b"")
        except OSError as e:
            return failed(f"cannot prepare step folder {workdir}: {e}")
        name = f"{_dns(str((spec.pod or {}).get('metadata', {}).get('name') or spec.key))}-{uuid.uuid4().hex[:8]}"
        try:
            pod = pod_file.localize(spec, name, workdir, self.entrypoint)
        except (OSError, ValueError) as e:
            return failed(str(e))
        missing = [i for i in pod_file.images(pod) if await asyncio.to_thread(self.entrypoint, i) is None]
        if missing:
            return failed(f"image {missing[0]!r} is not available to podman (images are not pulled; "
                          "see scripts/images)")
        path = self._files / f"{name}.yaml"    # not in workdir: the runtime may clean that first
        path.write_text(yaml.safe_dump(pod, sort_keys=False))
        if self._copies is not None:
            self._played += 1
            self._copies.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self._copies / f"{self._played:05d}-{name}.yaml")
        # in a folder of ours: conmon leaves an `oom` file in its cwd when a container is OOM-killed
        rc, _, err = await _podman("kube", "play", "--network", self.network, str(path), check=False, cwd=self._files)
        labels = dict(pod["metadata"].get("labels") or {})
        if rc != 0:
            init = await _failed_init(pod, name, workdir)
            if init is not None:
                self._after(spec, path, labels, False)
                return _DoneHandle(StepResult(exit_code=None, stdout=stdout, stderr=stderr,
                                              outputs={p: None for p in spec.output_paths}, containers=(init,),
                                              error=f"init container {init[0]}: Error (exit code {init[1].exit_code})"))
            await asyncio.to_thread(_down, path)
            message = err.decode(errors="replace").strip().splitlines()
            return failed(f"cannot play the step's pod: {message[-1] if message else f'exit {rc}'}")
        grace = pod["spec"].get("terminationGracePeriodSeconds")
        return PodHandle(self, spec, workdir, path, name, pod, labels,
                         float(grace) if isinstance(grace, (int, float)) else GRACE)

    def _after(self, spec: StepSpec, path: Path, labels: dict[str, str], ok: bool) -> None:
        """The step ended: remove its pod now or keep it for the workflow's end, as podGC says."""
        if spec.pod_gc.at_step_end(labels, ok):
            _down(path)
        else:
            self._kept.setdefault(spec.workflow, []).append((path, labels, spec.pod_gc))

    def workflow_done(self, workflow: str, gc: Any, phase: str, uid: str = "") -> list[str]:
        """The workflow ended: `podman kube down` the pods its podGC removes now."""
        kept, stay, gone = self._kept.pop(workflow, []), [], []
        for path, labels, _ in kept:
            if gc.at_workflow_end(labels, phase):
                _down(path)
                gone.append(str(path))
            else:
                stay.append((path, labels, gc))
        if stay:
            self._kept[workflow] = stay
        return gone

    def close(self) -> None:
        """Remove every pod still kept (the process ends)."""
        for kept in self._kept.values():
            for path, _, _ in kept:
                _down(path)
        self._kept.clear()
        shutil.rmtree(self._files, ignore_errors=True)


def _down(path: Path) -> None:
    subprocess.run(["podman", "kube", "down", str(path)], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    path.unlink(missing_ok=True)


async def _container(name: str, folder: Path) -> StepResult:
    """A finished container's exit code and logs (in `folder`), as a StepResult."""
    folder.mkdir(parents=True, exist_ok=True)
    out, err = folder / "stdout", folder / "stderr"
    (_, logs_out, logs_err), (rc, info, _) = await asyncio.gather(_podman("logs", name, check=False),
                                                                  _podman("inspect", name, check=False))
    out.write_bytes(logs_out)
    err.write_bytes(logs_err)
    state = json.loads(info)[0]["State"] if rc == 0 else {}
    code = state.get("ExitCode") if state.get("Status") == "exited" else None
    oom = bool(state.get("OOMKilled")) or (code == 137 and kernel_oom(str(json.loads(info)[0].get("Id") or "")))
    return StepResult(exit_code=None if code is None else int(code), stdout=out, stderr=err, outputs={},
                      oom_killed=oom)


async def _failed_init(pod: dict[str, Any], name: str, workdir: Path) -> tuple[str, StepResult] | None:
    """The init container that stopped the pod from starting, with its logs, if one did."""
    for c in pod["spec"].get("initContainers") or []:
        result = await _container(f"{name}-{c['name']}", workdir / "init" / c["name"])
        if result.exit_code not in (None, 0):
            return c["name"], result
    return None


class PodHandle:
    """A played pod. Its main containers (`main`; every container of a containerSet) are waited
    for; the step's result is the default container's (clusterpod.default_container), the
    others' are in `containers`. A containerSet's container that fails ends the rest about
    TERMINATE_AFTER later, as runtime/containerset.py does for executors without pods."""

    def __init__(self, ex: PodExecutor, spec: StepSpec, workdir: Path, path: Path, name: str,
                 pod: dict[str, Any], labels: dict[str, str], grace: float):
        self.ex, self.spec, self.workdir, self.path, self.name = ex, spec, workdir, path, name
        containers = [str(c["name"]) for c in pod["spec"]["containers"]]
        self.mains = [c for c in clusterpod.mains(pod) if c in containers]
        self.main = clusterpod.default_container(pod)
        self.others = [c for c in containers if c != self.main]
        self.labels, self.grace = labels, grace
        self.stopped = False
        self._result: asyncio.Task[StepResult] | None = None

    async def wait(self) -> StepResult:
        if self._result is None:
            self._result = asyncio.ensure_future(self._collect())
        return await asyncio.shield(self._result)

    async def stop(self, grace: float = 0.0) -> None:
        self.stopped = True
        await asyncio.gather(*(_end(f"{self.name}-{c}", grace) for c in self.mains))

    async def _collect(self) -> StepResult:
        spec, workdir = self.spec, self.workdir
        outputs: dict[str, Path | None] = {p: None for p in spec.output_paths}
        try:
            await self._mains_ended()
            await asyncio.gather(*(_end(f"{self.name}-{c}", self.grace) for c in self.others if c not in self.mains))
            main, *rest = await asyncio.gather(_container(f"{self.name}-{self.main}", workdir),
                                               *(_container(f"{self.name}-{c}", workdir / "sidecars" / c)
                                                 for c in self.others))
            others = list(zip(self.others, rest))
        except (RuntimeError, ValueError, KeyError, IndexError) as e:
            await asyncio.to_thread(_down, self.path)
            return StepResult(exit_code=None, stdout=workdir / "stdout", stderr=workdir / "stderr", outputs=outputs,
                              stopped=self.stopped, error=f"cannot follow the step's pod: {e}")
        found = workdir / pod_file.RUN / "outputs"
        for i, path in enumerate(spec.output_paths):
            if os.path.lexists(found / str(i)):
                outputs[path] = found / str(i)
        await asyncio.to_thread(self.ex._after, spec, self.path, self.labels, main.exit_code == 0)
        return StepResult(exit_code=main.exit_code, stdout=main.stdout, stderr=main.stderr, outputs=outputs,
                          oom_killed=main.oom_killed, stopped=self.stopped, containers=tuple(others))


    async def _mains_ended(self) -> None:
        """Until every main container has exited; once one of several failed, the others are
        ended TERMINATE_AFTER later."""
        waits = {asyncio.ensure_future(_podman("wait", "--interval", WAIT_POLL, f"{self.name}-{c}")): c
                 for c in self.mains}
        pending, timer = set(waits), None
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:      # killed before its wrapper said: its dependents must not wait
                    folder = self.workdir / pod_file.RUN / "ctr" / waits[task]
                    if not (folder / "exitcode").exists():
                        folder.mkdir(parents=True, exist_ok=True)
                        (folder / "died").touch()
                failed = any(t.exception() is None and t.result()[1].strip() not in (b"0", b"") for t in done)
                if failed and timer is None and len(self.mains) > 1:
                    timer = asyncio.get_running_loop().call_later(TERMINATE_AFTER, lambda: [
                        asyncio.ensure_future(_end(f"{self.name}-{c}", TERMINATE_GRACE)) for c in self.mains])
            for task in waits:
                task.result()        # a `podman wait` that failed: the pod cannot be followed
        finally:
            if timer is not None:
                timer.cancel()
            for task in pending:
                task.cancel()


async def _end(container: str, grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds unless it ended (nothing if it has already)."""
    if grace > 0:
        await _podman("kill", "--signal", "TERM", container, check=False)
        waiting = asyncio.ensure_future(_podman("wait", "--interval", WAIT_POLL, container, check=False))
        try:
            await asyncio.wait_for(asyncio.shield(waiting), grace)
            return
        except asyncio.TimeoutError:
            waiting.cancel()
    await _podman("kill", "--signal", "KILL", container, check=False)
