"""Handles of started steps: waiting for the process, stopping it, building its StepResult.

`LocalHandle` follows one process (bwrap, or the step itself unsandboxed): `stop` signals
it the way a container runtime would, `wait` returns the StepResult (exit code from bwrap's
status pipe, OOM from the cgroup, outputs collected from the step's root). `_DoneHandle`
stands for a step that never got a process.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import posixpath
import re
import signal
from dataclasses import dataclass
from pathlib import Path

from tiphys.executors.base import StepResult, StepSpec
from tiphys.executors.bubblewrap import SYSTEM_DIRS, resolve_in_root
from tiphys.executors.cgroups import _Group

# Logged under the executor's name, as before this module was split out of local.py.
log = logging.getLogger("tiphys.executors.local")


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
    # volume mounts as the step sees them -> host source (None: a tmpfs, gone with the step)
    mounts: tuple[tuple[str, Path | None], ...] = ()


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
                if run.mounts:
                    mounted, found = self._in_mount(path)
                    if mounted:
                        return found
                return resolve_in_root(run.root, path, run.cwd) or self._in_system_dir(path)
            except OSError:
                return None
        host = Path(path) if path.startswith("/") else Path(run.cwd) / path
        return host if os.path.lexists(host) else None

    def _in_system_dir(self, path: str) -> Path | None:
        """The host's file when `path` is in a system folder (/etc, /usr...) the sandbox bound
        read-only from the host: its mount point in the step's root is empty once the step is gone."""
        run = self._run
        full = posixpath.normpath(path if path.startswith("/") else run.cwd.rstrip("/") + "/" + path)
        top = full.strip("/").split("/", 1)[0]
        if top not in SYSTEM_DIRS or not (run.root / top).is_dir() or (run.root / top).is_symlink():
            return None
        return resolve_in_root(Path("/"), full)

    def _in_mount(self, path: str) -> tuple[bool, Path | None]:
        """(True, host path or None) when `path` is inside a volume mount, read from its source
        (the mount point in the root is empty once the step is gone); (False, None) if not."""
        run = self._run
        full = posixpath.normpath(path if path.startswith("/") else run.cwd.rstrip("/") + "/" + path)
        best: tuple[str, Path | None] | None = None
        for prefix, source in run.mounts:
            if (full == prefix or full.startswith(prefix.rstrip("/") + "/")) and (
                    best is None or len(prefix) > len(best[0])):
                best = (prefix, source)
        if best is None:
            return False, None
        prefix, source = best
        rest = full[len(prefix):].strip("/")
        if source is None:
            return True, None
        if not rest:
            return True, source if os.path.lexists(source) else None
        return True, resolve_in_root(source, rest) if source.is_dir() else None
