"""Everything the baseline needs to launch a step exactly as tiphys' LocalExecutor does.

Nothing here re-implements the sandbox: the bubblewrap flags, the step environment and the
script path all come from `tiphys.executors.local` (LocalExecutor._bwrap_base, ._env,
SHIM_DIR_IN_SANDBOX, ...). The only thing the baseline assembles itself is the final line
(`bench.baseline.sandbox_argv`), and `verify_context` compares it, flag for flag, with the
command line LocalExecutor really hands to asyncio for the same step.
"""
from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from unittest import mock

from tiphys.executors import local
from tiphys.executors.base import StepSpec

from bench.baseline import HOSTNAME_PLACEHOLDER, sandbox_argv


class _Captured(Exception):
    pass


def make_executor(sandbox: bool) -> local.LocalExecutor:
    """Keep the returned executor alive while baselines run: it owns the shim folder."""
    return local.LocalExecutor(sandbox=sandbox)


def context(ex: local.LocalExecutor) -> dict:
    """JSON-able context for bench/baseline.py, taken from the executor itself."""
    spec = StepSpec(key="bench", image="busybox")
    if ex.sandbox:
        env = ex._env(spec, f"{local.SHIM_DIR_IN_SANDBOX}:{local.DEFAULT_PATH}", "/root",
                      {"HOSTNAME": HOSTNAME_PLACEHOLDER})
        return {"sandbox": True, "bwrap": ex._bwrap, "base": list(ex._bwrap_base()),
                "env": list(env.items()), "script_path": local.SCRIPT_IN_SANDBOX}
    extra = {k: os.environ[k] for k in ("LANG", "LC_ALL", "TZ", "USER", "LOGNAME") if k in os.environ}
    env = ex._env(spec, f"{ex._shims()}:{os.environ.get('PATH', local.DEFAULT_PATH)}",
                  os.environ.get("HOME", "/root"), extra)
    return {"sandbox": False, "env": list(env.items())}


def write_context(ex: local.LocalExecutor, path: Path) -> Path:
    path.write_text(json.dumps(context(ex)))
    return path


def minimal_context() -> dict:
    """The minimal-bubblewrap floor's context: bwrap's path and the step environment of the
    unsandboxed executor (the floor's flags are fixed: bench.baseline.MINIMAL_BWRAP)."""
    ex = local.LocalExecutor(sandbox=False)
    return {**context(ex), "sandbox": "minimal", "bwrap": local.LocalExecutor(sandbox=True)._bwrap}


def captured_argv(ex: local.LocalExecutor, spec: StepSpec) -> tuple[list[str], dict]:
    """The exact argv and keywords LocalExecutor.start passes to its process spawn for
    `spec` (the process is not started)."""
    seen: list[tuple[list[str], dict]] = []

    def fake(argv, **kw):
        seen.append(([str(a) for a in argv], kw))
        raise _Captured()

    with mock.patch.object(local.detached.Process, "spawn", fake):
        asyncio.run(ex.start(spec))
    if not seen:
        raise RuntimeError("LocalExecutor.start did not try to start a process")
    return seen[0]


def verify_context(ex: local.LocalExecutor, ctx: dict) -> None:
    """Raise AssertionError unless the baseline's command line equals LocalExecutor's."""
    with tempfile.TemporaryDirectory(prefix="tiphys-bench-verify-") as tmp:
        spec = StepSpec(key="bench-verify-0", image="busybox", command=("echo", "hello"),
                        workdir=Path(tmp) / "step")
        real, kw = captured_argv(ex, spec)
        if ctx["sandbox"]:
            fd = real[real.index("--json-status-fd") + 1]
            hostname = real[real.index("--hostname") + 1]
            env_fd = real[real.index("--args") + 1]
            ours = sandbox_argv(ctx, hostname, int(fd), "/", ["echo", "hello"], int(env_fd))
        else:
            ours = ["echo", "hello"]
            # the host executor's sh records the exit status (executors/detached.py): Tiphys' cost
            if real[:2] == ["/bin/sh", "-c"]:
                real = real[4:]
        if dict(ctx["env"]) != kw.get("env") and not ctx["sandbox"]:
            raise AssertionError(f"baseline env differs: {kw.get('env')} != {dict(ctx['env'])}")
        if ctx["sandbox"] and kw.get("env") != {}:
            raise AssertionError(f"LocalExecutor now passes env {kw.get('env')} to bwrap")
        if ours != real:
            raise AssertionError("baseline command line differs from LocalExecutor's:\n"
                                 f"  tiphys:   {real}\n  baseline: {ours}")
