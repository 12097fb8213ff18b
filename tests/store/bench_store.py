"""Store benchmark (not a test): `.venv/bin/python tests/store/bench_store.py [--n 10000]`.

For SQLite (a temporary file) and PostgreSQL (a throwaway cluster from pg.py), prints:
- save_workflow throughput (one transaction per call, as the runtime saves);
- list_page latency, first page (limit 50) and a deep page, with N stored workflows, unfiltered
  and filtered by namespace+phase, by label, by name substring.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg import create_database, start_postgres  # noqa: E402

from tiphys.store import open_store  # noqa: E402


def workflow(i: int, nodes: int) -> dict:
    name = f"wf-{i:06d}"
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "namespace": ("argo", "dev")[i % 2], "uid": f"uid-{i}",
                         "creationTimestamp": f"2026-01-{1 + i // 86400 % 28:02d}T{i // 3600 % 24:02d}:"
                                              f"{i // 60 % 60:02d}:{i % 60:02d}Z",
                         "labels": {"team": f"t{i % 10}", "workflows.argoproj.io/completed": "true"}},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "busybox"}}]},
            "status": {"phase": ("Succeeded", "Failed", "Running")[i % 3], "startedAt": "2026-01-01T00:00:00Z",
                       "nodes": {f"{name}-{k}": {"id": f"{name}-{k}", "name": f"{name}[{k}]", "phase": "Succeeded",
                                                 "type": "Pod", "templateName": "main"} for k in range(nodes)}}}


def timed(fn, repeat: int = 30) -> tuple[float, float]:
    fn()  # warm
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000, max(samples) * 1000


def bench(label: str, url: str, n: int, nodes: int, analyze: bool = False) -> None:
    store = open_store(url)
    t = time.perf_counter()
    saves = 500
    for i in range(saves):
        store.save_workflow(workflow(n + i, nodes))
    rate = saves / (time.perf_counter() - t)
    batch = 1000
    for start in range(0, n, batch):
        store.save_workflows_batch(workflow(i, nodes) for i in range(start, min(n, start + batch)))
    total = len(store.list_page(limit=100000)[0])
    print(f"{label}: {total} workflows stored ({nodes} nodes each); save_workflow {rate:.0f}/s "
          f"(single calls, {saves} saves)")
    if analyze:  # what autovacuum does a minute after a bulk load; measured both ways
        measure_pages(store, "before ANALYZE")
        import psycopg
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")
        measure_pages(store, "after ANALYZE")
    else:
        measure_pages(store, "")
    store.close()


def measure_pages(store, note: str) -> None:
    if note:
        print(f"  -- {note}")
    cases = {
        "first page, no filter": dict(),
        "first page, ns+phase": dict(namespace="argo", phases=["Failed", "Running"]),
        "first page, label team=t3": dict(labels={"team": "t3"}),
        "first page, name contains '99'": dict(name_contains="99"),
    }
    for what, kw in cases.items():
        med, worst = timed(lambda: store.list_page(limit=50, **kw))
        print(f"  list_page {what:32s} median {med:6.2f} ms  max {worst:6.2f} ms")
    _, after = store.list_page(limit=50)
    for _ in range(100):
        _, after = store.list_page(limit=50, after=after)
    med, worst = timed(lambda: store.list_page(limit=50, after=after))
    print(f"  list_page {'page 102, no filter':32s} median {med:6.2f} ms  max {worst:6.2f} ms")
    med, worst = timed(lambda: store.list_workflows(limit=50, with_nodes=False))
    print(f"  list_workflows(limit=50)          median {med:6.2f} ms  max {worst:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--nodes", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench("sqlite", f"sqlite:///{tmp}/bench.db", args.n, args.nodes)
    url, stop = start_postgres()
    try:
        bench("postgres", create_database(url, "bench"), args.n, args.nodes, analyze=True)
    finally:
        stop()


if __name__ == "__main__":
    main()
