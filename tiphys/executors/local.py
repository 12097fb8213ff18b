"""Run each step as a real local process, sandboxed with bubblewrap when available.

See README.md in this folder for the invariants. In short, a sandboxed step sees:

    /                  spec.workdir/root on the host, writable, private to the step
    /usr /etc /opt /var  the host's, read-only (/bin /lib* /sbin recreated as symlinks)
    /dev /proc         fresh (bwrap --dev / --proc), pid/ipc/uts/cgroup namespaces
    /tmp /root         plain folders of the private root (so /tmp survives for collection)
    /.tiphys/bin       read-only shims, first on PATH: python, argosay, cowsay
    network            the host's (Argo pods have network)

so anything the step writes outside the read-only system folders lands under
spec.workdir/root and is collected from there after the process exits.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import re
import shutil
import signal
import stat
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from tiphys.errors import InfrastructureError
from tiphys.executors.argosay import SCRIPT as ARGOSAY_SCRIPT
from tiphys.executors.base import StepResult, StepSpec

log = logging.getLogger(__name__)

SHIM_DIR_IN_SANDBOX = "/.tiphys/bin"
SCRIPT_IN_SANDBOX = "/argo/staging/script"
ARGOSAY_IN_SANDBOX = "/argosay"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Host top-level folders offered read-only inside the sandbox (when they exist); symlinks
# among them (/bin -> usr/bin on merged-/usr hosts) are recreated as symlinks.
SYSTEM_DIRS = ("usr", "etc", "opt", "var", "bin", "sbin", "lib", "lib32", "lib64", "libx32")

# Docker's default capability set minus MKNOD (bwrap's /dev has no device cgroup behind it).
DEFAULT_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW",
                "CAP_SYS_CHROOT", "CAP_AUDIT_WRITE", "CAP_SETFCAP")

KNOWN_IMAGES = ("busybox", "alpine", "ubuntu", "debian", "python", "bash",
                "argoproj/argosay", "docker/whalesay")

_warned_no_bwrap = False
_warned_images: set[str] = set()


# --------------------------------------------------------------------------- images

def parse_image(image: str) -> tuple[str, str]:
    """`docker.io/library/python:3.11@sha256:..` -> ("python", "3.11")."""
    ref = image.strip().split("@", 1)[0]
    name, tag = ref, ""
    slash, colon = ref.rfind("/"), ref.rfind(":")
    if colon > slash:
        name, tag = ref[:colon], ref[colon + 1:]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts).lower(), tag


def image_known(image: str) -> bool:
    return parse_image(image)[0] in KNOWN_IMAGES


def default_argv(image: str, args: tuple[str, ...], argosay: str) -> list[str] | None:
    """argv for a container without `command`: the image's ENTRYPOINT/CMD semantics.

    None when the image is unknown and there is nothing to run."""
    name, tag = parse_image(image)
    args_l = list(args)
    if name == "argoproj/argosay":
        if tag.startswith("v1"):                 # Ubuntu + cowsay, CMD cowsay, no ENTRYPOINT
            return args_l or ["cowsay"]
        return [argosay, *args_l]                # v2: ENTRYPOINT /argosay
    if name == "docker/whalesay":
        return args_l if args_l[:1] == ["cowsay"] else ["cowsay", *args_l]
    if name == "bash":                           # docker-entrypoint.sh prefixes bash for flags
        if not args_l or args_l[0].startswith("-"):
            return ["bash", *args_l]
        return args_l
    if name in KNOWN_IMAGES:
        return args_l or ["sh"]
    return args_l or None


# --------------------------------------------------------------------------- paths

def resolve_in_root(root: Path, path: str, cwd: str = "/") -> Path | None:
    """Host path of `path` as seen inside a sandbox whose / is `root`, or None if missing.

    Symlinks are followed as the step would see them (absolute targets re-rooted, `..`
    clamped at /), so the result is always inside `root`."""
    if not path.startswith("/"):
        path = cwd.rstrip("/") + "/" + path
    pending = [p for p in path.split("/") if p]
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        host = root.joinpath(*done, part)
        try:
            st = os.lstat(host)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > 40:
                return None
            target = os.readlink(host)
            if target.startswith("/"):
                done = []
            pending = [p for p in target.split("/") if p] + pending
            continue
        done.append(part)
    result = root.joinpath(*done)
    return result if os.path.lexists(result) else None


def _safe_name(text: str, limit: int = 63) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:limit]
    return name or "step"


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _place(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(source, dest)


# --------------------------------------------------------------------------- cgroups

@dataclass
class _Group:
    dirs: list[Path]
    kind: str                                  # "v1" | "v2" | "rlimit"
    memory_dir: Path | None = None
    rlimit_kb: int | None = None

    def wrap(self, argv: list[str]) -> list[str]:
        """Prefix argv with a tiny sh that joins the cgroups (or sets RLIMIT_AS) then execs.

        Used instead of preexec_fn: no Python runs between fork and exec, so it is safe
        next to asyncio's watcher threads, and the payload is confined before bwrap forks."""
        if self.kind == "rlimit":
            script = f'ulimit -v {self.rlimit_kb} && exec "$@"'
            return ["/bin/sh", "-c", script, "tiphys-limit", *argv]
        joins = " && ".join(f'echo $$ > "{d}/cgroup.procs"' for d in self.dirs)
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "tiphys-limit", *argv]

    def oom_killed(self) -> bool:
        if self.memory_dir is None:
            return False
        name = "memory.oom_control" if self.kind == "v1" else "memory.events"
        try:
            text = (self.memory_dir / name).read_text()
        except OSError:
            return False
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit() and int(value) > 0:
                return True
        return False

    def remove(self) -> None:
        for d in self.dirs:
            for attempt in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    # leftovers (unsandboxed background processes): kill them, retry
                    try:
                        for pid in (d / "cgroup.procs").read_text().split():
                            try:
                                os.kill(int(pid), signal.SIGKILL)
                            except (ProcessLookupError, ValueError):
                                pass
                    except OSError:
                        pass
                    time.sleep(0.01)
            else:
                log.warning("could not remove cgroup %s", d)


