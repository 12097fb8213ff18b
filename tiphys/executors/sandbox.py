"""Run each step on its image's own root filesystem, from the local image store, with bubblewrap.

The image (`tiphys.images.store`, unpacked once) is the read-only lower layer; every step gets
its own writable layer on top, so the semantics are a container's:

    /                an overlay mount: lower = the image's rootfs (never written),
                     upper = spec.workdir/layer/upper (everything the step writes or deletes)
    /dev /proc       fresh (bwrap --dev / --proc); pid, ipc, uts and cgroup namespaces
    /etc/resolv.conf, /etc/hosts   the host's, read-only (as Docker does); network shared
    ENTRYPOINT/CMD   Kubernetes rules: command replaces ENTRYPOINT, args replace CMD
    ENV, WorkingDir  the image's, then the step's env; workingDir created when missing
    volumes          spec.mounts bound at their paths (mount points made in the step's layer),
                     a tmpfs for an in-memory emptyDir
    User             the image's USER (name resolved in the image's /etc/passwd): a non-root
                     user runs with no capabilities in a user namespace mapping it to itself

Steps never see each other's writes and the image stays untouched. The overlay is mounted by
this process (root, CAP_SYS_ADMIN) for the life of the step at /run/tiphys/sandbox/<pid>-<n>
(a place every image user can reach, unlike a private TIPHYS_HOME); after the process exits
the declared outputs are copied to spec.workdir/outputs, the overlay is unmounted and its
mount point removed. Where overlayfs cannot be mounted (not root, no overlay module, odd paths) the
writable layer is a full copy of the rootfs at spec.workdir/root instead (`cp -a
--reflink=auto`): the same semantics, slower and bigger.

Limits (memory/cpu) and OOM reporting are LocalExecutor's cgroups (tiphys.executors.cgroups).
"""
from __future__ import annotations

import asyncio
import ctypes
import errno
import itertools
import logging
import os
import posixpath
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

from tiphys.errors import InfrastructureError, TiphysError
from tiphys.executors import detached, retryloop
from tiphys.executors.base import StepResult, StepSpec
from tiphys.executors.bubblewrap import (DEFAULT_CAPS, env_file, inputs_over_mounts, mount_args, mount_sources,
                                         place_mounts)
from tiphys.executors.bubblewrap import command as bubblewrap_command
from tiphys.executors.cgroups import _Cgroups, _safe_name
from tiphys.executors.handles import LocalHandle, _DoneHandle, _Run
from tiphys.executors.local import _place
from tiphys.images import store as image_store
from tiphys.images.layers import _remove, host_path
from tiphys.images.store import Image

log = logging.getLogger(__name__)

SCRIPT_PATH = "/argo/staging/script"
MOUNT_BASE = Path("/run/tiphys/sandbox")
_counter = itertools.count()
_MNT_DETACH = 2
_libc = None


def _mount_overlay(lower: Path, upper: Path, work: Path, target: Path) -> str | None:
    """Mount an overlay at target; None on success, else why not."""
    global _libc
    paths = [str(p) for p in (lower, upper, work, target)]
    if any(c in p for p in paths for c in ",:\\"):
        return "a path contains ',', ':' or '\\'"
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    data = f"lowerdir={paths[0]},upperdir={paths[1]},workdir={paths[2]}".encode()
    if _libc.mount(b"overlay", paths[3].encode(), b"overlay", 0, data) != 0:
        e = ctypes.get_errno()
        return f"mount overlay: {os.strerror(e)} ({errno.errorcode.get(e, e)})"
    return None


