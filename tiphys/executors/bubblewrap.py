"""The bubblewrap command line of a sandboxed step, and paths as the step sees them.

The sandbox layout itself is described in local.py's docstring and README.md: the step's
`/` is a private host folder (or a tmpfs, when nothing is read back from it), the host's system folders are bound read-only, the shims are
first on PATH. `base_args` is the part shared by every step of an executor, `command` the
whole line of one step, and `resolve_in_root` maps a path of the step back to the host.
"""
from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable
from pathlib import Path

from tiphys.errors import InfrastructureError

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


def base_args(shim_dir: Path) -> list[str]:
    """The bwrap arguments every step shares (computed once per executor)."""
    args: list[str] = []
    for name in SYSTEM_DIRS:
        host = "/" + name
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    args += ["--dev", "/dev", "--proc", "/proc",
             "--ro-bind", str(shim_dir), SHIM_DIR_IN_SANDBOX,
             "--perms", "1777", "--dir", "/tmp", "--dir", "/root", "--dir", "/run",
             # the empty folders every common image has (Debian's, Alpine's): steps write there
             "--dir", "/mnt", "--dir", "/home", "--dir", "/srv", "--dir", "/media",
             "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
             "--new-session", "--clearenv"]   # no --die-with-parent: steps outlive Tiphys (detached.py)
    if os.geteuid() == 0:
        args += ["--cap-drop", "ALL"]
        for cap in DEFAULT_CAPS:
            args += ["--cap-add", cap]
    else:
        args += ["--unshare-user", "--uid", "0", "--gid", "0"]
    return args


def command(bwrap: str, root: Path | None, base: list[str], extra_binds: list[str], hostname: str,
            env: dict[str, str], status_fd: int, cwd: str, argv: list[str], env_fd: int | None = None) -> list[str]:
    """The full bwrap command line running `argv` in the sandbox rooted at `root` (None: a
    fresh tmpfs, gone with the step, for a step nothing is read back from). With
    `env_fd` (from `env_file`), the step's environment is read from that file descriptor
    (bwrap `--args`) instead of the command line, where any local user could read it in `ps`
    (a resolved secret, for one)."""
    top = ["--tmpfs", "/"] if root is None else ["--bind", str(root), "/"]
    bw = [bwrap, *top, *base, *extra_binds, "--hostname", hostname]
    if env_fd is not None:
        bw += ["--args", str(env_fd)]
    else:
        for k, v in env.items():
            bw += ["--setenv", k, v]
    bw += ["--json-status-fd", str(status_fd), "--chdir", cwd, "--", *argv]
    return bw


def place_mounts(root: Path, mounts, read_only_dir: Callable[[str], str | None] = lambda path: None,
                 ) -> list[tuple[str, Path | None, bool]]:
    """Check the volume mounts (`base.Mount`) of a step whose `/` is `root` and create their
    mount points there; returns `(path in the sandbox, source, read_only)` for `mount_args`.

    A mount point is resolved inside `root` as the step sees it (an image's symlinks are
    followed, re-rooted, never out of `root`). `read_only_dir(path)` names the read-only system
    folder holding `path` (the host executor's /usr, /etc...): a mount there must already
    exist on the host, it is bound over as is. Raises InfrastructureError naming the problem."""
    from tiphys.images.layers import host_path
    placed = []
    for m in mounts:
        path = posixpath.normpath("/" + str(m.path).lstrip("/"))
        source = None if m.source is None else Path(m.source).absolute()
        if path == "/":
            raise InfrastructureError(f"volume mount at {m.path!r}: mounting over / is not supported")
        if source is not None and not source.exists():
            raise InfrastructureError(f"volume source {source} for {path} does not exist")
        as_file = source is not None and not source.is_dir()
        system = read_only_dir(path)
        if system is not None:
            if not os.path.exists(path) or os.path.isdir(path) == as_file:
                raise InfrastructureError(f"volume mount {path} is inside the read-only system folder /{system} "
                                          f"and no {'file' if as_file else 'folder'} is there to mount over")
            placed.append((path, source, m.read_only))
            continue
        host = host_path(root, path, follow=not as_file)
        if as_file:
            if host.is_symlink():
                host.unlink()
            if host.is_dir():
                raise InfrastructureError(f"volume mount {path}: a folder is there, the source {source} is a file")
            host.touch()
        inside = posixpath.normpath("/" + host.relative_to(root).as_posix())
        if inside == "/":
            raise InfrastructureError(f"volume mount {path} leads to / (a symlink): mounting over / is not supported")
        placed.append((inside, source, m.read_only))
    return placed


def mount_sources(mounts, placed: list[tuple[str, Path | None, bool]]) -> tuple[tuple[str, Path | None], ...]:
    """Where a path inside each volume mount is read from after the step (handles._Run.mounts):
    the mount's path as the step names it and as placed, each with its host source."""
    out: list[tuple[str, Path | None]] = []
    for m, (inside, source, _) in zip(mounts, placed):
        out.append((posixpath.normpath("/" + str(m.path).lstrip("/")), source))
        if inside != out[-1][0]:
            out.append((inside, source))
    return tuple(out)


def mount_args(mounts: list[tuple[str, Path | None, bool]]) -> list[str]:
    """bwrap arguments for volume mounts `(path in the sandbox, host source, read_only)`: a host
    folder or file bound there, or (source None) a fresh tmpfs, world-writable like Docker's.
    Shallow paths first, so a mount inside another lands on top of it."""
    args: list[str] = []
    for path, source, read_only in sorted(mounts, key=lambda m: m[0].rstrip("/").count("/")):
        if source is None:
            args += ["--perms", "1777", "--tmpfs", path]
            if read_only:
                args += ["--remount-ro", path]
        else:
            args += ["--ro-bind" if read_only else "--bind", str(source), path]
    return args


def inputs_over_mounts(root: Path, paths: list[str], placed: list[tuple[str, Path | None, bool]]) -> list[str]:
    """bwrap arguments binding again the input artifacts (placed under `root`, at `paths` as the
    step sees them) that a volume mount would hide: Argo mounts each input artifact on top of
    the pod's volumes, so an artifact at /mnt/in stays visible under an emptyDir at /mnt."""
    args: list[str] = []
    for path in paths:
        path = posixpath.normpath("/" + path.lstrip("/"))
        if any(path == inside or path.startswith(inside.rstrip("/") + "/") for inside, _, _ in placed):
            args += ["--bind", str(root / path.lstrip("/")), path]
    return args


def env_file(env: dict[str, str]) -> int:
    """An anonymous in-memory file holding `--setenv K V` for every variable, NUL-separated, as
    bwrap's `--args FD` reads them; the caller passes it to bwrap (pass_fds) and closes it."""
    data = b"".join(b"--setenv\0" + k.encode() + b"\0" + v.encode() + b"\0" for k, v in env.items())
    return memory_file("tiphys-step-env", data)


def memory_file(name: str, data: bytes) -> int:
    """An anonymous in-memory file holding `data`, read from the start: for bwrap's `--args FD`
    or `--file FD PATH` (a step's script in an in-memory root, no file on disk)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


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
