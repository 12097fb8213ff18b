"""A Docker-API endpoint served by podman, for hosts without a Docker engine.

`podman system service` speaks the Docker Engine API on a unix socket. `ensure_service()`
starts one when nothing answers at `SOCKET` (detached, exiting by itself after `IDLE`
seconds without clients), with the configuration this kind of host needs (`containers_conf`):
runc (crun rejects the cgroup v1/v2 hybrid), cgroupfs (no systemd), file events, and
default ulimits within the host's hard limits (root lacks CAP_SYS_RESOURCE here).

`python -m tiphys.executors.podman conf` prints that configuration (setup installs it as
/etc/containers/containers.conf when that file is absent).
"""
from __future__ import annotations

import fcntl
import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tiphys.errors import InfrastructureError

SOCKET = Path(os.environ.get("TIPHYS_PODMAN_SOCKET", "/run/tiphys/podman.sock"))
IDLE = 600                      # seconds without clients before a service we started exits
NPROC_CAP = 32768               # runc fails to set nproc above this here (MACHINE-NOTES §3)
NOFILE_CAP = 1048576
PATIENCE = 5.0                  # seconds a busy service has to answer a ping


def ulimits() -> dict[str, int]:
    """nofile and nproc for containers: as high as a pod gets, but within our hard limits."""
    def fit(which: int, cap: int) -> int:
        hard = resource.getrlimit(which)[1]
        return cap if hard == resource.RLIM_INFINITY else min(hard, cap)
    return {"nofile": fit(resource.RLIMIT_NOFILE, NOFILE_CAP), "nproc": fit(resource.RLIMIT_NPROC, NPROC_CAP)}


def containers_conf() -> str:
    lim = ulimits()
    return ("# Written by Tiphys: what podman needs on a host without systemd, with cgroups in\n"
            "# hybrid mode and without CAP_SYS_RESOURCE (see tiphys/executors/podman.py).\n"
            "[containers]\n"
            f'default_ulimits = ["nofile={lim["nofile"]}:{lim["nofile"]}", "nproc={lim["nproc"]}:{lim["nproc"]}"]\n'
            "[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n')


def ping(path: Path | str, timeout: float = 1.0) -> bool:
    """Does a Docker-API engine answer `GET /_ping` on the unix socket `path`?"""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
        data = b""
        while len(data) < 12:
            chunk = sock.recv(64)
            if not chunk:
                break
            data += chunk
        return data[9:12] == b"200"
    except OSError:
        return False
    finally:
        sock.close()


def installed() -> bool:
    return shutil.which("podman") is not None


def start_service(path: Path, idle: int = IDLE, conf_dir: Path | None = None,
                  timeout: float = 15.0) -> subprocess.Popen:
    """Start `podman system service` on `path` and wait until it answers; returns the process.

    `idle` 0 keeps it running until killed. The caller owns the process (kill it, then wait)."""
    if not installed():
        raise InfrastructureError("podman is not installed (apt-get install podman runc)")
    path.parent.mkdir(parents=True, exist_ok=True)
    conf = (conf_dir or path.parent) / "containers.conf"
    conf.write_text(containers_conf())
    if path.exists() or path.is_symlink():
        path.unlink()
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    log = open(path.parent / (path.name + ".log"), "ab")
    try:
        proc = subprocess.Popen(["podman", "system", "service", f"--time={idle}", f"unix://{path}"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                start_new_session=True, cwd=path.parent)   # conmon drops an `oom` file in its cwd
    finally:
        log.close()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise InfrastructureError(f"podman system service exited with {proc.returncode}; "
                                      f"see {path.parent / (path.name + '.log')}")
        if ping(path, 0.5):
            return proc
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise InfrastructureError(f"podman system service did not answer on {path} within {timeout:.0f} s")


def answers(path: Path | str) -> bool:
    """Is a service listening at `path`? Nobody listening fails at once (connection
    refused); a busy one (many steps starting) is given PATIENCE seconds, for starting a
    second service would take its socket from under the first one's clients."""
    return os.path.exists(path) and ping(path, PATIENCE)


def ensure_service(path: Path = SOCKET) -> str:
    """A Docker-API base URL served by podman at `path`, starting the service if needed.
    Tiphys processes starting at once agree through a lock file: one starts it."""
    if not answers(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.parent / (path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not answers(path):       # another process may have started it meanwhile
                proc = start_service(path)
                # detached: it exits by itself after IDLE seconds without clients; reap it if
                # we are still around then (no zombie), without keeping the interpreter alive
                threading.Thread(target=proc.wait, name="podman-service-reaper", daemon=True).start()
    return f"unix://{path}"


def main(argv: list[str]) -> int:
    if argv[:1] == ["conf"]:
        sys.stdout.write(containers_conf())
        return 0
    if argv[:1] == ["service"]:
        print(ensure_service())
        return 0
    print("usage: python -m tiphys.executors.podman conf|service", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