class _Cgroups:
    """Detects once how limits can be applied on this host and creates per-step groups.

    Groups are created as children of the cgroup this process already lives in (so any
    limit the host puts on the engine still covers its steps), one flat folder per step,
    `<own>/tiphys-<key>-<pid>-<n>`, removed when the step ends: nothing is left behind."""

    def __init__(self) -> None:
        self.kind = "rlimit"
        self.mem_parent: Path | None = None
        self.cpu_parent: Path | None = None
        self.v2_parent: Path | None = None
        self._counter = itertools.count()
        try:
            self._detect()
        except OSError as e:
            log.debug("cgroups unavailable: %s", e)
            self.kind = "rlimit"

    @staticmethod
    def _own_paths() -> dict[str, str]:
        paths: dict[str, str] = {}
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                paths[c] = path
        return paths

    def _detect(self) -> None:
        own = self._own_paths()
        v1_mem = Path("/sys/fs/cgroup/memory")
        if "memory" in own and (v1_mem / "memory.limit_in_bytes").exists():
            parent = v1_mem / own["memory"].lstrip("/")
            self._probe(parent)
            self.mem_parent = parent
            self.kind = "v1"
            for ctl in ("cpu", "cpu,cpuacct"):
                base = Path("/sys/fs/cgroup") / ctl
                if "cpu" in own and (base / "cpu.cfs_quota_us").exists():
                    try:
                        cpu_parent = base / own["cpu"].lstrip("/")
                        self._probe(cpu_parent)
                        self.cpu_parent = cpu_parent
                    except OSError:
                        pass
                    break
            return
        root = Path("/sys/fs/cgroup")
        if "" in own and "memory" in (root / "cgroup.controllers").read_text().split():
            # pure v2: memory must be delegated to our children, which the kernel refuses
            # while this process sits in that same (non-root) group: then rlimit it is
            parent = root / own[""].lstrip("/")
            (parent / "cgroup.subtree_control").write_text("+memory")
            try:
                (parent / "cgroup.subtree_control").write_text("+cpu")
            except OSError:
                pass
            self._probe(parent)
            self.v2_parent = parent
            self.kind = "v2"

    def _probe(self, parent: Path) -> None:
        """Raise OSError unless a child group can be created (and removed) under parent."""
        d = parent / f"tiphys-probe-{os.getpid()}-{next(self._counter)}"
        d.mkdir()
        d.rmdir()

    def create(self, key: str, memory: int | None, cpu: float | None) -> _Group | None:
        if memory is None and cpu is None:
            return None
        name = f"tiphys-{_safe_name(key, 80)}-{os.getpid()}-{next(self._counter)}"
        if self.kind == "v1":
            group = _Group([], "v1")
            try:
                if memory is not None:
                    d = self.mem_parent / name
                    d.mkdir()
                    group.dirs.append(d)
                    group.memory_dir = d
                    (d / "memory.limit_in_bytes").write_text(str(memory))
                    try:
                        (d / "memory.memsw.limit_in_bytes").write_text(str(memory))
                    except OSError:
                        pass
                if cpu is not None and self.cpu_parent is not None:
                    d = self.cpu_parent / name
                    d.mkdir()
                    group.dirs.append(d)
                    (d / "cpu.cfs_period_us").write_text("100000")
                    (d / "cpu.cfs_quota_us").write_text(str(max(1000, int(cpu * 100000))))
            except OSError:
                group.remove()
                raise
            return group if group.dirs else None
        if self.kind == "v2":
            d = self.v2_parent / name
            d.mkdir()
            group = _Group([d], "v2", memory_dir=d if memory is not None else None)
            try:
                if memory is not None:
                    (d / "memory.max").write_text(str(memory))
                    try:
                        (d / "memory.swap.max").write_text("0")
                    except OSError:
                        pass
                if cpu is not None and (d / "cpu.max").exists():
                    (d / "cpu.max").write_text(f"{max(1000, int(cpu * 100000))} 100000")
            except OSError:
                group.remove()
                raise
            return group
        if memory is not None:
            return _Group([], "rlimit", rlimit_kb=max(1, memory // 1024))
        return None


# --------------------------------------------------------------------------- handles

class _DoneHandle:
    """A step that never ran (or failed before its process existed)."""

    def __init__(self, result: StepResult):
        self._result = result

    async def wait(self) -> StepResult:
        return self._result

    async def stop(self, grace: float = 0.0) -> None:
        return None


@dataclass
class _Run:
    spec: StepSpec
    workdir: Path
    stdout: Path
    stderr: Path
    sandboxed: bool
    root: Path | None            # sandbox root on the host
    cwd: str                     # the step's working dir (in-sandbox path when sandboxed)
    group: _Group | None = None
    status_fd: int | None = None
    status: bytes = b""
    argv0: str = ""


class LocalHandle:
    def __init__(self, proc: asyncio.subprocess.Process, run: _Run):
        self._proc = proc
        self._run = run
        self._stopped = False
        self._task = asyncio.ensure_future(self._finish())

    @property
    def pid(self) -> int:
        return self._proc.pid

    async def wait(self) -> StepResult:
        return await asyncio.shield(self._task)

    # -- stopping

    def _child_pid(self) -> int | None:
        """Host pid of bwrap's child (pid 1 of the step's pid namespace)."""
        self._read_status()
        for line in self._run.status.splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if "child-pid" in doc:
                return int(doc["child-pid"])
        return None

    def _signal(self, sig: int) -> None:
        try:
            if self._run.sandboxed:
                child = self._child_pid()
                if child is None:
                    self._proc.send_signal(sig)   # bwrap dies; --die-with-parent does the rest
                elif sig == signal.SIGKILL:
                    # killing the namespace's init makes the kernel kill and reap every
                    # process in it; bwrap then reaps the init and exits: no orphans
                    os.kill(child, signal.SIGKILL)
                else:
                    # the payload runs in the init's process group (--new-session); the
                    # init itself ignores signals it has no handler for
                    os.killpg(child, sig)
            else:
                os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            pass

    async def stop(self, grace: float = 0.0) -> None:
        if self._task.done() or self._proc.returncode is not None:
            return
        self._stopped = True
        if grace > 0:
            self._signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace)
                return
            except asyncio.TimeoutError:
                pass
        self._signal(signal.SIGKILL)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 10)
        except asyncio.TimeoutError:
            log.warning("step %s did not exit 10 s after SIGKILL", self._run.spec.key)

    # -- completion

    def _read_status(self) -> None:
        fd = self._run.status_fd
        if fd is None:
            return
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                os.close(fd)
                self._run.status_fd = None
                return
            self._run.status += chunk

    def _stderr_tail(self) -> str:
        try:
            with open(self._run.stderr, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 4096))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    async def _finish(self) -> StepResult:
        run = self._run
        rc = await self._proc.wait()
        if rc < 0:
            rc = 128 - rc
        error = None
        exit_code: int | None = rc
        if run.sandboxed:
            self._read_status()
            if run.status_fd is not None:          # should be at EOF: every writer is gone
                os.close(run.status_fd)
                run.status_fd = None
            codes = [json.loads(line)["exit-code"] for line in run.status.splitlines()
                     if b"exit-code" in line]
            if codes:
                exit_code = int(codes[-1])
            elif not self._stopped:
                tail = self._stderr_tail()
                m = re.search(r"bwrap: execvp (.*?): (.*)$", tail, re.M)
                if m:
                    exit_code = 126 if "ermission" in m.group(2) else 127
                    self._append_stderr(f"exec: {m.group(1)}: {'permission denied' if exit_code == 126 else 'not found'}\n")
                else:
                    lines = [ln for ln in tail.splitlines() if ln.startswith("bwrap:")]
                    exit_code = None
                    error = "sandbox setup failed: " + (lines[-1] if lines else f"bwrap exited with {rc}")
        else:
            # container semantics: when the main process ends, the rest of its group goes
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        oom = False
        if run.group is not None:
            oom = run.group.oom_killed()
            if run.group.dirs:
                await asyncio.to_thread(run.group.remove)
        if oom:
            exit_code = 137
        outputs = {p: self._collect(p) for p in run.spec.output_paths}
        return StepResult(exit_code=exit_code, stdout=run.stdout, stderr=run.stderr,
                          outputs=outputs, oom_killed=oom, stopped=self._stopped, error=error)

    def _append_stderr(self, text: str) -> None:
        try:
            with open(self._run.stderr, "a") as f:
                f.write(text)
        except OSError:
            pass

    def _collect(self, path: str) -> Path | None:
        run = self._run
        if run.sandboxed:
            try:
                return resolve_in_root(run.root, path, run.cwd)
            except OSError:
                return None
        host = Path(path) if path.startswith("/") else Path(run.cwd) / path
        return host if os.path.lexists(host) else None