def _unmount(target: Path) -> None:
    """Detach the overlay at target and remove the mount point."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.umount2(str(target).encode(), _MNT_DETACH) != 0:
        e = ctypes.get_errno()
        if e not in (errno.EINVAL, errno.ENOENT):
            log.warning("could not unmount %s: %s", target, os.strerror(e))
            return
    try:
        target.rmdir()
    except OSError:
        pass


def _lookup(root: Path, file: str, key: str, by_id_field: int | None = None) -> list[str] | None:
    """The /etc/passwd or /etc/group line (split) of `key` (a name, or a numeric id)."""
    try:
        text = (root / "etc" / file).read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 4:
            continue
        if fields[0] == key or (key.isdigit() and fields[2] == key):
            return fields
    return None


def resolve_user(root: Path, user: str) -> tuple[int, int, str]:
    """(uid, gid, home) of an image USER (`name`, `uid`, `name:group`, `uid:gid`)."""
    name, _, group = user.partition(":")
    if not name:
        return 0, 0, "/root"
    entry = _lookup(root, "passwd", name)
    if entry is not None:
        uid, gid, home = int(entry[2]), int(entry[3]), (entry[5] if len(entry) > 5 else "/") or "/"
    elif name.isdigit():                 # a numeric user the image does not list: group 0
        uid, gid, home = int(name), 0, "/"
    else:
        raise InfrastructureError(f"image user {name!r} is not in the image's /etc/passwd")
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            g = _lookup(root, "group", group)
            if g is None:
                raise InfrastructureError(f"image group {group!r} is not in the image's /etc/group")
            gid = int(g[2])
    return uid, gid, home


def _sweep_stale_mounts() -> None:
    """Unmount overlays left under MOUNT_BASE by Tiphys processes that died (SIGKILL, crash)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    for line in lines:
        fields = line.split()
        if len(fields) < 5 or not fields[4].startswith(str(MOUNT_BASE) + "/"):
            continue
        target = Path(fields[4])
        pid = target.name.split("-", 1)[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}") and not _step_lives(line):
            _unmount(target)


def _step_lives(mountinfo_line: str) -> bool:
    """Whether the overlay of this mountinfo line is the root of a step still running (a step
    outlives the Tiphys process that mounted it; the one adopting it unmounts it at its end).
    Its upper layer is <workdir>/layer/upper, and <workdir>/step.json names its process."""
    for option in mountinfo_line.rpartition(" - ")[2].split(","):
        if option.startswith("upperdir="):
            ident = detached.load_identity(Path(option[len("upperdir="):]).parent.parent)
            return ident is not None and detached.alive(ident)
    return False


class SandboxHandle:
    """A LocalHandle whose outputs are copied out of the overlay before it is unmounted."""

    def __init__(self, inner: LocalHandle, workdir: Path, merged: Path, mounted: bool):
        self._inner, self._workdir, self._merged, self._mounted = inner, workdir, merged, mounted
        self.identity = {**inner.identity, "merged": str(merged), "mounted": mounted}
        self._task = asyncio.ensure_future(self._finish())

    @property
    def pid(self) -> int:
        return self._inner.pid

    async def stop(self, grace: float = 0.0) -> None:
        await self._inner.stop(grace)

    async def wait(self) -> StepResult:
        return await asyncio.shield(self._task)

    async def _finish(self) -> StepResult:
        try:
            result = await self._inner.wait()
            outputs = await asyncio.to_thread(self._copy_outputs, result.outputs)
            return replace(result, outputs=outputs)
        finally:
            if self._mounted:
                await asyncio.to_thread(_unmount, self._merged)

    def _copy_outputs(self, found: dict[str, Path | None]) -> dict[str, Path | None]:
        out: dict[str, Path | None] = {}
        folder = self._workdir / "outputs"
        for i, (path, host) in enumerate(found.items()):
            if host is None or not self._mounted:
                out[path] = host
                continue
            dest = folder / str(i) / (host.name or "root")
            try:
                _place(host, dest) if not host.is_symlink() else _copy_link(host, dest)
                out[path] = dest
            except OSError as exc:
                log.warning("could not collect %s: %s", path, exc)
                out[path] = None
        return out


def _copy_link(host: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.readlink(host), dest)


