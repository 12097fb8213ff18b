"""The benchmark harness works (bench/). Proves nothing about speed: no timing is asserted."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKLOADS = REPO.parent / "shared" / "bench"
if str(REPO) not in sys.path:                     # `bench` is a top-level folder, not installed
    sys.path.insert(0, str(REPO))
QUICK = ["w1-hello", "w2-chain-100", "w4-diamond-params", "w3-fanout-1000"]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not WORKLOADS.is_dir(), reason=f"benchmark workloads {WORKLOADS} are absent"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed"),
]


@pytest.mark.timeout(300)
def test_quick_bench_writes_positive_numbers_for_every_quick_workload(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--reps", "1", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["meta"]["reps"] == 1 and report["meta"]["quick"] is True
    assert sorted(report["workloads"]) == sorted(QUICK)
    for name in QUICK:
        w = report["workloads"][name]
        assert set(w["variants"]) == {"tiphys", "baseline-sandbox", "baseline-nosandbox", "floor-minimal-bwrap"}, name
        for label, v in w["variants"].items():
            assert v["error"] is None, (name, label, v["error"])
            assert v["runs"] == 1, (name, label)
            for key in ("median_s", "min_s", "max_s", "peak_mb_max"):
                assert v[key] is not None and v[key] > 0, (name, label, key, v[key])
        for key in ("tiphys/baseline-sandbox", "tiphys/baseline-nosandbox", "tiphys/floor-minimal-bwrap"):
            assert w["ratios"][key] > 0, (name, key)
        for t in w["targets"]:
            assert t["met"] in (True, False), t      # evaluated, whatever the outcome
    assert "tiphys" in proc.stdout and "baseline-sandbox" in proc.stdout   # the table


def test_baseline_command_line_is_the_local_executors():
    from bench import sandbox
    for sandboxed in (True, False):
        ex = sandbox.make_executor(sandboxed)
        sandbox.verify_context(ex, sandbox.context(ex))   # raises AssertionError on any difference


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["w1-hello", "w2-chain-100", "w4-diamond-params"])
def test_baseline_runs_the_same_argv_as_tiphys(name, tmp_path):
    from bench import check, sandbox
    ex = sandbox.make_executor(True)
    ctx = sandbox.write_context(ex, tmp_path / "ctx.json")
    result = check.check(WORKLOADS / f"{name}.yaml", ctx)
    assert result["ok"], result
    assert result["steps"] > 0
