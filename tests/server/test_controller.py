"""The controller alone (no HTTP): per-namespace parallelism and lease hand-over."""
from __future__ import annotations

import asyncio
import time

from server_helpers import hello, sleeper
from tiphys.server.controller import Controller
from tiphys.store.sqlite import Store


def wait(store, ns, name, phases=("Succeeded", "Failed", "Error"), timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        wf = store.get_workflow(name, ns)
        if wf and (wf.get("status") or {}).get("phase") in phases:
            return wf
        assert time.monotonic() < deadline, f"{ns}/{name}: {wf and wf.get('status')}"
        time.sleep(0.05)


def with_ns(wf, ns):
    wf["metadata"]["namespace"] = ns
    return wf


def test_namespace_parallelism_holds_a_busy_namespace_but_not_others(tmp_path):
    store = Store(tmp_path / "db")
    ctl = Controller(store, tmp_path, parallelism=4, namespace_parallelism=1)
    ctl.start()
    try:
        asyncio.run(ctl.submit(with_ns(sleeper("long", 30), "a")))
        asyncio.run(ctl.submit(with_ns(hello("second-a"), "a")))
        asyncio.run(ctl.submit(with_ns(hello("in-b"), "b")))
        assert wait(store, "b", "in-b")["status"]["phase"] == "Succeeded"
        held = store.get_workflow("second-a", "a")
        assert held["status"]["phase"] == "Pending" and "postponed" in held["status"]["message"]
        asyncio.run(ctl.stop("a", "long", "enough", terminate=True))
        assert wait(store, "a", "second-a")["status"]["phase"] == "Succeeded"
    finally:
        ctl.close()
        store.close()


def test_a_second_controller_takes_over_when_the_lease_expires(tmp_path):
    store = Store(tmp_path / "db")
    first = Controller(store, tmp_path, lease_ttl=1.0)
    second = Controller(store, tmp_path, lease_ttl=1.0)
    first.owner = "elsewhere:1:dead"           # as if on another machine: only expiry frees it
    wf = hello("moved")
    wf["metadata"]["namespace"] = "argo"
    # the first controller records and claims the workflow, then dies before running it
    first.store.claim("argo", "moved", first.owner, 1.0)
    wf["metadata"]["annotations"] = {"tiphys.io/submitted-by": "server"}
    wf["status"] = {"phase": "Pending"}
    store.save_workflow(wf)
    second.start()
    try:
        assert store.lease_owner("argo", "moved") == first.owner
        done = wait(store, "argo", "moved", timeout=10)
        assert done["status"]["phase"] == "Succeeded"
    finally:
        second.close()
        store.close()
