"""ConfigMaps, the memoize cache on them, and synchronization lock rows, on SQLite and PostgreSQL."""
from __future__ import annotations

import threading

import pytest

from tiphys.runtime import memocache
from tiphys.runtime.locks import limit


def test_configmap_round_trip(store):
    body = store.save_configmap({"metadata": {"name": "cm"}, "data": {"k": "3", "n": 5}}, namespace="argo")
    assert body["metadata"]["namespace"] == "argo" and body["data"] == {"k": "3", "n": "5"}
    assert store.get_configmap("argo", "cm")["data"]["k"] == "3"
    assert store.get_configmap("default", "cm") is None
    assert limit(store, "argo/ConfigMap/cm/k") == 3
    assert limit(store, "argo/Mutex/x") == 1
    with pytest.raises(LookupError):
        limit(store, "argo/ConfigMap/cm/missing")
    assert store.delete_configmap("argo", "cm") and store.get_configmap("argo", "cm") is None


def test_cache_save_load_and_label_check(store):
    assert memocache.load(store, "default", "c", "k") is None
    memocache.save(store, "default", "c", "k", "wf-1", {"result": "hi"})
    entry = memocache.load(store, "default", "c", "k")
    assert entry["nodeID"] == "wf-1" and entry["outputs"] == {"result": "hi"}
    assert entry["lastHitTimestamp"] >= entry["creationTimestamp"]
    cm = store.get_configmap("default", "c")
    assert cm["metadata"]["labels"] == {memocache.LABEL: "Cache"}
    store.save_configmap({"metadata": {"name": "mine"}, "data": {"k": "x"}})
    with pytest.raises(memocache.CacheError, match="refusing to use it"):
        memocache.load(store, "default", "mine", "k")
    with pytest.raises(memocache.CacheError):
        memocache.save(store, "default", "mine", "k", "n", None)
    assert store.get_configmap("default", "mine")["data"] == {"k": "x"}


def test_concurrent_cache_saves_lose_nothing(store):
    def work(i):
        memocache.save(store, "default", "shared", f"k{i}", f"n{i}", None)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(store.get_configmap("default", "shared")["data"]) == sorted(f"k{i}" for i in range(8))


def test_mutex_queue_by_priority_then_creation(store):
    m = {"ns/Mutex/m": 1}
    assert store.acquire_locks("ns/a", "ns/a", m, 0, "2024-01-01T00:00:00Z")[0]
    taken, lock, free, size = store.acquire_locks("ns/b", "ns/b", m, 0, "2024-01-01T00:00:01Z")
    assert (taken, lock, free, size) == (False, "ns/Mutex/m", 0, 1)
    assert not store.acquire_locks("ns/c", "ns/c", m, 5, "2024-01-01T00:00:02Z")[0]
    assert store.lock_rows("ns/Mutex/m") == [("ns/a", True), ("ns/c", False), ("ns/b", False)]
    store.release_locks(holder="ns/a")
    assert not store.acquire_locks("ns/b", "ns/b", m)[0]        # c is ahead: higher priority
    assert store.acquire_locks("ns/c", "ns/c", m)[0]
    assert store.acquire_locks("ns/c", "ns/c", m)[0]             # already its own
    store.release_locks(workflow="ns/c")
    assert store.acquire_locks("ns/b", "ns/b", m)[0]


def test_semaphore_and_all_or_none(store):
    s = {"ns/ConfigMap/cm/k": 2}
    assert store.acquire_locks("ns/w/1", "ns/w", s)[0]
    assert store.acquire_locks("ns/w/2", "ns/w", s)[0]
    taken, _, free, size = store.acquire_locks("ns/w/3", "ns/w", s)
    assert not taken and (free, size) == (0, 2)
    both = {"ns/ConfigMap/cm/k": 2, "ns/Mutex/z": 1}
    store.release_locks(holder="ns/w/3")
    assert not store.acquire_locks("ns/v/1", "ns/v", both)[0]
    assert store.lock_rows("ns/Mutex/z") == [("ns/v/1", False)]   # waits: holds nothing
    store.release_locks(holder="ns/w/1")
    assert store.acquire_locks("ns/v/1", "ns/v", both)[0]


def test_rows_of_ended_workflows_are_dropped(store):
    m = {"default/Mutex/m": 1}
    store.save_workflow({"metadata": {"name": "gone", "namespace": "default"}, "status": {"phase": "Failed"}})
    assert store.acquire_locks("default/gone", "default/gone", m)[0]
    assert store.acquire_locks("default/next", "default/next", m)[0]
