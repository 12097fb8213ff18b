"""Latency of the first page of 10,000 stored workflows through a real `tiphys server`.

    .venv/bin/python -m bench.server_list [--count 10000] [--store sqlite|postgres|both] [--reps 20]

Workflows (5 nodes each) are written straight into the store, a server is started on it, and
the first page (limit 50) is fetched REPS times as the UI does (only the fields it shows) and
as the argo CLI does (whole objects); medians and max in milliseconds. Prints figures; asserts
nothing about speed.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TIPHYS = Path(sys.executable).parent / "tiphys"
UI_FIELDS = ("metadata,items.metadata.name,items.metadata.namespace,items.metadata.creationTimestamp,"
             "items.status.phase,items.status.startedAt,items.status.finishedAt,items.status.progress")


def workflows(count: int) -> list[dict]:
    found = []
    for i in range(count):
        found.append({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                      "metadata": {"name": f"wf-{i:05d}", "namespace": "argo", "labels": {"team": "ab"[i % 2]},
                                   "annotations": {"tiphys.io/submitted-by": "server"},
                                   "creationTimestamp": f"2026-11-{1 + i * 25 // count:02d}T00:00:{i % 60:02d}Z"},
                      "spec": {"entrypoint": "m", "templates": [{"name": "m", "container": {"image": "busybox"}}]},
                      "status": {"phase": ("Succeeded", "Failed")[i % 7 == 0], "startedAt": "2026-11-01T00:00:00Z",
                                 "finishedAt": "2026-11-01T00:00:03Z", "progress": "5/5",
                                 "nodes": {f"wf-{i:05d}-{j}": {"id": f"wf-{i:05d}-{j}", "name": f"wf-{i:05d}.s{j}",
                                                               "type": "Pod", "phase": "Succeeded"} for j in range(5)}}})
    return found


def measure(store_url: str | None, home: Path, count: int, reps: int) -> dict:
    from tiphys.store import open_store
    with open_store(store_url or home / "tiphys.db") as store:
        store.save_workflows_batch(workflows(count))
    if store_url:   # the statistics autovacuum gathers within a minute of such a load
        import psycopg
        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute("ANALYZE")
    port = int(subprocess.check_output([sys.executable, "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"]))
    cmd = [str(TIPHYS), "server", "--port", str(port), "--log-level", "warning",
           *(["--store", store_url] if store_url else [])]
    proc = subprocess.Popen(cmd, env={**os.environ, "TIPHYS_HOME": str(home)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api/v1/workflows/argo"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, params={"listOptions.limit": "1"}, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        out = {}
        with httpx.Client(timeout=30) as client:
            for label, params in (("ui fields", {"listOptions.limit": "50", "fields": UI_FIELDS}),
                                  ("whole objects", {"listOptions.limit": "50"}),
                                  ("label+phase filter", {"listOptions.limit": "50", "fields": UI_FIELDS,
                                                          "listOptions.labelSelector": "team=a",
                                                          "listOptions.fieldSelector": "status.phase=Failed"})):
                times = []
                for _ in range(reps):
                    t = time.perf_counter()
                    r = client.get(url, params=params)
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200 and len(r.json()["items"]) == 50, r.text[:200]
                out[label] = {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}
        return out
    finally:
        proc.terminate()
        proc.wait(20)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    args = ap.parse_args(argv)
    for backend in (("sqlite", "postgres") if args.store == "both" else (args.store,)):
        with tempfile.TemporaryDirectory(prefix="tiphys-list-") as tmp:
            stop = None
            url = None
            if backend == "postgres":
                sys.path.insert(0, str(ROOT / "tests" / "store"))
                from pg import start_postgres
                url, stop = start_postgres()
            try:
                print(json.dumps({"store": backend, "workflows": args.count,
                                  **measure(url, Path(tmp), args.count, args.reps)}), flush=True)
            finally:
                if stop:
                    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
