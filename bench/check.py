"""Prove the baseline runs the very same processes as Tiphys.

Runs the real `tiphys run` (in a subprocess, its own TIPHYS_HOME) with LocalExecutor.start
wrapped to log the argv the executor computes for each StepSpec (LocalExecutor._argv, the
in-sandbox command line), runs bench/baseline.py with --log-argv, and compares the two
multisets of argv (order differs between parallel steps).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent

_RECORDER = r"""
import json, sys
from tiphys.executors import local
log = open(sys.argv[1], "w")
original = local.LocalExecutor.start
async def start(self, spec):
    script = local.SCRIPT_IN_SANDBOX if spec.script is not None else None
    log.write(json.dumps(self._argv(spec, local.ARGOSAY_IN_SANDBOX, script)) + "\n")
    log.flush()
    return await original(self, spec)
local.LocalExecutor.start = start
from tiphys.cli.main import main
sys.exit(main(["run", sys.argv[2], "-o", "name"]))
"""


def _read(path: Path) -> Counter:
    return Counter(tuple(json.loads(line)) for line in path.read_text().splitlines() if line.strip())


def check(workload: Path, context_file: Path, timeout: float = 600) -> dict:
    """{"ok": bool, "steps": n, "diff": [...]} comparing Tiphys' argv with the baseline's."""
    with tempfile.TemporaryDirectory(prefix="tiphys-bench-check-") as tmp:
        t = Path(tmp)
        env = {**os.environ, "TIPHYS_HOME": str(t / "home")}
        subprocess.run([sys.executable, "-c", _RECORDER, str(t / "tiphys.log"), str(workload)],
                       env=env, check=True, capture_output=True, timeout=timeout)
        subprocess.run([sys.executable, str(HERE / "baseline.py"), str(workload), str(context_file),
                        "--log-argv", str(t / "baseline.log")],
                       check=True, capture_output=True, timeout=timeout)
        ours, theirs = _read(t / "baseline.log"), _read(t / "tiphys.log")
    diff = [{"argv": list(k), "tiphys": theirs[k], "baseline": ours[k]}
            for k in sorted(set(ours) | set(theirs)) if ours[k] != theirs[k]]
    return {"ok": not diff, "steps": sum(theirs.values()), "diff": diff[:10]}
