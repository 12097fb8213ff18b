"""Run each step as a container through the Docker Engine API (Docker, or podman's
`podman system service`, which speaks the same API), with the `docker` Python SDK.

One step is one container, as one Argo step is one pod's `main` container:

- argv: `command` replaces the image's ENTRYPOINT and `args` its CMD (Kubernetes rules);
  without either the image's own run. A script's source is copied to
  `/argo/staging/script` and that path appended to argv, as Argo does (a script without
  `command` runs with the image's default, e.g. `sh` or `python3`).
- env, workingDir, securityContext.runAsUser/runAsGroup, resources (limits: memory with no
  extra swap, nano-CPUs; requests: memory reservation, CPU shares), volumeMounts (host
  folders bound, in-memory emptyDirs as tmpfs), ulimits within this host's hard limits.
- Inputs and the script are copied in with `put_archive` before start; declared outputs
  are copied out with `get_archive` after exit into `workdir/outputs/`.
- The critical path of a step is create, start, wait, logs (about 150 ms with podman here,
  as much as `podman run --rm`): nothing is attached before start. The wait is podman's
  own endpoint polling every 10 ms when the engine is podman (exits.py).
  stdout and stderr are read once the container has exited into `workdir/stdout|stderr`;
  a step still running after STREAM_AFTER (0.3 s) also has them streamed live there
  (the output so far, then attach) for whoever follows its logs.
- OOM: `State.OOMKilled` (Docker sets it); podman 4.3 on cgroup v1 leaves it false, so the
  kernel log is read too: a `oom-kill:` record naming the container's memory cgroup
  (`oom_memcg=.../libpod-<id>`). The cgroup itself is gone by the time `wait` returns, and
  v1 does not count a child's OOM kills in a parent's `memory.oom_control`. Either way
  the result is exit code 137 and `oom_killed=True`, as the host executor reports it.
- Network: the host's (`network_mode="host"`), like the host executor and like an Argo
  pod, which has network. A private bridge costs about 200 ms more per step here
  (netavark); `DockerExecutor(network="bridge"|"none")` picks another mode.
- Removing the containers (podGC, leftovers of dead processes, deleted workflows): reaper.py;
  re-attaching to one after the Tiphys process that started it died: docker_attach.py.
- volumeMounts: a missing host source is an Error (the engine would create it; the other
  executors cannot), as `steps._pod_fields` creates what Kubernetes' hostPath types create.
- Images are never pulled: a missing image is an Error naming it (see scripts/images).
"""
from __future__ import annotations

import asyncio
import io
import logging
import os
import posixpath
import re
import tarfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from tiphys.executors import exits, podgc, podman, reaper, retryloop
from tiphys.executors.exits import kernel_oom
from tiphys.executors.base import StepResult, StepSpec
from tiphys.executors.handles import _DoneHandle
from tiphys.executors.reaper import (HOST, LABEL_ARGO_WORKFLOW, LABEL_HOST, LABEL_OWNER, LABEL_PODGC,
                                     LABEL_STEP, LABEL_WORKDIR, LABEL_WORKFLOW, LABEL_WORKFLOW_UID, _explain)

log = logging.getLogger(__name__)

API_VERSION = "1.41"
SCRIPT_PATH = "/argo/staging/script"
WAIT_POLL = "10ms"        # how often podman looks whether a container has exited (its default: 250ms)
STREAM_AFTER = 0.3        # seconds: a step running longer has its output streamed live
LAUNCH_TRIES = 3          # tries at creating and starting a step's container (engine hiccups)
KNOWN_SOCKETS = ("/var/run/docker.sock", "/run/podman/podman.sock")


def _docker():
    import docker  # imported lazily: the host executor never needs it
    return docker


def resolve_base_url(base_url: str | None = None, start: bool = True) -> str | None:
    """The engine to talk to: `base_url`, else $DOCKER_HOST, else a known local socket that
    answers, else (when `start`) a podman service started for us; None if there is none."""
    if base_url:
        return base_url
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    for path in (*KNOWN_SOCKETS, str(podman.SOCKET)):
        if podman.answers(path):
            return f"unix://{path}"
    if start and podman.installed():
        return podman.ensure_service()
    return None