class SandboxExecutor:
    """Runs steps on the rootfs of their image from the image store, sandboxed with bubblewrap."""

    name = "sandbox"

    def __init__(self, env: dict[str, str] | None = None):
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise InfrastructureError("the sandbox executor needs bubblewrap (apt-get install bubblewrap)")
        self._bwrap = bwrap
        self._setpriv = shutil.which("setpriv")
        self._env = env
        self._images: dict[str, Image | None] = {}
        self._cgroups: _Cgroups | None = None
        self._overlay_broken: str | None = None if os.geteuid() == 0 else "not running as root"
        if self._overlay_broken is None:
            _sweep_stale_mounts()

    def image(self, name: str) -> Image | None:
        """The stored image `name` (found images are remembered; absent ones looked up again,
        so an image pulled while a server runs is seen at its next step)."""
        found = self._images.get(name)
        if found is not None and found.rootfs.is_dir():
            return found
        try:
            found = image_store.find(name, self._env)
        except TiphysError:   # a malformed reference or an unreadable store: not there
            found = None
        if found is not None:
            self._images[name] = found
        return found

    def has_image(self, name: str) -> bool:
        return self.image(name) is not None

    def _limits(self) -> _Cgroups:
        if self._cgroups is None:
            self._cgroups = _Cgroups()
        return self._cgroups

    async def start(self, spec: StepSpec):
        workdir = Path(spec.workdir).absolute()
        stdout, stderr = workdir / "stdout", workdir / "stderr"

        def failed(msg: str) -> _DoneHandle:
            return _DoneHandle(StepResult(exit_code=None, stdout=stdout, stderr=stderr,
                                          outputs={p: None for p in spec.output_paths}, error=msg))
        try:
            workdir.mkdir(parents=True, exist_ok=True)
            out_f, err_f = open(stdout, "wb"), open(stderr, "wb")
        except OSError as e:
            return failed(f"cannot prepare step folder {workdir}: {e}")
        merged: Path | None = None
        mounted = False
        try:
            img = self.image(spec.image)
            if img is None:
                stores = ", ".join(str(p) for p in image_store.locations(self._env))
                return failed(f"image {spec.image!r} is not in the image store (searched {stores}): "
                              f"run `tiphys image pull {spec.image}` or `tiphys image import {spec.image} FILE`")
            merged, mounted = await self._layer(img, spec.key, workdir)
            handle = await self._start(spec, img, workdir, merged, stdout, stderr, out_f, err_f, failed)
            if isinstance(handle, _DoneHandle):
                return handle
            mounted_here, mounted = mounted, False      # the handle unmounts from now on
            return SandboxHandle(handle, workdir, merged, mounted_here)
        except InfrastructureError as e:
            return failed(str(e))
        except Exception as e:  # never let OSError and friends leak to the engine
            log.debug("step %s failed to start", spec.key, exc_info=True)
            return failed(f"cannot start step: {type(e).__name__}: {e}")
        finally:
            out_f.close()
            err_f.close()
            if mounted and merged is not None:
                _unmount(merged)

    async def attach(self, spec: StepSpec, ident: dict):
        """Take over a step a Tiphys process that ended started (see detached.py)."""
        inner = LocalHandle.from_identity(spec, ident)
        merged = Path(ident.get("merged") or ident["run"]["root"])
        mounted = ident.get("mounted", str(merged).startswith(str(MOUNT_BASE) + "/"))
        return SandboxHandle(inner, Path(ident["run"]["workdir"]), merged, bool(mounted))

    async def _layer(self, img: Image, key: str, workdir: Path) -> tuple[Path, bool]:
        """The step's root with its own writable layer; True when it is an overlay mount."""
        layer, copy = workdir / "layer", workdir / "root"
        for d in (layer, copy):
            if os.path.lexists(d):
                await asyncio.to_thread(shutil.rmtree, d)
        if self._overlay_broken is None:
            upper, work = layer / "upper", layer / "work"
            upper.mkdir(parents=True)
            work.mkdir()
            target = MOUNT_BASE / f"{os.getpid()}-{next(_counter)}-{_safe_name(key, 40)}"
            try:
                MOUNT_BASE.mkdir(parents=True, exist_ok=True)
                target.mkdir(mode=0o755)
                why = _mount_overlay(img.rootfs, upper, work, target)
            except OSError as exc:
                why = f"cannot create {target}: {exc.strerror or exc}"
            if why is None:
                return target, True
            try:
                target.rmdir()
            except OSError:
                pass
            self._overlay_broken = why
            log.warning("overlayfs unavailable (%s): each step copies its image's root filesystem", why)
        await asyncio.to_thread(subprocess.run, ["cp", "-a", "--reflink=auto", str(img.rootfs), str(copy)],
                                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return copy, False

    async def _start(self, spec, img: Image, workdir, merged: Path, stdout, stderr, out_f, err_f, failed):
        config = img.config
        uid, gid, home = resolve_user(merged, config.user)
        # mount points bwrap needs (a non-root user could not create them)
        for d in ("dev", "proc", "tmp"):
            p = merged / d
            if p.is_symlink() or (os.path.lexists(p) and not p.is_dir()):
                p.unlink()
            if not p.exists():
                p.mkdir()
                os.chmod(p, 0o1777 if d == "tmp" else 0o755)
        binds: list[str] = []
        for name in ("/etc/resolv.conf", "/etc/hosts"):
            if os.path.exists(name):
                inside = host_path(merged, name)
                if inside.is_symlink() or (os.path.lexists(inside) and not inside.is_file()):
                    _remove(inside)
                inside.touch()
                binds += ["--ro-bind", name, name]
        cwd = posixpath.normpath("/" + (spec.working_dir or config.working_dir or "/").lstrip("/"))
        if not host_path(merged, cwd).is_dir() or host_path(merged, cwd).is_symlink():
            made = host_path(merged, cwd, follow=True)
            if uid:
                os.chown(made, uid, gid)
        for item in spec.inputs:
            if not os.path.lexists(item.source):
                return failed(f"input source {item.source} for {item.path} does not exist")
        input_paths: list[str] = []     # where each input is, as the step sees it
        if spec.inputs:
            def place_all():
                for item in spec.inputs:
                    target = host_path(merged, posixpath.join(cwd, item.path))
                    input_paths.append("/" + target.relative_to(merged).as_posix())
                    if target.is_symlink():
                        target.unlink()
                    _place(Path(item.source), target)
                    if uid:
                        for p in [target, *(target.rglob("*") if target.is_dir() else [])]:
                            os.lchown(p, uid, gid)
            await asyncio.to_thread(place_all)
        argv = config.argv(spec.command, spec.args)
        if spec.script is not None:
            script = host_path(merged, SCRIPT_PATH)
            if os.path.lexists(script):
                _remove(script)
            script.write_text(spec.script)
            os.chmod(script, 0o755)
            argv = [*(argv or ["sh"]), SCRIPT_PATH]
        if not argv:
            return failed(f"image {spec.image!r} has no ENTRYPOINT or CMD and the step sets no command")
        argv = retryloop.wrap(argv, spec.attempts, spec.attempt_delay)
        hostname = _safe_name(spec.key.lower()).replace("_", "-").replace(".", "-") or "step"
        env = config.environment()
        env.setdefault("HOME", home)
        env["HOSTNAME"] = hostname
        env.update(dict(spec.env))
        base = ["--dev", "/dev", "--proc", "/proc", *binds,
                "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                "--new-session", "--clearenv"]   # no --die-with-parent: steps outlive Tiphys (detached.py)
        prefix: list[str] = []
        if uid == 0 and os.geteuid() == 0:
            base += ["--cap-drop", "ALL"]
            for cap in DEFAULT_CAPS:
                base += ["--cap-add", cap]
        elif os.geteuid() == 0:
            if self._setpriv is None:
                raise InfrastructureError("image user is not root and setpriv (util-linux) is missing")
            prefix = [self._setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
            base += ["--unshare-user", "--uid", str(uid), "--gid", str(gid)]
        else:
            base += ["--unshare-user", "--uid", str(uid), "--gid", str(gid)]
        mounts = place_mounts(merged, spec.mounts) if spec.mounts else []
        status = workdir / detached.STATUS
        w = detached.open_status(status)
        env_fd = env_file(env)          # the environment never shows in `ps` (secrets)
        binds_after = mount_args(mounts) + inputs_over_mounts(merged, input_paths, mounts)
        bw = prefix + bubblewrap_command(self._bwrap, merged, base, binds_after, hostname, env, w, cwd,
                                         argv, env_fd)
        run = _Run(spec, workdir, stdout, stderr, True, merged, cwd, status_path=status, argv0=argv[0],
                   mounts=mount_sources(spec.mounts, mounts))
        try:
            if spec.memory_limit is not None or spec.cpu_limit is not None:
                run.group = self._limits().create(spec.key, spec.memory_limit, spec.cpu_limit)
            full = run.group.wrap(bw) if run.group else bw
            detached.save_identity(workdir, {"pid": None, "run": run.to_json()})   # Tiphys may die while spawning
            proc = detached.Process.spawn_step(full, spec.tty, stdout=out_f, stderr=err_f,
                                          pass_fds=(w, env_fd), cwd=str(workdir), env={})
        except BaseException:
            if run.group:
                run.group.remove()
            raise
        finally:
            os.close(w)
            os.close(env_fd)
        return LocalHandle(proc, run)
