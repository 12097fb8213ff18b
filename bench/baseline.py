"""The floor: a minimal asyncio script that runs a workload's processes, nothing else.

    python bench/baseline.py WORKLOAD.yaml CONTEXT.json [--log-argv FILE]

It parses the workload with PyYAML, walks its templates (DAG `depends`, `withSequence`,
`withParam`, `{{...}}` parameters and `outputs.result`, `spec.parallelism`) and launches
the very same argv as Tiphys, with the same concurrency. CONTEXT.json (written by
`bench.sandbox.write_context`, which takes everything from tiphys' LocalExecutor) says
whether to sandbox and holds the exact bubblewrap flags and step environment; with
`"sandbox": "minimal"` each step runs in the minimal bubblewrap of MINIMAL_BWRAP instead (the
floor of issue 11: what any sandboxed step costs, without Tiphys' per-step root folder).

Deliberately stdlib + PyYAML only (no tiphys import): its startup cost is that of "a
Python script that parses the file with PyYAML and runs the step".
"""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import sys
import tempfile

import yaml

HOSTNAME_PLACEHOLDER = "\x00hostname\x00"
# the floor of issue 11: the least a sandboxed step can cost (no per-step root, no env file)
MINIMAL_BWRAP = ["--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev",
                 "--proc", "/proc", "--tmpfs", "/tmp"]
_VAR = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


def env_file(ctx: dict, hostname: str) -> int:
    """The step environment as bwrap `--args FD` reads it (NUL-separated `--setenv K V`), in an
    in-memory file, as LocalExecutor passes it."""
    data = b"".join(b"--setenv\0" + k.encode() + b"\0" + v.replace(HOSTNAME_PLACEHOLDER, hostname).encode() + b"\0"
                    for k, v in ctx["env"])
    fd = os.memfd_create("baseline-env", os.MFD_CLOEXEC)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def sandbox_argv(ctx: dict, hostname: str, status_fd: int, cwd: str,
                 argv: list[str], env_fd: int, script_fd: int | None = None) -> list[str]:
    """The full bwrap command line, in the order LocalExecutor builds it (checked against
    the real one by bench.sandbox.verify_context): a step with no output path gets an
    in-memory root, its script copied in from `script_fd`."""
    script = [] if script_fd is None else ["--perms", "0755", "--file", str(script_fd), ctx["script_path"]]
    bw = [ctx["bwrap"], "--tmpfs", "/", *ctx["base"], *script, "--hostname", hostname, "--args", str(env_fd)]
    return bw + ["--json-status-fd", str(status_fd), "--chdir", cwd, "--", *argv]


def substitute(text: str, scope: dict[str, str]) -> str:
    def one(m: re.Match) -> str:
        key = m.group(1)
        if key not in scope:
            raise KeyError(f"baseline: unsupported or unknown variable {{{{{key}}}}}")
        return scope[key]
    return _VAR.sub(one, str(text))


class SetupRace(RuntimeError):
    """bwrap could not set the sandbox up (a host mount changed under it)."""