def _safe(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-.")[:60] or "step"


class DockerExecutor:
    """Steps as containers of a Docker-API engine (`base_url` None: see resolve_base_url)."""

    name = "docker"

    def __init__(self, base_url: str | None = None, *, network: str = "host",
                 api_version: str = API_VERSION, remove: bool = True):
        self._base_url = base_url
        self.network = network
        self.api_version = api_version
        self.remove = remove
        self._ctl = None                  # short calls (create, start, archives, remove)
        self._long = None                 # calls that block for the step's life (attach, wait)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tiphys-docker")
        self._images: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._reaper = reaper.Reaper(self._pool, lambda: self._clients()[0])
        self._podman = False              # the engine is podman (its own wait endpoint is used)

    @staticmethod
    def available(base_url: str | None = None) -> bool:
        """Quick (about 1 s at most): an engine answers, or podman can be started for one."""
        url = base_url or os.environ.get("DOCKER_HOST")
        if url:
            if url.startswith("unix://"):
                return podman.ping(url[len("unix://"):], 1.0)
            try:
                docker = _docker()
                return bool(docker.APIClient(base_url=url, version=API_VERSION, timeout=1).ping())
            except Exception:
                return False
        return resolve_base_url(start=False) is not None or podman.installed()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            url = resolve_base_url()
            if url is None:
                from tiphys.errors import InfrastructureError
                raise InfrastructureError("no Docker-API engine: set DOCKER_HOST, or install podman and runc")
            self._base_url = url
        return self._base_url

    def _clients(self):
        with self._lock:
            if self._ctl is None:
                docker = _docker()
                self._ctl = docker.APIClient(base_url=self.base_url, version=self.api_version,
                                             timeout=300, max_pool_size=16)
                self._long = docker.APIClient(base_url=self.base_url, version=self.api_version,
                                              timeout=None, max_pool_size=256)
                try:
                    parts = self._ctl.version().get("Components") or []
                    self._podman = any("podman" in str(c.get("Name", "")).lower() for c in parts)
                except Exception:
                    self._podman = False
                try:
                    self.sweep_leftovers()
                except Exception as e:
                    log.warning("could not look for leftover step containers: %s", _explain(e))
        return self._ctl, self._long

    async def _call(self, fn, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def sweep_leftovers(self) -> list[str]:
        """Remove the step containers nobody will collect (reaper.sweep). The ids removed."""
        assert self._ctl is not None
        return reaper.sweep(self._ctl)

    def remove_later(self, cid: str | None, delay: float = 0.0) -> None:
        """Remove a finished step's container in the background, after `delay` seconds."""
        if cid is not None and self.remove:
            self._reaper.remove_later(cid, delay)

    def workflow_done(self, workflow: str, gc: podgc.PodGC, phase: str, uid: str = "") -> list[str]:
        """The workflow ended in `phase`: remove its containers podGC removes now. The ids."""
        if self._ctl is None or not workflow or not self.remove:
            return []                     # no step of it ran here in a container
        return self._reaper.workflow_done(self._ctl, workflow, gc, phase, uid)

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until the containers of finished steps are removed."""
        self._reaper.flush(timeout)

    def close(self) -> None:
        self._reaper.cancel_timers()
        self.flush()
        self._pool.shutdown(wait=False)
        for client in (self._ctl, self._long):
            if client is not None:
                client.close()

    # ------------------------------------------------------------------ per step

    def _image(self, api, image: str) -> dict[str, Any]:
        found = self._images.get(image)
        if found is None:
            found = self._images[image] = api.inspect_image(image).get("Config") or {}
        return found

    async def start(self, spec: StepSpec):
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
        for item in spec.inputs:
            if not os.path.lexists(item.source):
                return failed(f"input source {item.source} for {item.path} does not exist")
        for m in spec.mounts:     # the engine would create a missing one: the other executors do not
            if m.source is not None and not os.path.exists(m.source):
                return failed(f"volume source {Path(m.source).absolute()} for {m.path} does not exist")
        try:
            ctl, long = self._clients()
        except Exception as e:
            return failed(f"cannot reach the container engine: {e}")
        docker = _docker()
        try:
            config = await self._call(self._image, ctl, spec.image)
        except docker.errors.ImageNotFound:
            return failed(f"image {spec.image!r} is not available to the container engine "
                          f"(images are not pulled; see scripts/images)")
        except Exception as e:
            return failed(f"cannot inspect image {spec.image!r}: {e}")
        for attempt in range(1, LAUNCH_TRIES + 1):
            run = _Run(self, spec, workdir, stdout, stderr, ctl, long)
            reaper.hold(spec.workflow)        # its containers are not leftovers
            try:
                handle = await run.launch(config)
                break
            except Exception as e:
                log.debug("step %s failed to start", spec.key, exc_info=True)
                await run.discard()
                reaper.release(spec.workflow)
                if attempt == LAUNCH_TRIES or not exits.transient(e):
                    return failed(f"cannot start container: {_explain(e)}")
                # as the kubelet retries a pod's container: the engine's own hiccup (podman's
                # put_archive may lose its untar helper under load: "broken pipe")
                log.warning("step %s: the engine failed to start its container (%s); trying again",
                            spec.key, _explain(e))
                await asyncio.sleep(0.2 * attempt)
        if not isinstance(handle, DockerHandle):
            reaper.release(spec.workflow)
        return handle

    async def attach(self, spec: StepSpec, ident: dict[str, Any]):
        """Re-attach to the container of a step a Tiphys process that ended started."""
        from tiphys.executors import docker_attach
        return await docker_attach.attach(self, spec, ident)

    def create_args(self, spec: StepSpec, config: dict[str, Any]) -> dict[str, Any]:
        """The create_container arguments for `spec` (pure apart from the SDK's types)."""
        docker = _docker()
        entrypoint: list[str] | None = None
        cmd: list[str] | None = None
        if spec.command:
            entrypoint, cmd = list(spec.command), list(spec.args)
        elif spec.args:
            cmd = list(spec.args)
        if spec.script is not None:
            if cmd is None:
                cmd = [] if config.get("Entrypoint") else list(config.get("Cmd") or ["sh"])
            cmd.append(SCRIPT_PATH)
        if spec.attempts > 1:       # containerSet retryStrategy: the loop runs the image's own argv
            full = (list(config.get("Entrypoint") or []) if entrypoint is None else entrypoint) + \
                (list(config.get("Cmd") or []) if cmd is None else cmd)
            wrapped = retryloop.wrap(full, spec.attempts, spec.attempt_delay)
            entrypoint, cmd = wrapped[:4], wrapped[4:]
        lim = podman.ulimits()
        binds: list[str] = []       # a list: one host folder may be mounted at several paths
        mounts = []
        for m in spec.mounts:
            if m.source is None:
                mounts.append(docker.types.Mount(m.path, None, type="tmpfs", read_only=m.read_only))
            else:
                binds.append(f"{Path(m.source).absolute()}:{m.path}:{'ro' if m.read_only else 'rw'}")
        binds += _inputs_over_mounts(spec, spec.working_dir or config.get("WorkingDir") or "/")
        memory = spec.memory_limit
        host_config = dict(
            network_mode=self.network,
            init=True,    # an init as PID 1 (catatonit/tini), as Argo's emissary: the step is not PID 1
            ulimits=[docker.types.Ulimit(name="nofile", soft=lim["nofile"], hard=lim["nofile"]),
                     docker.types.Ulimit(name="nproc", soft=lim["nproc"], hard=lim["nproc"])],
            mem_limit=memory, memswap_limit=memory,  # Kubernetes gives no swap beyond the limit
            mem_reservation=spec.memory_request,
            nano_cpus=int(spec.cpu_limit * 1e9) if spec.cpu_limit else None,
            cpu_shares=max(2, int(spec.cpu_request * 1024)) if spec.cpu_request else None,
            binds=binds or None, mounts=mounts or None)
        user = None
        if spec.run_as_user is not None:
            user = str(spec.run_as_user) + (f":{spec.run_as_group}" if spec.run_as_group is not None else "")
        elif spec.run_as_group is not None:
            user = f"0:{spec.run_as_group}"
        labels = dict(spec.labels)
        labels.update({LABEL_STEP: spec.key, LABEL_OWNER: str(os.getpid()), LABEL_HOST: HOST,
                       LABEL_PODGC: podgc.to_label(spec.pod_gc), LABEL_WORKDIR: str(Path(spec.workdir).absolute())})
        if spec.workflow:
            labels[LABEL_WORKFLOW] = labels[LABEL_ARGO_WORKFLOW] = spec.workflow
        if spec.workflow_uid:
            labels[LABEL_WORKFLOW_UID] = spec.workflow_uid
        return dict(image=spec.image, entrypoint=entrypoint, command=cmd, environment=dict(spec.env),
                    working_dir=spec.working_dir or None, user=user, labels=labels,
                    tty=spec.tty, stdin_open=spec.tty,
                    name=f"tiphys-{_safe(spec.key)}-{uuid.uuid4().hex[:6]}", use_config_proxy=False,
                    host_config=docker.types.HostConfig(
                        self.api_version, **{k: v for k, v in host_config.items() if v is not None}))


def forget_workflow(workflow: str, base_url: str | None = None, uid: str = "") -> int:
    """The workflow is deleted: remove every container of its steps (reaper.forget_workflow).
    Only an engine that answers now is asked (none is started for this). How many."""
    url = resolve_base_url(base_url, start=False)
    if url is None or not workflow:
        return 0
    client = _docker().APIClient(base_url=url, version=API_VERSION, timeout=60)
    try:
        return reaper.forget_workflow(client, workflow, uid)
    finally:
        client.close()






def _inputs_over_mounts(spec: StepSpec, cwd: str) -> list[str]:
    """Binds (read-only: the source is the stored artifact) for the inputs a volume mount would
    hide, since the tar of inputs lands before the mounts: Argo mounts each input artifact on top
    of the pod's volumes, so an artifact at /mnt/in stays visible under an emptyDir at /mnt."""
    binds = []
    for item in spec.inputs:
        path = posixpath.normpath(posixpath.join(cwd, item.path))
        if any(path == m.path.rstrip("/") or path.startswith(m.path.rstrip("/") + "/") for m in spec.mounts):
            binds.append(f"{Path(item.source).absolute()}:{path}:ro")
    return binds


def _tar_inputs(spec: StepSpec, cwd: str) -> bytes | None:
    """One tar with the inputs and the script at their paths inside the step (no parent
    folder entries: the engine creates missing parents and existing ones keep their mode)."""
    if not spec.inputs and spec.script is None:
        return None
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for item in spec.inputs:
            dest = PurePosixPath(cwd) / item.path
            tar.add(str(item.source), arcname=str(dest).lstrip("/"), recursive=True)
        if spec.script is not None:
            data = spec.script.encode()
            info = tarfile.TarInfo(SCRIPT_PATH.lstrip("/"))
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class _Run:
    """One step's container: launch, follow, finish (outputs, OOM, removal)."""

    def __init__(self, ex: DockerExecutor, spec: StepSpec, workdir: Path, stdout: Path, stderr: Path, ctl, long):
        self.ex, self.spec, self.workdir, self.stdout, self.stderr = ex, spec, workdir, stdout, stderr
        self.ctl, self.long = ctl, long
        self.cid: str | None = None
        self.cwd = "/"
        self.argv0 = "?"
        self.streamer: asyncio.TimerHandle | None = None
        self.write_lock = threading.Lock()
        self.abandoned = False        # the step's files are final: the live stream stops writing

    async def launch(self, config: dict[str, Any]):
        spec, ex = self.spec, self.ex
        docker = _docker()
        self.cwd = spec.working_dir or config.get("WorkingDir") or "/"
        args = ex.create_args(spec, config)
        self.argv0 = next(iter(args["entrypoint"] or config.get("Entrypoint") or args["command"]
                               or config.get("Cmd") or ["?"]))
        created = await ex._call(self.ctl.create_container, **args)
        self.cid = created["Id"]
        payload = await ex._call(_tar_inputs, spec, self.cwd)
        if payload is not None:
            await ex._call(self.ctl.put_archive, self.cid, "/", payload)
        loop = asyncio.get_running_loop()
        try:
            await ex._call(self.ctl.start, self.cid)
        except docker.errors.APIError as e:
            message = _explain(e)
            code = exits.not_runnable(message)
            if code is None:
                raise
            with open(self.stderr, "a") as f:
                f.write(f"exec: {exits.exec_target(message, self.argv0)}: {'not found' if code == 127 else 'permission denied'}\n")
            await self.discard()
            return _DoneHandle(StepResult(exit_code=code, stdout=self.stdout, stderr=self.stderr,
                                          outputs={p: None for p in spec.output_paths}))
        return self.follow()

    def follow(self) -> DockerHandle:
        """Wait for the started container `cid` (one this process started, or one it
        re-attaches to: docker_attach.py) in a thread; the handle of the step."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()
        threading.Thread(target=self._wait, args=(loop, done), daemon=True, name=f"tiphys-docker-{self.spec.key}").start()
        # a step still running after STREAM_AFTER has its output streamed live into its files;
        # a quick one (most) has it read once after it exits: no attach on the critical path
        self.streamer = loop.call_later(STREAM_AFTER, self._stream_later, done)
        return DockerHandle(self, done)

    def _wait(self, loop: asyncio.AbstractEventLoop, done: asyncio.Future) -> None:
        """Thread: wait for the container to exit, report its exit code (or the exception)."""
        try:
            loop.call_soon_threadsafe(_settle, done, exits.wait_exit(self.long, self.cid, podman=self.ex._podman, poll=WAIT_POLL), None)
        except Exception as e:
            loop.call_soon_threadsafe(_settle, done, None, e)

    def _stream_later(self, done: asyncio.Future) -> None:
        if done.done():
            return
        threading.Thread(target=self._stream, daemon=True, name=f"tiphys-docker-log-{self.spec.key}").start()

    def _stream(self) -> None:
        """Thread: the output so far, then the rest live (attach) into the step's files, for
        whoever follows them while the step runs. `logs_after_exit` rewrites them whole."""
        try:
            out = self.long.logs(self.cid, stdout=True, stderr=False)
            err = self.long.logs(self.cid, stdout=False, stderr=True)
            frames = self.long.attach(self.cid, stdout=True, stderr=True, stream=True, logs=False, demux=True)
            with self.write_lock:
                if self.abandoned:
                    return
                self.stdout.write_bytes(out)
                self.stderr.write_bytes(err)
            with open(self.stdout, "ab", buffering=0) as o_f, open(self.stderr, "ab", buffering=0) as e_f:
                for o, e in frames:
                    with self.write_lock:
                        if self.abandoned:
                            return
                        if o:
                            o_f.write(o)
                        if e:
                            e_f.write(e)
        except Exception:
            log.debug("following the output of %s failed; it is read after exit", self.cid, exc_info=True)

    async def logs_after_exit(self) -> None:
        """Write the step's whole stdout/stderr (the engine's record) once the container exited."""
        if self.streamer is not None:
            self.streamer.cancel()
        out = await self.ex._call(self.ctl.logs, self.cid, stdout=True, stderr=False)
        err = await self.ex._call(self.ctl.logs, self.cid, stdout=False, stderr=True)
        with self.write_lock:
            self.abandoned = True      # a live stream still running writes nothing more
            self.stdout.write_bytes(out)
            self.stderr.write_bytes(err)

    def init_exec_failure(self, code: int) -> int:
        """The init (PID 1) could not exec the step's program: 127/126 as a shell says it."""
        try:
            with open(self.stderr, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - 512))
                tail = f.read().decode(errors="replace")
        except OSError:
            return code
        m = (re.search(r"catatonit.*failed to exec pid1: (.*)$", tail, re.M)
             or re.search(r"tini.*exec .* failed: (.*)$", tail, re.M))
        if m is None:
            return code
        new = exits.shell_code(m.group(1))
        if new is None:
            return code
        with open(self.stderr, "a") as f:
            f.write(f"exec: {self.argv0}: {'not found' if new == 127 else 'permission denied'}\n")
        return new

    def collect(self, path: str) -> Path | None:
        """Copy `path` out of the (exited) container into workdir/outputs; None if missing."""
        docker = _docker()
        full = str(PurePosixPath(self.cwd) / path)
        try:
            stream, _ = self.ctl.get_archive(self.cid, full)
            data = b"".join(stream)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as e:
            if e.status_code in (404, 500) and "no such file" in _explain(e).lower():
                return None
            raise
        dest = self.workdir / "outputs" / uuid.uuid4().hex[:8]
        dest.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = tar.getmembers()
            if not members:
                return None
            top = members[0].name.split("/")[0]
            tar.extractall(dest, filter="tar")
        found = dest / top
        return found if os.path.lexists(found) else None

    async def discard(self) -> None:
        if self.cid is None or not self.ex.remove:
            return
        try:
            await self.ex._call(reaper.remove, self.ctl, self.cid)
        except Exception as e:        # not even tried (the executor is closed)
            log.warning("could not remove container %s: %s", self.cid[:12], _explain(e))


def _settle(fut: asyncio.Future, code: int | None, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(code)


class DockerHandle:
    def __init__(self, run: _Run, done: asyncio.Future):
        self._run = run
        self._done = done
        self._stopped = False
        self._task = asyncio.ensure_future(self._finish())
        self.identity: dict[str, Any] = {"container": run.cid}   # journaled: whoever resumes re-attaches

    @property
    def container_id(self) -> str:
        return self._run.cid or ""

    async def wait(self) -> StepResult:
        return await asyncio.shield(self._task)

    async def stop(self, grace: float = 0.0) -> None:
        if self._done.done():
            return
        self._stopped = True
        run = self._run
        if grace > 0:
            await self._kill("SIGTERM")
            try:
                await asyncio.wait_for(asyncio.shield(self._done), grace)
                return
            except asyncio.TimeoutError:
                pass
            except Exception:
                return
        await self._kill("SIGKILL")
        try:
            await asyncio.wait_for(asyncio.shield(self._done), 30)
        except asyncio.TimeoutError:
            log.warning("container %s did not exit 30 s after SIGKILL", (run.cid or "")[:12])
        except Exception:
            pass

    async def _kill(self, sig: str) -> None:
        run = self._run
        try:
            # its own thread: the shared pool may be busy with slow archive copies
            await asyncio.to_thread(run.ctl.kill, run.cid, sig)
        except Exception as e:            # already exited: nothing to do
            log.debug("kill %s %s: %s", (run.cid or "")[:12], sig, _explain(e))

    async def _finish(self) -> StepResult:
        try:
            return await self._result()
        finally:
            reaper.release(self._run.spec.workflow)

    async def _result(self) -> StepResult:
        run, spec = self._run, self._run.spec
        outputs: dict[str, Path | None] = {p: None for p in spec.output_paths}
        try:
            code = await self._done
        except Exception as e:
            await run.discard()
            return StepResult(exit_code=None, stdout=run.stdout, stderr=run.stderr, outputs=outputs,
                              stopped=self._stopped, error=f"lost the container: {_explain(e)}")
        error = None
        oom = False
        try:
            await run.logs_after_exit()
            if code not in (0, None) and not self._stopped:
                code = await run.ex._call(run.init_exec_failure, code)
            if code == 137 or spec.memory_limit is not None:    # only a killed step can be OOMKilled
                state = (await run.ex._call(run.ctl.inspect_container, run.cid)).get("State") or {}
                oom = bool(state.get("OOMKilled"))
                if not oom and not self._stopped:
                    oom = await run.ex._call(kernel_oom, run.cid)
            for p in spec.output_paths:
                outputs[p] = await run.ex._call(run.collect, p)
        except Exception as e:
            error = f"cannot collect the step's logs and outputs: {_explain(e)}"
        succeeded = error is None and code == 0 and not oom and not self._stopped
        # a step outside any workflow has no workflow's end to wait for
        if spec.pod_gc.at_step_end(dict(spec.labels), succeeded) or not spec.workflow:
            run.ex.remove_later(run.cid, spec.pod_gc.delay)   # off the critical path; flush() waits
        if oom:
            code = 137
        return StepResult(exit_code=code if error is None else None, stdout=run.stdout, stderr=run.stderr,
                          outputs=outputs, oom_killed=oom, stopped=self._stopped, error=error)
