"""Run each step as a real local process, sandboxed with bubblewrap when available.

See README.md in this folder for the invariants. In short, a sandboxed step sees:

    /                  spec.workdir/root on the host, writable, private to the step (a tmpfs
                       instead when nothing is read back from it: `in_memory_root`)
    /usr /etc /opt /var  the host's, read-only (/bin /lib* /sbin recreated as symlinks)
    /dev /proc         fresh (bwrap --dev / --proc), pid/ipc/uts/cgroup namespaces
    /tmp /root /mnt /home /srv /media  plain folders of the private root (so they survive for collection)
    /.tiphys/bin       read-only shims, first on PATH: python, argosay, cowsay
    network            the host's (Argo pods have network)
    volumes            spec.mounts bound at their paths (--bind/--ro-bind of the host source,
                       a tmpfs for an in-memory emptyDir); a mount inside a read-only system
                       folder must exist on the host. Outputs under a mount are read from its
                       source, outputs in a system folder from the host's (what the step saw).
                       Unsandboxed, a step with volumeMounts is an Error.

so anything the step writes outside the read-only system folders lands under
spec.workdir/root and is collected from there after the process exits.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tiphys.errors import InfrastructureError
from tiphys.executors import detached, retryloop
from tiphys.executors.base import StepResult, StepSpec
from tiphys.executors.bubblewrap import (
    ARGOSAY_IN_SANDBOX, DEFAULT_CAPS, DEFAULT_PATH, SCRIPT_IN_SANDBOX, SHIM_DIR_IN_SANDBOX,
    SYSTEM_DIRS, base_args, resolve_in_root,
)
from tiphys.executors.bubblewrap import command as bubblewrap_command
from tiphys.executors.bubblewrap import (
    env_file, inputs_over_mounts, memory_file, mount_args, mount_sources, place_mounts,
)
from tiphys.executors.cgroups import _Cgroups, _Group, _safe_name
from tiphys.executors.handles import LocalHandle, _DoneHandle, _Run
from tiphys.executors.images import KNOWN_IMAGES, default_argv, image_known, install_shims, parse_image

# The building blocks live in bubblewrap.py (command line), cgroups.py (limits), images.py
# (entrypoints, shims) and handles.py (running steps); these names stay importable from here.
__all__ = ["ARGOSAY_IN_SANDBOX", "DEFAULT_CAPS", "DEFAULT_PATH", "KNOWN_IMAGES", "SCRIPT_IN_SANDBOX",
           "SHIM_DIR_IN_SANDBOX", "SYSTEM_DIRS", "LocalExecutor", "LocalHandle", "default_argv",
           "image_known", "parse_image", "resolve_in_root"]

log = logging.getLogger(__name__)

_warned_no_bwrap = False
_warned_images: set[str] = set()


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _in_system(path: str) -> str | None:
    """The read-only system folder (bound from the host) holding the sandbox path `path`."""
    return next((d for d in SYSTEM_DIRS if _under(path, "/" + d) and os.path.lexists("/" + d)), None)


def _sandbox_cwd(spec: StepSpec) -> tuple[str, str | None]:
    """A sandboxed step's working dir, and the problem with it (a missing one in a read-only
    system folder cannot be made)."""
    cwd = spec.working_dir or "/"
    if not cwd.startswith("/"):
        cwd = "/" + cwd
    system = _in_system(cwd)
    if system and not os.path.isdir(cwd):
        return cwd, f"workingDir {cwd} is inside the read-only system folder /{system} and does not exist"
    return cwd, None


def _place(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(source, dest)


class LocalExecutor:
    """Runs steps as local processes; `sandbox=None` picks bubblewrap when installed."""

    name = "local"

    def __init__(self, sandbox: bool | None = None):
        global _warned_no_bwrap
        bwrap = shutil.which("bwrap")
        if sandbox is None:
            sandbox = bwrap is not None
            if not sandbox and not _warned_no_bwrap:
                _warned_no_bwrap = True
                log.warning("bubblewrap (bwrap) not found: steps run unsandboxed and share the "
                            "host filesystem (paths such as /tmp/out.txt collide between steps)")
        if sandbox and bwrap is None:
            raise InfrastructureError("sandbox requested but bubblewrap (bwrap) is not installed")
        self.sandbox = sandbox
        self._bwrap = bwrap
        self._shim_dir: Path | None = None
        self._cgroups: _Cgroups | None = None
        self._base_args: list[str] | None = None

    # -- once per executor

    def _shims(self) -> Path:
        """The shims folder: one per user, Python and shim version, never removed while in use,
        for steps outlive this process and bind it (a step being set up after Tiphys ended
        must still find it)."""
        if self._shim_dir is None:
            import hashlib
            import sys
            from tiphys.executors import images
            tag = hashlib.sha256(f"{self.sandbox}\0{sys.executable}\0".encode()
                                 + Path(images.__file__).read_bytes()).hexdigest()[:16]
            d = Path(tempfile.gettempdir()) / f"tiphys-shims-{os.getuid()}-{tag}"
            if not (d / ".complete").exists():
                tmp = Path(tempfile.mkdtemp(prefix="tiphys-shims-"))
                install_shims(tmp, self.sandbox)
                (tmp / ".complete").touch()
                try:
                    os.rename(tmp, d)
                except OSError:          # another process made it meanwhile
                    shutil.rmtree(tmp, ignore_errors=True)
            self._shim_dir = d
        return self._shim_dir

    def _limits(self) -> _Cgroups:
        if self._cgroups is None:
            self._cgroups = _Cgroups()
        return self._cgroups

    def _bwrap_base(self) -> list[str]:
        if self._base_args is None:
            self._base_args = base_args(self._shims())
        return self._base_args

    # -- per step

    def _argv(self, spec: StepSpec, argosay: str, script: str | None) -> list[str] | None:
        if spec.command:
            argv = [*spec.command, *spec.args]
        else:
            argv = default_argv(spec.image, spec.args, argosay)
            if argv is None:
                if script is None:
                    return None
                argv = ["sh"]
        if script is not None:
            argv.append(script)
        return argv

    def _warn_image(self, image: str) -> None:
        if not image_known(image) and image not in _warned_images:
            _warned_images.add(image)
            log.warning("image %r is not emulated: its command runs with this host's tools", image)

    async def start(self, spec: StepSpec):
        workdir = Path(spec.workdir).absolute()
        stdout, stderr = workdir / "stdout", workdir / "stderr"

        def failed(msg: str, exit_code: int | None = None) -> _DoneHandle:
            return _DoneHandle(StepResult(exit_code=exit_code, stdout=stdout, stderr=stderr,
                                          outputs={p: None for p in spec.output_paths},
                                          error=msg if exit_code is None else None))

        try:
            workdir.mkdir(parents=True, exist_ok=True)
            out_f = open(stdout, "wb")
        except OSError as e:
            return failed(f"cannot prepare step folder {workdir}: {e}")
        try:
            err_f = open(stderr, "wb")
        except OSError as e:
            out_f.close()
            return failed(f"cannot prepare step folder {workdir}: {e}")
        try:
            self._warn_image(spec.image)
            if self.sandbox:
                return await self._start_sandboxed(spec, workdir, stdout, stderr, out_f, err_f, failed)
            return await self._start_host(spec, workdir, stdout, stderr, out_f, err_f, failed)
        except Exception as e:  # never let OSError and friends leak to the engine
            log.debug("step %s failed to start", spec.key, exc_info=True)
            return failed(f"cannot start step: {type(e).__name__}: {e}")
        finally:
            out_f.close()
            err_f.close()

    def _env(self, spec: StepSpec, path: str, home: str, extra: dict[str, str]) -> dict[str, str]:
        env = {"PATH": path, "HOME": home, **extra}
        env.update(dict(spec.env))
        return env

    def _group(self, spec: StepSpec) -> _Group | None:
        if spec.memory_limit is None and spec.cpu_limit is None:
            return None
        return self._limits().create(spec.key, spec.memory_limit, spec.cpu_limit)

    async def _start_sandboxed(self, spec, workdir, stdout, stderr, out_f, err_f, failed):
        if in_memory_root(spec):
            return self._start_in_memory(spec, workdir, stdout, stderr, out_f, err_f, failed)
        root = workdir / "root"
        if root.exists() or root.is_symlink():
            await asyncio.to_thread(shutil.rmtree, root)
        root.mkdir()
        cwd, problem = _sandbox_cwd(spec)
        if problem:
            return failed(problem)
        if not _in_system(cwd):
            (root / cwd.lstrip("/")).mkdir(parents=True, exist_ok=True)
        for item in spec.inputs:
            if _in_system(item.path):
                return failed(f"input path {item.path} is inside the read-only system folder "
                              f"/{_in_system(item.path)}")
            if not os.path.lexists(item.source):
                return failed(f"input source {item.source} for {item.path} does not exist")
        input_paths = [item.path if item.path.startswith("/") else cwd.rstrip("/") + "/" + item.path
                       for item in spec.inputs]
        if spec.inputs:
            def place_all():
                for item, dest in zip(spec.inputs, input_paths):
                    _place(Path(item.source), root / dest.lstrip("/"))
            await asyncio.to_thread(place_all)
        script = None
        if spec.script is not None:
            staging = root / "argo" / "staging"
            staging.mkdir(parents=True)
            (staging / "script").write_text(spec.script)
            os.chmod(staging / "script", 0o755)
            script = SCRIPT_IN_SANDBOX
        argv = self._argv(spec, ARGOSAY_IN_SANDBOX, script)
        if argv is None:
            return failed(f"image {spec.image!r} has no known entrypoint: set command")
        try:
            mounts = place_mounts(root, spec.mounts, _in_system) if spec.mounts else []
        except InfrastructureError as e:
            return failed(str(e))
        extra_binds = mount_args(mounts) + inputs_over_mounts(root, input_paths, mounts)
        return self._spawn_sandboxed(spec, workdir, stdout, stderr, out_f, err_f, root, cwd, argv,
                                     extra_binds, mount_sources(spec.mounts, mounts))

    def _start_in_memory(self, spec, workdir, stdout, stderr, out_f, err_f, failed):
        """A step nothing is read back from (no output path, input, volume or memory limit)
        gets a tmpfs as `/`: bwrap makes its folders in memory, there is no root folder to
        create on disk, fill with mount points and remove afterwards (issue 11's per-step
        cost); the script is copied in from an in-memory file."""
        cwd, problem = _sandbox_cwd(spec)
        if problem:
            return failed(problem)
        extra: list[str] = []
        if cwd != "/" and not _in_system(cwd):
            extra += ["--dir", cwd]
        script_fd = None
        if spec.script is not None:
            script_fd = memory_file("tiphys-step-script", spec.script.encode())
            extra += ["--perms", "0755", "--file", str(script_fd), SCRIPT_IN_SANDBOX]
        try:
            argv = self._argv(spec, ARGOSAY_IN_SANDBOX, None if script_fd is None else SCRIPT_IN_SANDBOX)
            if argv is None:
                return failed(f"image {spec.image!r} has no known entrypoint: set command")
            return self._spawn_sandboxed(spec, workdir, stdout, stderr, out_f, err_f, None, cwd, argv,
                                         extra, (), () if script_fd is None else (script_fd,))
        finally:
            if script_fd is not None:
                os.close(script_fd)

    def _spawn_sandboxed(self, spec, workdir, stdout, stderr, out_f, err_f, root, cwd, argv, extra_binds,
                         mounts, fds=()):
        """Start bwrap for a prepared step (`root` None: an in-memory root)."""
        if parse_image(spec.image)[0] == "argoproj/argosay":
            extra_binds = ["--ro-bind", str(self._shims() / "argosay"), ARGOSAY_IN_SANDBOX, *extra_binds]
        argv = retryloop.wrap(argv, spec.attempts, spec.attempt_delay)
        hostname = _safe_name(spec.key.lower()).replace("_", "-").replace(".", "-") or "step"
        env = self._env(spec, f"{SHIM_DIR_IN_SANDBOX}:{DEFAULT_PATH}", "/root",
                        {"HOSTNAME": hostname})
        base = self._bwrap_base()
        status = workdir / detached.STATUS
        w = detached.open_status(status)
        env_fd = env_file(env)
        bw = bubblewrap_command(self._bwrap, root, base, extra_binds, hostname, env, w, cwd, argv, env_fd)
        run = _Run(spec, workdir, stdout, stderr, True, root, cwd, status_path=status, argv0=argv[0],
                   mounts=mounts)
        try:
            run.group = self._group(spec)
            full = run.group.wrap(bw) if run.group else bw
            detached.save_identity(workdir, {"pid": None, "run": run.to_json()})   # Tiphys may die while spawning
            proc = detached.Process.spawn_step(full, spec.tty, stdout=out_f, stderr=err_f,
                                          pass_fds=(w, env_fd, *fds), cwd=str(workdir), env={})
        except BaseException:
            if run.group:
                run.group.remove()
            raise
        finally:
            os.close(w)
            os.close(env_fd)
        return LocalHandle(proc, run)

    async def _start_host(self, spec, workdir, stdout, stderr, out_f, err_f, failed):
        if spec.mounts:
            return failed("volumeMounts need the bubblewrap sandbox, which is off here "
                          "(install bubblewrap, or use the sandbox or docker executor)")
        cwd = spec.working_dir if spec.working_dir and os.path.isdir(spec.working_dir) else str(workdir)
        for item in spec.inputs:
            if not os.path.lexists(item.source):
                return failed(f"input source {item.source} for {item.path} does not exist")
        if spec.inputs:
            def place_all():
                for item in spec.inputs:
                    _place(Path(item.source), Path(cwd) / item.path)
            await asyncio.to_thread(place_all)
        script = None
        if spec.script is not None:
            (workdir / "script").write_text(spec.script)
            os.chmod(workdir / "script", 0o755)
            script = str(workdir / "script")
        shims = self._shims()
        argv = self._argv(spec, str(shims / "argosay"), script)
        if argv is None:
            return failed(f"image {spec.image!r} has no known entrypoint: set command")
        if argv[0] == ARGOSAY_IN_SANDBOX:
            argv[0] = str(shims / "argosay")
        argv = retryloop.wrap(argv, spec.attempts, spec.attempt_delay)
        extra = {k: os.environ[k] for k in ("LANG", "LC_ALL", "TZ", "USER", "LOGNAME")
                 if k in os.environ}
        env = self._env(spec, f"{shims}:{os.environ.get('PATH', DEFAULT_PATH)}",
                        os.environ.get("HOME", "/root"), extra)
        if not _runnable(argv[0], env["PATH"], cwd):
            err_f.write(f"exec: {argv[0]}: not found\n".encode())
            err_f.flush()
            return failed("", exit_code=127)
        status = workdir / detached.STATUS
        status.unlink(missing_ok=True)
        run = _Run(spec, workdir, stdout, stderr, False, None, cwd, status_path=status, argv0=argv[0])
        run.group = self._group(spec)
        wrapped = detached.host_wrapper(argv, status)
        full = run.group.wrap(wrapped) if run.group else wrapped
        try:
            detached.save_identity(workdir, {"pid": None, "run": run.to_json()})   # Tiphys may die while spawning
            proc = detached.Process.spawn_step(full, spec.tty, stdout=out_f, stderr=err_f,
                                          cwd=cwd, env=env)
        except BaseException:
            if run.group:
                run.group.remove()
            raise
        return LocalHandle(proc, run)

    async def attach(self, spec: StepSpec, ident: dict):
        """Take over a step a Tiphys process that ended started (its recorded identity): wait
        for it if it still runs, collect it if it ended meanwhile."""
        return LocalHandle.from_identity(spec, ident)


def in_memory_root(spec: StepSpec) -> bool:
    """Whether a sandboxed step's `/` can be a tmpfs: nothing is placed in it beforehand or
    read back afterwards, and no memory limit to charge its writes to (on disk they are not)."""
    return not (spec.output_paths or spec.inputs or spec.mounts) and spec.memory_limit is None


def _runnable(program: str, path: str, cwd: str) -> bool:
    """Whether `program` can be found as a shell would look for it (an unsandboxed step's
    'not found' is told as `exec` says it, exit code 127)."""
    if "/" in program:
        return os.path.exists(program if program.startswith("/") else os.path.join(cwd, program))
    return shutil.which(program, path=path) is not None