class Baseline:
    def __init__(self, wf: dict, ctx: dict, log_argv: str | None = None):
        self.spec = wf["spec"]
        self.templates = {t["name"]: t for t in self.spec["templates"]}
        self.ctx = ctx
        par = self.spec.get("parallelism")
        self.sem = asyncio.Semaphore(int(par) if par else 1 << 30)
        # the minimal sandbox has its own /tmp: the steps' scripts live where it shows them
        self.tmp = tempfile.mkdtemp(prefix="tiphys-bench-baseline-",
                                    dir="/var/tmp" if ctx["sandbox"] == "minimal" else None)
        self.counter = itertools.count()
        self.log = open(log_argv, "w") if log_argv else None
        self.wf_params = {p["name"]: str(p.get("value", ""))
                          for p in (self.spec.get("arguments") or {}).get("parameters") or []}

    async def main(self) -> None:
        try:
            await self.template(self.spec["entrypoint"], dict(self.wf_params))
        finally:
            if self.log:
                self.log.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    async def template(self, name: str, params: dict[str, str]) -> str:
        t = self.templates[name]
        for p in (t.get("inputs") or {}).get("parameters") or []:
            if p["name"] not in params and "value" in p:
                params[p["name"]] = str(p["value"])
        scope = {f"inputs.parameters.{k}": v for k, v in params.items()}
        scope.update({f"workflow.parameters.{k}": v for k, v in self.wf_params.items()})
        if "dag" in t:
            return await self.dag(t["dag"]["tasks"], scope)
        body = t.get("container") or t.get("script")
        if body is None:
            raise ValueError(f"baseline: template {name} is neither dag, container nor script")
        argv = [substitute(c, scope) for c in [*(body.get("command") or ()), *(body.get("args") or ())]]
        source = substitute(body["source"], scope) if "script" in t else None
        if not argv:
            raise ValueError(f"baseline: template {name} has no command")
        return await self.process(argv, source)

    async def dag(self, tasks: list[dict], outer: dict[str, str]) -> str:
        done: dict[str, asyncio.Future] = {t["name"]: asyncio.get_running_loop().create_future() for t in tasks}
        results: dict[str, str] = {}

        async def run_task(task: dict) -> None:
            deps = list(task.get("dependencies") or [])
            if task.get("depends"):
                expr = task["depends"]
                if "||" in expr or "!" in expr:
                    raise ValueError(f"baseline: depends {expr!r}")
                deps += [d.strip().split(".")[0] for d in expr.split("&&")]
            for d in deps:
                await done[d]
            scope = dict(outer)
            scope.update({f"tasks.{k}.outputs.result": v for k, v in results.items()})
            if "withSequence" in task:
                seq = task["withSequence"]
                start = int(substitute(seq.get("start", 0), scope))
                if "count" in seq:
                    items = [str(i) for i in range(start, start + int(substitute(seq["count"], scope)))]
                else:
                    items = [str(i) for i in range(start, int(substitute(seq["end"], scope)) + 1)]
            elif "withParam" in task:
                items = [v if isinstance(v, str) else json.dumps(v)
                         for v in json.loads(substitute(task["withParam"], scope))]
            elif "withItems" in task:
                items = [v if isinstance(v, str) else json.dumps(v) for v in task["withItems"]]
            else:
                items = None

            def args_for(item: str | None) -> dict[str, str]:
                s = scope if item is None else {**scope, "item": item}
                return {p["name"]: substitute(p.get("value", ""), s)
                        for p in (task.get("arguments") or {}).get("parameters") or []}

            if items is None:
                results[task["name"]] = await self.template(task["template"], args_for(None))
            else:
                outs = await asyncio.gather(*(self.template(task["template"], args_for(i)) for i in items))
                results[task["name"]] = json.dumps(list(outs))
            done[task["name"]].set_result(None)

        await asyncio.gather(*(run_task(t) for t in tasks))
        return ""

    async def process(self, argv: list[str], source: str | None) -> str:
        for attempt in range(3):
            try:
                return await self.process_once(argv, source)
            except SetupRace:
                # a mount of another program vanished while bwrap copied the host's mounts: the
                # step never ran; Tiphys starts such a step again too (runtime/steps.setup_race)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def process_once(self, argv: list[str], source: str | None) -> str:
        async with self.sem:
            n = next(self.counter)
            d = os.path.join(self.tmp, str(n))
            os.mkdir(d)
            ctx = self.ctx
            if ctx["sandbox"] == "minimal":
                if source is not None:
                    script = os.path.join(d, "script")
                    with open(script, "w") as f:
                        f.write(source)
                    os.chmod(script, 0o755)
                    argv = [*argv, script]
                r = w = env_fd = script_fd = None
                full = [ctx["bwrap"], *MINIMAL_BWRAP, "--chdir", d, "--", *argv]
                kw = dict(cwd=d, env=dict(ctx["env"]))
            elif ctx["sandbox"]:
                script_fd = None
                if source is not None:
                    script_fd = os.memfd_create("baseline-script", os.MFD_CLOEXEC)
                    os.write(script_fd, source.encode())
                    os.lseek(script_fd, 0, os.SEEK_SET)
                    argv = [*argv, ctx["script_path"]]
                r, w = os.pipe()
                env_fd = env_file(ctx, f"step-{n}")
                full = sandbox_argv(ctx, f"step-{n}", w, "/", argv, env_fd, script_fd)
                kw = dict(pass_fds=(w, env_fd) + (() if script_fd is None else (script_fd,)), cwd=d, env={})
            else:
                if source is not None:
                    script = os.path.join(d, "script")
                    with open(script, "w") as f:
                        f.write(source)
                    os.chmod(script, 0o755)
                    argv = [*argv, script]
                r = w = env_fd = script_fd = None
                full = argv
                kw = dict(cwd=d, env=dict(ctx["env"]))
            if self.log:
                self.log.write(json.dumps(argv) + "\n")
            out_path = os.path.join(d, "stdout")
            with open(out_path, "wb") as out, open(os.path.join(d, "stderr"), "wb") as err:
                try:
                    proc = await asyncio.create_subprocess_exec(
                        *full, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=err,
                        start_new_session=True, **kw)
                finally:
                    if w is not None:
                        os.close(w)
                    if env_fd is not None:
                        os.close(env_fd)
                    if script_fd is not None:
                        os.close(script_fd)
            rc = await proc.wait()
            if r is not None:
                os.close(r)
            if rc != 0:
                with open(os.path.join(d, "stderr"), "rb") as f:
                    tail = f.read()[-2000:].decode(errors="replace")
                if tail.startswith("bwrap: Can't"):
                    raise SetupRace(tail)
                raise RuntimeError(f"baseline: {argv} exited with {rc}: {tail}")
            with open(out_path, "rb") as f:
                return f.read().decode(errors="replace").rstrip("\n")


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload")
    p.add_argument("context")
    p.add_argument("--log-argv", help="write each step's argv (as given to the sandbox) to this file")
    a = p.parse_args(argv)
    with open(a.workload) as f:
        wf = yaml.safe_load(f)
    with open(a.context) as f:
        ctx = json.load(f)
    asyncio.run(Baseline(wf, ctx, a.log_argv).main())
    return 0


if __name__ == "__main__":
    sys.exit(main())
