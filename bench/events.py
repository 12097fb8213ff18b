"""Events and schedules against a real `tiphys server` (issue 13, point 5).

    .venv/bin/python bench/events.py [--count 1000] [--senders 8] [--drift-seconds 120] [--json OUT]

1. Webhook to workflow created: a github EventSource with a webhookSecret and a Sensor whose
   k8s trigger creates a Workflow named from the payload. COUNT signed pushes are sent one
   after the other; each latency runs from just before the POST until the server's watch
   stream announces that workflow (ADDED). The server runs with --no-controller, so the
   figure is the event path alone (the workflows wait Pending).
2. Sustained events/s: COUNT more signed pushes from SENDERS threads at once; the rate is
   COUNT over the time from the first POST until the last workflow is announced.
3. Cron drift: a CronWorkflow `@every 1s` on a server that runs workflows, for
   --drift-seconds; each run's drift is the moment the watch stream announces it minus its
   scheduled time (the unix seconds in its name); missed ticks are counted.
Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

TIPHYS = Path(sys.executable).parent / "tiphys"
SECRET = "bench-secret"


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server(home: Path, *args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "TIPHYS_HOME": str(home)}
    proc = subprocess.Popen([str(TIPHYS), "server", "--port", str(port), "--log-level", "warning", *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{url}/api/v1/version", timeout=0.5)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def end(proc: subprocess.Popen) -> None:
    """SIGTERM; SIGKILL after 5 s (an open watch stream holds uvicorn's graceful shutdown)."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Watch(threading.Thread):
    """Records when each workflow name is first announced ADDED."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.seen, self.cond = url, {}, threading.Condition()

    def run(self) -> None:
        try:
            self._follow()
        except httpx.HTTPError:
            pass                # the server went away at the end of a measurement

    def _follow(self) -> None:
        with httpx.stream("GET", f"{self.url}/api/v1/workflow-events/default",
                          params={"listOptions.resourceVersion": "0", "fields": "result.object.metadata.name"},
                          timeout=None) as r:
            for line in r.iter_lines():
                if not line.strip():
                    continue
                result = json.loads(line).get("result") or {}
                name = ((result.get("object") or {}).get("metadata") or {}).get("name")
                if name and name not in self.seen:
                    with self.cond:
                        self.seen[name] = time.perf_counter()
                        self.cond.notify_all()

    def wait(self, name: str, timeout: float = 30) -> float:
        with self.cond:
            self.cond.wait_for(lambda: name in self.seen, timeout)
            return self.seen.get(name, float("nan"))


def setup_events(home: Path, url: str, port: int) -> None:
    env = {**os.environ, "TIPHYS_HOME": str(home)}
    subprocess.run([str(TIPHYS), "secret", "create", "gh", "--from-literal", f"secret={SECRET}"], env=env, check=True,
                   capture_output=True)
    es = {"apiVersion": "argoproj.io/v1alpha1", "kind": "EventSource", "metadata": {"name": "github"},
          "spec": {"github": {"push": {"webhook": {"endpoint": "/push", "port": str(port), "method": "POST"},
                                       "webhookSecret": {"name": "gh", "key": "secret"}}}}}
    sensor = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Sensor", "metadata": {"name": "bench"},
              "spec": {"dependencies": [{"name": "push", "eventSourceName": "github", "eventName": "push"}],
                       "triggers": [{"template": {"name": "create", "k8s": {"operation": "create", "source": {
                           "resource": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                                        "metadata": {"name": "x"},
                                        "spec": {"entrypoint": "main", "templates": [
                                            {"name": "main", "container": {"image": "alpine", "command": ["true"]}}]}}},
                           "parameters": [{"src": {"dependencyName": "push", "dataKey": "body.name"},
                                           "dest": "metadata.name"}]}}}]}}
    httpx.post(f"{url}/api/v1/event-sources/default", json={"eventSource": es}).raise_for_status()
    httpx.post(f"{url}/api/v1/sensors/default", json={"sensor": sensor}).raise_for_status()
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("event source did not listen")


def push(client: httpx.Client, port: int, name: str) -> None:
    body = json.dumps({"name": name, "ref": "refs/heads/main"}).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    r = client.post(f"http://127.0.0.1:{port}/push", content=body, headers={
        "Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": sig})
    r.raise_for_status()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bench_webhooks(count: int, senders: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        proc, url = server(home, "--no-controller")
        try:
            port = free_port()
            setup_events(home, url, port)
            watch = Watch(url)
            watch.start()
            time.sleep(0.5)
            latencies = []
            with httpx.Client() as client:
                for i in range(count):
                    name = f"lat-{i}"
                    t0 = time.perf_counter()
                    push(client, port, name)
                    latencies.append(watch.wait(name) - t0)
            names = [f"rate-{i}" for i in range(count)]
            t0 = time.perf_counter()
            with httpx.Client(limits=httpx.Limits(max_connections=senders)) as client, \
                    ThreadPoolExecutor(senders) as pool:
                list(pool.map(lambda n: push(client, port, n), names))
            sent = time.perf_counter()
            last = max(watch.wait(n) for n in names)
        finally:
            end(proc)
    ms = [x * 1000 for x in latencies]
    return {"events": count, "latency_ms_p50": round(statistics.median(ms), 2), "latency_ms_p99": round(pct(ms, 99), 2),
            "latency_ms_max": round(max(ms), 2), "sustained_events_per_s": round(count / (last - t0), 1),
            "accepted_events_per_s": round(count / (sent - t0), 1), "senders": senders}


def bench_drift(seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = server(Path(tmp))
        try:
            watch = Watch(url)
            watch.start()
            time.sleep(0.5)
            cron = {"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow", "metadata": {"name": "drift"},
                    "spec": {"schedules": ["@every 1s"], "successfulJobsHistoryLimit": 5, "workflowSpec": {
                        "entrypoint": "main", "templates": [{"name": "main", "container": {
                            "image": "alpine", "command": ["true"]}}]}}}
            offset = time.time() - time.perf_counter()
            httpx.post(f"{url}/api/v1/cron-workflows/default", json={"cronWorkflow": cron}).raise_for_status()
            time.sleep(seconds)
            seen = {n: t + offset for n, t in watch.seen.items() if n.startswith("drift-")}
        finally:
            end(proc)
    stamps = sorted(int(n.rsplit("-", 1)[1]) for n in seen)
    drifts = [(seen[f"drift-{s}"] - s) * 1000 for s in stamps]
    missed = (stamps[-1] - stamps[0] + 1 - len(stamps)) if stamps else 0
    return {"seconds": seconds, "runs": len(stamps), "missed_ticks": missed,
            "drift_ms_p50": round(statistics.median(drifts), 1), "drift_ms_p99": round(pct(drifts, 99), 1),
            "drift_ms_max": round(max(drifts), 1), "drift_ms_min": round(min(drifts), 1),
            "drift_trend_ms": round(drifts[-1] - drifts[0], 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--drift-seconds", type=float, default=120)
    ap.add_argument("--json")
    args = ap.parse_args()
    result = {"webhook": bench_webhooks(args.count, args.senders)}
    print(json.dumps(result["webhook"]), flush=True)
    result["cron"] = bench_drift(args.drift_seconds)
    print(json.dumps(result["cron"]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
