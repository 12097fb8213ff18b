"""Memory and CPU limits of a step: a cgroup (v1 or v2) per step, or RLIMIT_AS as a fallback.

`_Cgroups` detects once what this host allows; each limited step gets a `_Group` whose
`wrap` prefixes the step's command line so the process joins its group before it execs,
and which reports OOM kills and removes itself when the step ends.
"""
from __future__ import annotations

import itertools
import logging
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

# Logged under the executor's name, as before this module was split out of local.py.
log = logging.getLogger("tiphys.executors.local")


def _safe_name(text: str, limit: int = 63) -> str:
    """`text` as a cgroup folder name or a hostname: at most `limit` safe characters."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:limit]
    return name or "step"


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
