"""The in-process workflow controller: takes submitted workflows and runs each with the
runtime's Runner, at most `parallelism` at a time; the rest wait as Pending, first come first
served.

The runners live on the controller's own asyncio loop in a dedicated thread, not on the
HTTP server's loop, because `Runner.main()` installs (and on exit removes) SIGINT/SIGTERM
handlers on the loop it runs on: on uvicorn's loop that would steal Ctrl-C from the server
while a workflow runs and reset SIGTERM to the default (no graceful shutdown) after the first
workflow ends. On a non-main thread the runner's `add_signal_handler` raises RuntimeError,
which it already tolerates. It also keeps the runners' synchronous SQLite saves off the HTTP
loop.

Crash safety is a later slice: workflows the server left Running when it last stopped are
marked Error "server restarted" on start; workflows it left Pending (never started) are
queued again. Only workflows this server submitted (annotation SUBMITTED_BY) are touched, so a
`tiphys run` in another terminal sharing TIPHYS_HOME is left alone.
"""
from __future__ import annotations

import asyncio
import json
import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tiphys.engine import actions as A
from tiphys.server.hub import Hub
from tiphys.store.sqlite import COMPLETED_PHASES, TEMPLATE_KINDS, Store, now_iso

log = logging.getLogger("tiphys.server")

SUBMITTED_BY = "tiphys.io/submitted-by"
POSTPONED = "Workflow processing has been postponed because too many workflows are already running"
RESTARTED = "server restarted"
SNAPSHOT_EVERY = 0.2
STOP_AGAIN = 1.0

Key = tuple[str, str]


def key_of(wf: dict) -> Key:
    meta = wf["metadata"]
    return (meta.get("namespace") or "default", meta["name"])


def _copy(wf: dict) -> dict:
    return json.loads(json.dumps(wf))


