"""ResourceQuota usage kept in the store (store/quota.py): shared by every connection, on
SQLite and on PostgreSQL, freed with the pod or with its workflow's end."""
from __future__ import annotations

import threading

from tiphys.store import open_store


def _fits(limit: float):
    def check(used: dict[str, float]) -> str | None:
        return None if used.get("pods", 0.0) + 1 <= limit else f"used pods={used.get('pods', 0.0):g}"
    return check


def test_two_connections_count_the_same_pods(store, store_url):
    other = open_store(store_url)
    try:
        assert store.admit_pod("argo", "a", "wf1", {"pods": 1.0, "requests.cpu": 0.5}, _fits(2)) is None
        assert other.admit_pod("argo", "b", "wf2", {"pods": 1.0, "requests.cpu": 0.25}, _fits(2)) is None
        assert other.admit_pod("argo", "c", "wf2", {"pods": 1.0}, _fits(2)) == "used pods=2"
        assert store.quota_used("argo") == {"pods": 2.0, "requests.cpu": 0.75}
        assert store.admit_pod("argo", "a", "wf1", {"pods": 1.0}, _fits(2)) is None     # re-attached: once
        assert other.admit_pod("other", "c", "wf3", {"pods": 1.0}, _fits(1)) is None    # per namespace
        store.release_pod("argo", "a")
        assert other.admit_pod("argo", "c", "wf2", {"pods": 1.0}, _fits(2)) is None
    finally:
        other.close()


def test_shares_of_an_ended_workflow_are_dropped(store):
    store.save_workflow({"metadata": {"name": "killed", "namespace": "argo"}, "status": {"phase": "Running"}})
    assert store.admit_pod("argo", "k1", "killed", {"pods": 1.0}, _fits(1)) is None
    assert store.admit_pod("argo", "n1", "next", {"pods": 1.0}, _fits(1)) is not None
    store.save_workflow({"metadata": {"name": "killed", "namespace": "argo"}, "status": {"phase": "Failed"}})
    assert store.admit_pod("argo", "n1", "next", {"pods": 1.0}, _fits(1)) is None
    assert store.quota_used("argo") == {"pods": 1.0}


def test_concurrent_admissions_never_exceed_the_quota(store, store_url):
    admitted: list[str] = []
    lock = threading.Lock()

    def admit(i: int) -> None:
        own = open_store(store_url)
        try:
            if own.admit_pod("argo", f"p{i}", "wf", {"pods": 1.0}, _fits(3)) is None:
                with lock:
                    admitted.append(f"p{i}")
        finally:
            own.close()

    threads = [threading.Thread(target=admit, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 3 and store.quota_used("argo") == {"pods": 3.0}
