"""Handles of started steps: waiting for the process, stopping it, building its StepResult.

`LocalHandle` follows one process (bwrap, or the step itself unsandboxed), started by this
Tiphys process or adopted from one that ended (detached.py): `stop` signals it the way a
container runtime would, `wait` returns the StepResult (exit code from the step's status file,
OOM from the cgroup, outputs collected from the step's root). `identity` is what a later Tiphys
process needs to adopt it (`from_identity`). `_DoneHandle` stands for a step that never got a
process.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import posixpath
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiphys.executors import detached
from tiphys.executors.base import StepResult, StepSpec
from tiphys.executors.bubblewrap import SYSTEM_DIRS, resolve_in_root
from tiphys.executors.cgroups import _Group

LOST = "the step's process ended without leaving its exit status (was the machine restarted?)"

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
    status_path: Path | None = None   # the exit status file (bwrap's --json-status-fd, or host_wrapper's)
    argv0: str = ""
    # volume mounts as the step sees them -> host source (None: a tmpfs, gone with the step)
    mounts: tuple[tuple[str, Path | None], ...] = ()

    def to_json(self) -> dict[str, Any]:
        group = None if self.group is None else {
            "dirs": [str(d) for d in self.group.dirs], "kind": self.group.kind,
            "memory": str(self.group.memory_dir) if self.group.memory_dir else None}
        return {"workdir": str(self.workdir), "sandboxed": self.sandboxed, "root": str(self.root) if self.root else None,
                "cwd": self.cwd, "group": group, "status": str(self.status_path) if self.status_path else None,
                "argv0": self.argv0, "mounts": [[p, str(s) if s else None] for p, s in self.mounts]}

    @classmethod
    def from_json(cls, spec: StepSpec, doc: dict[str, Any]) -> _Run:
        g = doc.get("group")
        group = None if not g else _Group([Path(d) for d in g["dirs"]], g["kind"],
                                          Path(g["memory"]) if g.get("memory") else None)
        workdir = Path(doc["workdir"])
        return cls(spec, workdir, workdir / "stdout", workdir / "stderr", bool(doc["sandboxed"]),
                   Path(doc["root"]) if doc.get("root") else None, doc["cwd"], group,
                   Path(doc["status"]) if doc.get("status") else None, doc.get("argv0") or "",
                   tuple((p, Path(s) if s else None) for p, s in doc.get("mounts") or ()))


class LocalHandle:
    def __init__(self, proc: detached.Process, run: _Run, *, adopted: bool = False):
        self._proc = proc
        self._run = run
        self._stopped = False
        self._adopted = adopted
        self._identity: dict[str, Any] | None = None
        self._task = asyncio.ensure_future(self._finish())

    @property
    def identity(self) -> dict[str, Any]:
        """Journaled by the runner (step.json, written before the spawn, leads to the process
        otherwise). Read when first asked, which the runner does in a worker thread: reading
        /proc/PID/stat while the child is still in exec waits for the exec (about 1 ms)."""
        if self._identity is None:
            self._identity = detached.identity(self._proc.pid, run=self._run.to_json())
        return self._identity

    @identity.setter
    def identity(self, value: dict[str, Any]) -> None:
        self._identity = value

    @classmethod
    def from_identity(cls, spec: StepSpec, ident: dict[str, Any]) -> LocalHandle:
        """Adopt the step a Tiphys process that ended started (its identity as it recorded it)."""
        handle = cls.__new__(cls)
        handle._proc = detached.Process.adopt(ident)
        handle._run = _Run.from_json(spec, ident["run"])
        handle._stopped = False
        handle._adopted = True
        handle.identity = ident
        handle._task = asyncio.ensure_future(handle._finish())
        return handle

    @property
    def pid(self) -> int:
        return self._proc.pid

    async def wait(self) -> StepResult:
        return await asyncio.shield(self._task)

    # -- stopping

    def _child_pid(self) -> int | None:
        """Host pid of bwrap's child (pid 1 of the step's pid namespace)."""
        for line in self._status().splitlines():
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
                    self._proc.send_signal(sig)   # bwrap has started no child (see `_known_child`)
                elif sig == signal.SIGKILL:
                    # killing the namespace's init makes the kernel kill and reap every
                    # process in it; bwrap then reaps the init and exits: no orphans
                    os.kill(child, signal.SIGKILL)
                else:
                    # the payload runs in the init's process group (--new-session); the
                    # init itself ignores signals it has no handler for
                    os.killpg(child, sig)
            else:
                self._proc.signal_payload(sig)
        except ProcessLookupError:
            pass

    async def _known_child(self, limit: float = 2.0) -> None:
        """A sandboxed step's bwrap names its child (the namespace's init) in the status file a
        moment after it starts, and the init then starts the payload. A stop within that moment
        waits for both: a signal to bwrap alone would leave its child running (nothing ties the
        child to bwrap: no --die-with-parent, steps are detached), and a SIGTERM to the init's
        group before the payload is in it is lost (the init ignores it)."""
        deadline = time.monotonic() + limit
        while self._run.sandboxed and not self._task.done() and time.monotonic() < deadline:
            child = self._child_pid()
            if child is not None and _has_children(child):
                return
            await asyncio.sleep(0.005)

    async def stop(self, grace: float = 0.0) -> None:
        if self._task.done() or self._proc.ended:
            return
        self._stopped = True
        await self._known_child()
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

    def _status(self) -> bytes:
        try:
            return self._run.status_path.read_bytes() if self._run.status_path else b""
        except OSError:
            return b""

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
        if rc is not None and rc < 0:
            rc = 128 - rc
        error = None
        recorded = detached.exit_code(run.status_path) if run.status_path else None
        exit_code: int | None = recorded if recorded is not None else rc
        if run.sandboxed and recorded is None and not self._stopped:
            tail = self._stderr_tail()
            m = re.search(r"bwrap: execvp (.*?): (.*)$", tail, re.M)
            if m:
                exit_code = 126 if "ermission" in m.group(2) else 127
                self._append_stderr(f"exec: {m.group(1)}: {'permission denied' if exit_code == 126 else 'not found'}\n")
            else:
                lines = [ln for ln in tail.splitlines() if ln.startswith("bwrap:")]
                exit_code = None
                error = ("sandbox setup failed: " + lines[-1] if lines else
                         f"sandbox setup failed: bwrap exited with {rc}" if rc is not None else LOST)
        elif exit_code is None:
            error = LOST
        if not run.sandboxed:
            # container semantics: when the main process ends, the rest of its group goes
            self._proc.killpg(signal.SIGKILL)
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
            if run.root is None:          # an in-memory root: gone with the step, nothing was to be read back
                return None
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


def _has_children(pid: int) -> bool:
    """Whether process `pid` has started a child (True when the kernel cannot tell)."""
    try:
        return bool(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    except FileNotFoundError:
        return True     # gone, or no such file on this kernel: nothing to wait for
    except OSError:
        return True