# --------------------------------------------------------------------------- executor

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
        if self._shim_dir is None:
            d = Path(tempfile.mkdtemp(prefix="tiphys-shims-"))
            weakref.finalize(self, shutil.rmtree, str(d), True)
            os.chmod(d, 0o755)
            (d / "argosay").write_text(ARGOSAY_SCRIPT)
            os.chmod(d / "argosay", 0o755)
            python = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3")
                           if os.access(p, os.X_OK)), None)
            if python is None and not self.sandbox:
                python = shutil.which("python3")
            if python:
                os.symlink(python, d / "python")
            if os.access("/usr/games/cowsay", os.X_OK):
                os.symlink("/usr/games/cowsay", d / "cowsay")
            self._shim_dir = d
        return self._shim_dir

    def _limits(self) -> _Cgroups:
        if self._cgroups is None:
            self._cgroups = _Cgroups()
        return self._cgroups

    def _bwrap_base(self) -> list[str]:
        if self._base_args is None:
            args: list[str] = []
            for name in SYSTEM_DIRS:
                host = "/" + name
                if os.path.islink(host):
                    args += ["--symlink", os.readlink(host), host]
                elif os.path.isdir(host):
                    args += ["--ro-bind", host, host]
            args += ["--dev", "/dev", "--proc", "/proc",
                     "--ro-bind", str(self._shims()), SHIM_DIR_IN_SANDBOX,
                     "--perms", "1777", "--dir", "/tmp", "--dir", "/root", "--dir", "/run",
                     "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                     "--die-with-parent", "--new-session", "--clearenv"]
            if os.geteuid() == 0:
                args += ["--cap-drop", "ALL"]
                for cap in DEFAULT_CAPS:
                    args += ["--cap-add", cap]
            else:
                args += ["--unshare-user", "--uid", "0", "--gid", "0"]
            self._base_args = args
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
        root = workdir / "root"
        if root.exists() or root.is_symlink():
            await asyncio.to_thread(shutil.rmtree, root)
        root.mkdir()
        system = [d for d in SYSTEM_DIRS if os.path.lexists("/" + d)]

        def in_system(path: str) -> str | None:
            return next((d for d in system if _under(path, "/" + d)), None)

        cwd = spec.working_dir or "/"
        if not cwd.startswith("/"):
            cwd = "/" + cwd
        if in_system(cwd):
            if not os.path.isdir(cwd):
                return failed(f"workingDir {cwd} is inside the read-only system folder "
                              f"/{in_system(cwd)} and does not exist")
        else:
            (root / cwd.lstrip("/")).mkdir(parents=True, exist_ok=True)
        for item in spec.inputs:
            if in_system(item.path):
                return failed(f"input path {item.path} is inside the read-only system folder "
                              f"/{in_system(item.path)}")
            if not os.path.lexists(item.source):
                return failed(f"input source {item.source} for {item.path} does not exist")
        if spec.inputs:
            def place_all():
                for item in spec.inputs:
                    dest = item.path if item.path.startswith("/") else cwd.rstrip("/") + "/" + item.path
                    _place(Path(item.source), root / dest.lstrip("/"))
            await asyncio.to_thread(place_all)
        script = None
        if spec.script is not None:
            staging = root / "argo" / "staging"
            staging.mkdir(parents=True)
            (staging / "script").write_text(spec.script)
            os.chmod(staging / "script", 0o755)
            script = SCRIPT_IN_SANDBOX
        name, _ = parse_image(spec.image)
        extra_binds: list[str] = []
        if name == "argoproj/argosay":
            extra_binds = ["--ro-bind", str(self._shims() / "argosay"), ARGOSAY_IN_SANDBOX]
        argv = self._argv(spec, ARGOSAY_IN_SANDBOX, script)
        if argv is None:
            return failed(f"image {spec.image!r} has no known entrypoint: set command")
        hostname = _safe_name(spec.key.lower()).replace("_", "-").replace(".", "-") or "step"
        env = self._env(spec, f"{SHIM_DIR_IN_SANDBOX}:{DEFAULT_PATH}", "/root",
                        {"HOSTNAME": hostname})
        bw = [self._bwrap, "--bind", str(root), "/", *self._bwrap_base(), *extra_binds,
              "--hostname", hostname]
        for k, v in env.items():
            bw += ["--setenv", k, v]
        r, w = os.pipe()
        os.set_blocking(r, False)
        bw += ["--json-status-fd", str(w), "--chdir", cwd, "--", *argv]
        run = _Run(spec, workdir, stdout, stderr, True, root, cwd, status_fd=r, argv0=argv[0])
        try:
            run.group = self._group(spec)
            full = run.group.wrap(bw) if run.group else bw
            proc = await asyncio.create_subprocess_exec(
                *full, stdin=asyncio.subprocess.DEVNULL, stdout=out_f, stderr=err_f,
                pass_fds=(w,), start_new_session=True, cwd=str(workdir), env={})
        except BaseException:
            os.close(r)
            if run.group:
                run.group.remove()
            raise
        finally:
            os.close(w)
        return LocalHandle(proc, run)

    async def _start_host(self, spec, workdir, stdout, stderr, out_f, err_f, failed):
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
        extra = {k: os.environ[k] for k in ("LANG", "LC_ALL", "TZ", "USER", "LOGNAME")
                 if k in os.environ}
        env = self._env(spec, f"{shims}:{os.environ.get('PATH', DEFAULT_PATH)}",
                        os.environ.get("HOME", "/root"), extra)
        run = _Run(spec, workdir, stdout, stderr, False, None, cwd, argv0=argv[0])
        run.group = self._group(spec)
        full = run.group.wrap(argv) if run.group else argv
        try:
            proc = await asyncio.create_subprocess_exec(
                *full, stdin=asyncio.subprocess.DEVNULL, stdout=out_f, stderr=err_f,
                start_new_session=True, cwd=cwd, env=env)
        except (FileNotFoundError, PermissionError) as e:
            if run.group:
                run.group.remove()
            code = 127 if isinstance(e, FileNotFoundError) else 126
            err_f.write(f"exec: {argv[0]}: {'not found' if code == 127 else 'permission denied'}\n".encode())
            err_f.flush()
            return failed("", exit_code=code)
        except BaseException:
            if run.group:
                run.group.remove()
            raise
        return LocalHandle(proc, run)
