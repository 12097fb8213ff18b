"""The bubblewrap command line of a sandboxed step, and paths as the step sees them.

The sandbox layout itself is described in local.py's docstring and README.md: the step's
`/` is a private host folder, the host's system folders are bound read-only, the shims are
first on PATH. `base_args` is the part shared by every step of an executor, `command` the
whole line of one step, and `resolve_in_root` maps a path of the step back to the host.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

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
             "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
             "--die-with-parent", "--new-session", "--clearenv"]
    if os.geteuid() == 0:
        args += ["--cap-drop", "ALL"]
        for cap in DEFAULT_CAPS:
            args += ["--cap-add", cap]
    else:
        args += ["--unshare-user", "--uid", "0", "--gid", "0"]
    return args


def command(bwrap: str, root: Path, base: list[str], extra_binds: list[str], hostname: str,
            env: dict[str, str], status_fd: int, cwd: str, argv: list[str], env_fd: int | None = None) -> list[str]:
    """The full bwrap command line running `argv` in the sandbox rooted at `root`. With
    `env_fd` (from `env_file`), the step's environment is read from that file descriptor
    (bwrap `--args`) instead of the command line, where any local user could read it in `ps`
    (a resolved secret, for one)."""
    bw = [bwrap, "--bind", str(root), "/", *base, *extra_binds, "--hostname", hostname]
    if env_fd is not None:
        bw += ["--args", str(env_fd)]
    else:
        for k, v in env.items():
            bw += ["--setenv", k, v]
    bw += ["--json-status-fd", str(status_fd), "--chdir", cwd, "--", *argv]
    return bw


def env_file(env: dict[str, str]) -> int:
    """An anonymous in-memory file holding `--setenv K V` for every variable, NUL-separated, as
    bwrap's `--args FD` reads them; the caller passes it to bwrap (pass_fds) and closes it."""
    data = b"".join(b"--setenv\0" + k.encode() + b"\0" + v.encode() + b"\0" for k, v in env.items())
    fd = os.memfd_create("tiphys-step-env", os.MFD_CLOEXEC)
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
