"""A large artifact passed between two steps through S3 (issue 12): Tiphys' wall time and peak
RSS, against the same upload + download done by boto3 alone, in the same run, on a SeaweedFS
started on loopback.

    .venv/bin/python -m bench.s3_artifact [--size-mib 1024] [--reps 1] [--json FILE]

The workflow's first step writes SIZE MiB (`head -c ... /dev/zero`, `archive: none`: the bytes
go to S3 as they are, as a team would pass a large file), the second reads it back (`wc -c`).
The boto3 baseline uploads and downloads a file of the same size with boto3's defaults. Peak
RSS is sampled from /proc every 20 ms for the `tiphys run` process alone (its steps are
separate processes and do not count).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tiphys.testing import seaweed  # noqa: E402

WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: big-artifact-}}
spec:
  entrypoint: main
  artifactRepositoryRef: {{configMap: artifact-repositories, key: default}}
  templates:
  - name: main
    steps:
    - - {{name: write, template: write}}
    - - name: read
        template: read
        arguments: {{artifacts: [{{name: big, from: "{{{{steps.write.outputs.artifacts.big}}}}"}}]}}
  - name: write
    container: {{image: busybox, command: [sh, -c, "head -c {size} /dev/zero > /tmp/big"]}}
    outputs: {{artifacts: [{{name: big, path: /tmp/big, archive: {{none: {{}}}}}}]}}
  - name: read
    inputs: {{artifacts: [{{name: big, path: /tmp/big}}]}}
    container: {{image: busybox, command: [sh, -c, "wc -c < /tmp/big"]}}
"""

REPOSITORY = """\
apiVersion: v1
kind: ConfigMap
metadata: {{name: artifact-repositories}}
data:
  default: |
    s3: {{bucket: bench, endpoint: "{endpoint}", insecure: true,
         accessKeySecret: {{name: s3, key: a}}, secretKeySecret: {{name: s3, key: s}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: s3}}
stringData: {{a: "{access}", s: "{secret}"}}
"""


def tiphys() -> list[str]:
    exe = Path(sys.executable).parent / "tiphys"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "tiphys.cli.main"]


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_tiphys(home: Path, flow: Path) -> tuple[float, float, str]:
    env = {**os.environ, "TIPHYS_HOME": str(home), "PYTHONPATH": str(REPO)}
    began = time.perf_counter()
    proc = subprocess.Popen([*tiphys(), "run", str(flow), "-o", "json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _rss_kib(proc.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - began
    out, err = proc.communicate()
    phase = json.loads(out)["status"]["phase"] if out.strip().startswith("{") else f"? {err[-500:]}"
    return wall, peak / 1024, phase


def run_boto3(server: seaweed.S3Server, size: int, work: Path) -> float:
    src, back = work / "src", work / "back"
    subprocess.run(["sh", "-c", f"head -c {size} /dev/zero > {src}"], check=True)
    client = server.client()
    began = time.perf_counter()
    client.upload_file(str(src), "bench", "baseline/big", )
    client.download_file("bench", "baseline/big", str(back))
    took = time.perf_counter() - began
    src.unlink()
    back.unlink()
    client.delete_object(Bucket="bench", Key="baseline/big")
    return took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    size = args.size_mib * 1024 * 1024
    results: dict[str, list] = {"tiphys_wall_s": [], "tiphys_peak_rss_mib": [], "boto3_wall_s": []}
    with tempfile.TemporaryDirectory(prefix="tiphys-bench-s3-") as tmp:
        work = Path(tmp)
        with seaweed.running(work) as server:
            server.client().create_bucket(Bucket="bench")
            home = work / "home"
            (work / "repo.yaml").write_text(REPOSITORY.format(endpoint=server.endpoint, access=server.access_key,
                                                              secret=server.secret_key))
            subprocess.run([*tiphys(), "apply", "-f", str(work / "repo.yaml")], check=True, capture_output=True,
                           env={**os.environ, "TIPHYS_HOME": str(home), "PYTHONPATH": str(REPO)})
            flow = work / "flow.yaml"
            flow.write_text(WORKFLOW.format(size=size))
            for _ in range(args.reps):
                results["boto3_wall_s"].append(round(run_boto3(server, size, work), 2))
                wall, peak, phase = run_tiphys(home, flow)
                if phase != "Succeeded":
                    print(f"tiphys run ended {phase}", file=sys.stderr)
                    return 1
                results["tiphys_wall_s"].append(round(wall, 2))
                results["tiphys_peak_rss_mib"].append(round(peak, 1))
    best = {k: min(v) for k, v in results.items()}
    summary = {"size_mib": args.size_mib, **results,
               "ratio_tiphys_over_boto3": round(best["tiphys_wall_s"] / best["boto3_wall_s"], 2)}
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