class Controller:
    def __init__(self, store: Store, home: Path, *, parallelism: int = 8, hub: Hub | None = None,
                 executor_factory: Callable[[], Any] | None = None):
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        self.store, self.home, self.parallelism = store, Path(home), parallelism
        self.hub = hub or Hub()
        self._executor_factory = executor_factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._queue: deque[dict] = deque()
        self._runners: dict[Key, Any] = {}
        self._tasks: set[asyncio.Task] = set()
        self._snapshots: dict[Key, dict] = {}
        self._snap_at: dict[Key, tuple[float, str]] = {}
        self._deleted: set[Key] = set()
        self._lock = threading.Lock()

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        pending = self._recover()
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=serve, name="tiphys-controller", daemon=True)
        self._thread.start()
        ready.wait()
        for wf in pending:
            self._call(self._enqueue, wf)

    def close(self, timeout: float = 10.0) -> None:
        """Terminate what still runs (their records end Failed), wait up to `timeout` s."""
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            self._queue.clear()
            for runner in list(self._runners.values()):
                runner.events.put_nowait(A.StopRequested("Stopped: the Tiphys server shut down", terminate=True))
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=timeout)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout + 5)
        except Exception:  # noqa: BLE001 - best effort at shutdown
            log.exception("controller shutdown")
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loop = None

    def _recover(self) -> list[dict]:
        """Mark our Running leftovers Error; return our Pending leftovers to queue again."""
        pending = []
        for wf in self.store.list_workflows(phase="Running"):
            if self._ours(wf):
                status = wf.setdefault("status", {})
                status.update(phase="Error", message=RESTARTED, finishedAt=now_iso())
                for node in (status.get("nodes") or {}).values():
                    if node.get("phase") not in COMPLETED_PHASES and node.get("phase") != "Skipped":
                        node.update(phase="Error", message=RESTARTED, finishedAt=status["finishedAt"])
                self.store.save_workflow(wf)
        for wf in self.store.list_workflows(phase="Pending"):
            if self._ours(wf):
                pending.append(wf)
        pending.sort(key=lambda w: w["metadata"].get("creationTimestamp") or "")
        return pending

    @staticmethod
    def _ours(wf: dict) -> bool:
        return ((wf.get("metadata") or {}).get("annotations") or {}).get(SUBMITTED_BY) == "server"

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._loop is None:
            raise RuntimeError("the controller is not running")
        self._loop.call_soon_threadsafe(fn, *args)

    # -- API (any thread) -----------------------------------------------------------------

    def submit(self, wf: dict) -> dict:
        """Record the workflow Pending and queue it; returns the stored record."""
        wf = _copy(wf)
        meta = wf["metadata"]
        meta.setdefault("annotations", {})[SUBMITTED_BY] = "server"
        wf["status"] = {"phase": "Pending"}
        self.store.save_workflow(wf)
        self.hub.publish("ADDED", _copy(wf))
        self._call(self._enqueue, _copy(wf))
        return wf

    def snapshot(self, namespace: str, name: str) -> dict | None:
        """The newest state of a running workflow (fresher than the store), or None."""
        return self._snapshots.get((namespace, name))

    def running(self) -> int:
        return len(self._runners)

    def queued(self) -> int:
        return len(self._queue)

    def stop(self, namespace: str, name: str, message: str, *, terminate: bool) -> bool:
        """Ask a running or queued workflow to stop; False when it is neither."""
        key = (namespace, name)
        with self._lock:
            live = key in self._runners or any(key_of(w) == key for w in list(self._queue))
        if not live:
            return False
        done = threading.Event()
        self._call(self._stop, key, message, terminate, done)
        done.wait(5)
        return True

    def delete(self, namespace: str, name: str) -> None:
        """Forget a workflow: stop it first if it runs, then delete its record and logs."""
        key = (namespace, name)
        with self._lock:
            self._deleted.add(key)
        if not self.stop(namespace, name, "Stopped: the workflow was deleted", terminate=True):
            with self._lock:
                self._deleted.discard(key)
            self._forget(key)

    # -- the controller loop ----------------------------------------------------------------

    def _stop(self, key: Key, message: str, terminate: bool, done: threading.Event) -> None:
        try:
            runner = self._runners.get(key)
            if runner is not None:
                runner.events.put_nowait(A.StopRequested(message, terminate=terminate))
                asyncio.get_running_loop().call_later(STOP_AGAIN, self._stop_again, key, runner,
                                                      message, terminate)
                return
            for wf in list(self._queue):
                if key_of(wf) == key:
                    self._queue.remove(wf)
                    stamp = now_iso()
                    wf["status"] = {"phase": "Failed", "message": message, "startedAt": stamp,
                                    "finishedAt": stamp}
                    self._finish(key, wf)
        finally:
            done.set()

    def _stop_again(self, key: Key, runner: Any, message: str, terminate: bool) -> None:
        """Repeat a stop until the runner ends: a stop that arrives while a step is still
        being started (its process handle not yet known to the runner) stops nothing."""
        if self._runners.get(key) is runner:
            runner.events.put_nowait(A.StopRequested(message, terminate=terminate))
            asyncio.get_running_loop().call_later(STOP_AGAIN, self._stop_again, key, runner, message, terminate)

    def _enqueue(self, wf: dict) -> None:
        self._queue.append(wf)
        self._pump()

    def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue and len(self._runners) < self.parallelism:
            wf = self._queue.popleft()
            key = key_of(wf)
            if key in self._deleted:
                self._finish(key, wf)
                continue
            runner = self._runner(wf)
            with self._lock:
                self._runners[key] = runner
            task = loop.create_task(self._run(key, runner))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        for wf in self._queue:
            status = wf.setdefault("status", {"phase": "Pending"})
            if status.get("message") != POSTPONED:
                status["message"] = POSTPONED
                self.store.save_workflow(wf)
                self.hub.publish("MODIFIED", _copy(wf))

    def _runner(self, wf: dict) -> Any:
        from tiphys.runtime.runner import Runner
        if self._executor_factory is not None:
            executor = self._executor_factory()
        else:
            from tiphys.executors.local import LocalExecutor
            executor = LocalExecutor()
        wf.pop("status", None)
        key = key_of(wf)
        return Runner(wf, store=_NamespacedStore(self.store, key[0]), home=self.home, dry_run=False, executor=executor,
                      on_update=lambda w: self._updated(key, w))

    def _updated(self, key: Key, wf: dict) -> None:
        """Runner callback (every engine step): keep a snapshot for get/watch, a few a second."""
        phase = (wf.get("status") or {}).get("phase") or ""
        now = time.monotonic()
        last_at, last_phase = self._snap_at.get(key, (0.0, ""))
        if phase == last_phase and now - last_at < SNAPSHOT_EVERY:
            return
        self._snap_at[key] = (now, phase)
        snap = _copy(wf)
        self._snapshots[key] = snap
        self.hub.publish("MODIFIED", snap)

    async def _run(self, key: Key, runner: Any) -> None:
        wf = runner.wf
        try:
            wf = await runner.main()
        except Exception as exc:  # noqa: BLE001 - a runner bug must not take the controller down
            log.exception("workflow %s/%s", *key)
            status = wf.setdefault("status", {})
            status.update(phase="Error", message=f"tiphys: {type(exc).__name__}: {exc}", finishedAt=now_iso())
            try:
                self.store.save_workflow(wf)
            except Exception:  # noqa: BLE001
                log.exception("saving %s/%s", *key)
        finally:
            with self._lock:
                self._runners.pop(key, None)
            self._snap_at.pop(key, None)
            self._finish(key, wf)
            self._pump()

    def _finish(self, key: Key, wf: dict) -> None:
        with self._lock:
            deleted = key in self._deleted
            self._deleted.discard(key)
        if deleted:
            self._forget(key)
        else:
            if self.store.workflow_phase(key[1], key[0]) != (wf.get("status") or {}).get("phase"):
                self.store.save_workflow(wf)
            self.hub.publish("MODIFIED", _copy(wf))
        self._snapshots.pop(key, None)

    def _forget(self, key: Key) -> None:
        wf = self.store.get_workflow(key[1], key[0])
        self.store.delete_workflow(key[1], key[0])
        shutil.rmtree(self.home / "logs" / key[1], ignore_errors=True)
        if wf is not None:
            self.hub.publish("DELETED", wf)


class _NamespacedStore:
    """The store as the runner sees it: templates looked up in the workflow's namespace."""

    def __init__(self, store: Store, namespace: str):
        self._store, self._namespace = store, namespace

    def registry(self, kind: str, name: str) -> dict | None:
        if kind not in TEMPLATE_KINDS:
            return None
        return self._store.get_template(kind, name, self._namespace)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._store, attr)
