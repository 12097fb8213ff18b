"""Submissions per second through tiphys.client against a real `tiphys server`.

    .venv/bin/python bench/client_submit.py [--count 1000] [--threads 8] [--parallelism 8] [--json OUT]

For each mode (one connection, sequential POSTs; a thread pool sharing one client), a fresh
server with an empty TIPHYS_HOME is started on a free port, COUNT copies of
../shared/bench/w1-hello.yaml are POSTed, and the script reports the submission rate and the
time from the first POST until every workflow is Succeeded (polled with a projected list).
It also times a few `tiphys submit FILE -o name` commands (a new process each).
Prints figures; asserts nothing about speed.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from tiphys.client.api import Client

ROOT = Path(__file__).resolve().parent.parent
WORKLOAD = ROOT.parent / "shared" / "bench" / "w1-hello.yaml"
TIPHYS = Path(sys.executable).parent / "tiphys"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


STORE: str | None = None      # --store postgres: the URL of a throwaway PostgreSQL


def start_server(home: Path, parallelism: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPHYS_")}
    store = []
    if STORE:   # a fresh schema per server, as a fresh TIPHYS_HOME is for SQLite
        from pg import create_schema
        store = ["--store", create_schema(STORE, f"bench{port}")]
    proc = subprocess.Popen([str(TIPHYS), "server", "--port", str(port), "--log-level", "warning",
                             "--parallelism", str(parallelism), *store], env={**env, "TIPHYS_HOME": str(home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("tiphys server did not start")
            time.sleep(0.05)


def wait_all(client: Client, ns: str, count: int, t0: float, timeout: float = 1800) -> tuple[float, dict]:
    """Seconds from t0 until every workflow completed, and {phase: n} (plus the distinct
    messages of those that did not succeed)."""
    while True:
        items = client.list_workflows(ns, fields="items.metadata.name,items.status.phase,items.status.message")
        phases: dict[str, int] = {}
        for wf in items:
            p = (wf.get("status") or {}).get("phase") or "Pending"
            phases[p] = phases.get(p, 0) + 1
            if p in ("Failed", "Error"):
                phases[f"message: {(wf.get('status') or {}).get('message', '')[:200]}"] = 0
        done = sum(phases.get(p, 0) for p in ("Succeeded", "Failed", "Error"))
        if len(items) >= count and done >= count:
            return time.monotonic() - t0, phases
        if time.monotonic() - t0 > timeout:
            return float("nan"), phases
        time.sleep(0.5)


def measure(mode: str, count: int, threads: int, parallelism: int) -> dict:
    wf = yaml.safe_load(WORKLOAD.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp), parallelism)
        try:
            with Client(url) as client:
                ns = "bench"
                t0 = time.monotonic()
                if mode == "sequential":
                    for _ in range(count):
                        client.create_workflow(ns, wf)
                else:
                    with ThreadPoolExecutor(threads) as pool:
                        list(pool.map(lambda _: client.create_workflow(ns, wf), range(count)))
                submit_s = time.monotonic() - t0
                all_done_s, phases = wait_all(client, ns, count, t0)
        finally:
            proc.terminate()
            proc.wait(30)
    return {"mode": mode, "count": count, "threads": threads if mode != "sequential" else 1,
            "server_parallelism": parallelism, "submit_s": round(submit_s, 2),
            "submissions_per_s": round(count / submit_s, 1), "all_succeeded_s": round(all_done_s, 2),
            "completions_per_s": round(count / all_done_s, 1), "phases": phases}


def cli_latency(n: int = 10) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "server", 8)
        env = {**os.environ, "TIPHYS_SERVER": url, "TIPHYS_HOME": str(Path(tmp) / "client")}
        try:
            times = []
            for _ in range(n):
                t0 = time.monotonic()
                subprocess.run([str(TIPHYS), "submit", str(WORKLOAD), "-o", "name"], env=env, check=True,
                               stdout=subprocess.DEVNULL)
                times.append(time.monotonic() - t0)
        finally:
            proc.terminate()
            proc.wait(30)
    times.sort()
    return {"mode": "cli process per submit", "count": n, "median_s": round(times[n // 2], 3),
            "min_s": round(times[0], 3), "max_s": round(times[-1], 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--skip-cli", action="store_true", help="skip timing `tiphys submit` processes")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--parallelism", type=int, default=8, help="the server's --parallelism")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite",
                    help="the server's store (postgres: a throwaway cluster, as the tests start)")
    args = ap.parse_args()
    global STORE
    stop = None
    if args.store == "postgres":
        sys.path.insert(0, str(ROOT / "tests" / "store"))
        from pg import start_postgres
        STORE, stop = start_postgres()
    try:
        results = [measure("sequential", args.count, 1, args.parallelism),
                   measure("thread-pool", args.count, args.threads, args.parallelism),
                   *([] if args.skip_cli else [cli_latency()])]
    finally:
        if stop:
            stop()
    for r in results:
        print(json.dumps(r))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
