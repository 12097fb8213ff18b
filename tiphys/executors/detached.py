"""Step processes that outlive the Tiphys process that started them.

A step is the analogue of a Kubernetes pod: it must not depend on its controller. So a step's
process (bwrap, or the command itself unsandboxed) is started in a session of its own with
nothing tying it to the life of Tiphys (no `--die-with-parent`, no pipe to us): its stdout and
stderr go to files of its workdir, and its exit status too (bwrap's `--json-status-fd` is a
file there; unsandboxed, a tiny `sh` writes the same line). `step.json` in the workdir records
its identity: the pid with its start time (clock ticks since boot) and the boot id, so that a
later Tiphys process can tell "the same process still runs" from "that pid is someone else's".

`Process` waits for a process through a pidfd registered on the event loop (no waiter thread
per child, as asyncio's default child watcher on Python 3.11 would start), whether it is a child
of this process (reaped, its exit code known) or one adopted from a Tiphys process that died
(its exit code then comes from the status file only).
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

IDENTITY = "step.json"     # in the step's workdir
STATUS = "status.json"     # bwrap's --json-status-fd output (child-pid, then exit-code)
_boot: str | None = None


def boot_id() -> str:
    global _boot
    if _boot is None:
        try:
            _boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        except OSError:
            _boot = ""
    return _boot


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()   # fields from the state on (the name may hold spaces)


def start_time(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def identity(pid: int, **extra: Any) -> dict[str, Any]:
    """What tells this process apart from any later one with the same pid."""
    return {"pid": pid, "start": start_time(pid), "boot": boot_id(), **extra}


def alive(ident: dict[str, Any]) -> bool:
    """Whether the process `ident` names still runs (a zombie has ended)."""
    if ident.get("boot") != boot_id():
        return False
    fields = _stat(int(ident["pid"]))
    if not fields or len(fields) < 20 or fields[0] in ("Z", "X"):
        return False
    return int(fields[19]) == ident.get("start")


def save_identity(workdir: Path, ident: dict[str, Any]) -> None:
    tmp = workdir / (IDENTITY + ".tmp")
    tmp.write_text(json.dumps(ident))
    os.replace(tmp, workdir / IDENTITY)


def load_identity(workdir: Path) -> dict[str, Any] | None:
    """The identity a step left in its folder. One written just before its process was spawned
    has no pid yet (Tiphys died during the spawn): the process is looked for among the session
    leaders working in that folder or naming it (pid 0 when there is none: it ended or never ran)."""
    try:
        ident = json.loads((workdir / IDENTITY).read_text())
    except (OSError, ValueError):
        return None
    if ident.get("pid") is None:
        found = _find_leader(workdir)
        ident = identity(found, run=ident.get("run")) if found else {**ident, "pid": 0}
    return ident


def _find_leader(workdir: Path) -> int | None:
    mark = str(workdir).encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = _stat(pid)
        if not fields or len(fields) < 4 or fields[3] != entry.name or fields[0] in ("Z", "X"):
            continue
        try:
            if os.readlink(f"/proc/{pid}/cwd") == str(workdir) or mark in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    return None


def exit_code(status_file: Path) -> int | None:
    """The exit code recorded in a status file (bwrap's JSON lines), or None."""
    try:
        data = status_file.read_bytes()
    except OSError:
        return None
    codes = []
    for line in data.splitlines():
        if b"exit-code" in line:
            try:
                codes.append(int(json.loads(line)["exit-code"]))
            except (ValueError, KeyError, TypeError):
                continue
    return codes[-1] if codes else None


def open_status(path: Path) -> int:
    """A fresh status file, as the descriptor a step's bwrap (or sh) writes to."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)


def host_wrapper(argv: list[str], status: Path) -> list[str]:
    """An unsandboxed step's command line: a tiny sh records its exit status in the status
    file (as bwrap does for a sandboxed one), so it is known even after Tiphys is gone."""
    script = '"$@"; echo "{\\"exit-code\\": $?}" >> "$0"'
    return ["/bin/sh", "-c", script, str(status), *argv]


class Process:
    """A step process this Tiphys process started (`spawn`) or adopted (`adopt`)."""

    def __init__(self, pid: int, popen: subprocess.Popen | None = None):
        self.pid = pid
        self._popen = popen
        self.returncode: int | None = None
        self._ended = False

    @classmethod
    def spawn_step(cls, argv: list[str], tty: bool, **kwargs: Any) -> Process:
        """`spawn` with stdin empty, or a terminal of its own when the step asks for one
        (`tty: true`; the terminal is not the step's controlling one, and nothing is typed).
        The step holds the terminal's other end too, so it stays up as long as the step lives,
        whatever becomes of Tiphys."""
        if not tty:
            return cls.spawn(argv, stdin=subprocess.DEVNULL, **kwargs)
        master, slave = os.openpty()
        try:
            kwargs["pass_fds"] = (*kwargs.get("pass_fds", ()), master)
            return cls.spawn(argv, stdin=slave, **kwargs)
        finally:
            os.close(slave)
            os.close(master)

    @classmethod
    def spawn(cls, argv: list[str], **kwargs: Any) -> Process:
        """Start `argv` in a new session (Popen's keyword arguments)."""
        popen = subprocess.Popen(argv, start_new_session=True, **kwargs)
        return cls(popen.pid, popen)

    @classmethod
    def adopt(cls, ident: dict[str, Any]) -> Process:
        proc = cls(int(ident.get("pid") or 0))
        if not proc.pid or not alive(ident):
            proc._ended = True
        return proc

    @property
    def ended(self) -> bool:
        return self._ended or self.returncode is not None

    async def wait(self) -> int | None:
        """Wait for the end; the exit code (negative: a signal) for a child, None for an
        adopted process (see the status file)."""
        if not self._ended:
            await self._exited()
        self._ended = True
        if self._popen is not None:
            self.returncode = self._popen.wait()
        return self.returncode

    async def _exited(self) -> None:
        try:
            fd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            return
        except OSError:            # no pidfd (old kernel): look now and then
            while self._running():
                await asyncio.sleep(0.05)
            return
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.add_reader(fd, lambda: done.done() or done.set_result(None))
        try:
            if self._popen is None and not self._running():
                return
            await done
        finally:
            loop.remove_reader(fd)
            os.close(fd)

    def _running(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is None
        fields = _stat(self.pid)
        return bool(fields) and fields[0] not in ("Z", "X")

    def send_signal(self, sig: int) -> None:
        if self.ended:
            return
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def signal_payload(self, sig: int) -> None:
        """Signal the process group of a `host_wrapper` step but its sh (which then records how
        the step ended); the sh itself while it has not started the step yet."""
        members = [pid for pid in _group_members(self.pid) if pid != self.pid]
        for pid in members:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if not members:
            self.send_signal(sig)

    def killpg(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _group_members(pgid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and len(fields) > 2 and fields[2] == str(pgid):
                found.append(int(entry.name))
    return found
