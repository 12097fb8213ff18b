"""Per-step cost of the `pod` executor against `podman kube play` of the same pods alone.

    .venv/bin/python bench/pods.py [WORKLOAD] [--reps N]     (default ../shared/bench/w2-chain-100.yaml)

Each repetition runs `tiphys run WORKLOAD --executor pod` (fresh TIPHYS_HOME), keeping a copy
of every Pod it played (TIPHYS_POD_FILES), then plays those very files one after the other
with podman alone: `kube play` and `wait` for main, one after the other (a chain runs its
steps one at a time), then `kube down` of each (Tiphys removes them when the workflow ends
unless podGC says otherwise). Reported: medians of the wall times, and per step
(tiphys - floor) / steps.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def tiphys_run(workload: Path, keep: Path) -> float:
    home = tempfile.mkdtemp(prefix="tiphys-bench-")
    env = {**__import__("os").environ, "TIPHYS_HOME": home, "TIPHYS_POD_FILES": str(keep)}
    began = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("tiphys")), "run", str(workload), "--executor", "pod",
                    "-o", "name"], env=env, check=True, stdout=subprocess.DEVNULL)
    took = time.perf_counter() - began
    subprocess.run(["rm", "-rf", home], check=False)
    return took


def podman_alone(files: list[Path]) -> float:
    def quiet(*args: str) -> None:
        subprocess.run(["podman", *args], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for f in files:     # the step folders Tiphys bound have been removed since: make them again
        for vol in yaml.safe_load(f.read_text())["spec"].get("volumes") or []:
            if "hostPath" in vol and vol["hostPath"].get("type") == "Directory":
                Path(vol["hostPath"]["path"]).mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    for f in files:
        name = yaml.safe_load(f.read_text())["metadata"]["name"]
        quiet("kube", "play", "--network", "host", str(f))
        quiet("wait", "--interval", "20ms", f"{name}-main")
    for f in files:     # removed when the workflow ends, as Tiphys does without podGC
        quiet("kube", "down", str(f))
    return time.perf_counter() - began


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", nargs="?", default=str(ROOT.parent / "shared" / "bench" / "w2-chain-100.yaml"))
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    tiphys, alone, steps = [], [], 0
    for _ in range(a.reps):
        with tempfile.TemporaryDirectory() as keep:
            tiphys.append(tiphys_run(Path(a.workload), Path(keep)))
            files = sorted(Path(keep).glob("*.yaml"))
            steps = len(files)
            alone.append(podman_alone(files))
    t, f = statistics.median(tiphys), statistics.median(alone)
    print(f"{Path(a.workload).name}: {steps} pods; tiphys --executor pod {t:.2f} s, podman kube play alone "
          f"{f:.2f} s (medians of {a.reps}); per step {t / steps * 1000:.0f} ms vs {f / steps * 1000:.0f} ms: "
          f"overhead {(t - f) / steps * 1000:.0f} ms/step ({t / f:.2f}x)")


if __name__ == "__main__":
    main()
