"""The running workflows of a controller: building a `Runner` for a queued job, running it on
the controller's loop, the snapshots `get`/`watch` read while it runs, handing it events and
stops through the runner's control surface, and finishing it (lease released, record forgotten
when it was deleted meanwhile: the delete handshake).

The runner owns the workflow's final save (its forced save when the run ends); this module
saves a record only where no runner ran or the runner failed.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import shutil
import threading
import time
from typing import TYPE_CHECKING, Any

from tiphys.engine import actions as A
from tiphys.executors import choose
from tiphys.server.leases import Key
from tiphys.store.sql import TEMPLATE_KINDS, SqlStore, now_iso

if TYPE_CHECKING:
    from tiphys.runtime.runner import Runner
    from tiphys.server.controller import Controller
    from tiphys.server.controller.queue import Job

log = logging.getLogger("tiphys.server")

SNAPSHOT_EVERY = 0.2
STOP_AGAIN = 1.0
HANDLED_WAIT = 5.0      # seconds a request waits for the engine to take its events in


def _copy(wf: dict) -> dict:
    return json.loads(json.dumps(wf))


class Runs:
    """The runners of one controller, keyed by (namespace, name); used on its loop, except
    `snapshot`, `deleted` and the delete handshake (any thread)."""

    def __init__(self, ctl: Controller):
        self.ctl = ctl
        self.runners: dict[Key, Runner] = {}
        self.tasks: dict[Key, asyncio.Task[None]] = {}
        self.snapshots: dict[Key, dict] = {}
        self._snap_at: dict[Key, tuple[float, str]] = {}
        self._deleted: set[Key] = set()
        self._gone: dict[Key, concurrent.futures.Future[None]] = {}   # deletions waiting for the record to go
        self._lock = threading.Lock()
        self._locks: Any = None      # the runners' shared LockManager, made on the loop's thread

    # -- building and running ---------------------------------------------------------------

    def start(self, key: Key, job: Job) -> None:
        runner = self._runner(job)
        self.runners[key] = runner
        task = asyncio.get_running_loop().create_task(self._run(key, runner))
        self.tasks[key] = task
        self.ctl.tasks.add(task)
        task.add_done_callback(self.ctl.tasks.discard)

    def _runner(self, job: Job) -> Runner:
        from tiphys.runtime.runner import Runner
        ctl, wf = self.ctl, job.wf
        if ctl.executor_factory is not None:
            executor = ctl.executor_factory()
        else:   # the workflow's annotation, TIPHYS_EXECUTOR, $TIPHYS_HOME/config.yaml (executors/choose.py)
            executor = choose.executor_for(wf, home=ctl.home)
        status = wf.pop("status", None) or {}
        keep = status.get("nodes") if not job.resume else None
        key = (wf["metadata"].get("namespace") or "default", wf["metadata"]["name"])
        runner = Runner(wf, store=NamespacedStore(ctl.store, key[0]), home=ctl.home, dry_run=False,
                        executor=executor, on_update=lambda w: self._updated(key, w), preset=keep or None,
                        preset_outputs=(status.get("outputs") or None) if keep else None,
                        journal=True, resume=job.resume)
        runner.observe = ctl.observe
        if self._locks is None:
            from tiphys.runtime.locks import LockManager
            self._locks = LockManager(ctl.store)
        runner.shared.locks = self._locks          # one queue for every run here: a release wakes the others
        return runner

    def _updated(self, key: Key, wf: dict) -> None:
        """Runner callback (every engine step): keep a snapshot for get/watch, a few a second
        (at once when the phase, the message or spec.suspend changes)."""
        status = wf.get("status") or {}
        suspended = bool((wf.get("spec") or {}).get("suspend"))
        phase = f"{status.get('phase') or ''}:{status.get('message') or ''}:{suspended}"
        now = time.monotonic()
        last_at, last_phase = self._snap_at.get(key, (0.0, ""))
        if phase == last_phase and now - last_at < SNAPSHOT_EVERY:
            return
        self._snap_at[key] = (now, phase)
        snap = _copy(wf)
        self.snapshots[key] = snap
        self.ctl.hub.publish("MODIFIED", snap)

    async def _run(self, key: Key, runner: Runner) -> None:
        wf = runner.wf
        try:
            wf = await runner.main()
        except Exception as exc:  # noqa: BLE001 - a runner bug must not take the controller down
            log.exception("workflow %s/%s", *key)
            status = wf.setdefault("status", {})
            status.update(phase="Error", message=f"tiphys: {type(exc).__name__}: {exc}", finishedAt=now_iso())
            try:     # the runner failed before its own final save: recorded here
                self.ctl.store.save_workflow(wf)
            except Exception:  # noqa: BLE001
                log.exception("saving %s/%s", *key)
        finally:
            self.runners.pop(key, None)
            self.tasks.pop(key, None)
            self._snap_at.pop(key, None)
            if not self.ctl.handing_over:
                self.finish(key, wf)
                self.ctl.queue.pump()

    async def ended(self, key: Key, timeout: float) -> None:
        """Wait (up to `timeout`) until the run of `key`, if any, has wrapped up."""
        task = self.tasks.get(key)
        if task is not None:
            await asyncio.wait({task}, timeout=timeout)

    def finish(self, key: Key, wf: dict) -> None:
        """A workflow leaves this controller: its lease goes, its record too when it was deleted."""
        with self._lock:
            deleted = key in self._deleted
            self._deleted.discard(key)
        self.ctl.let_go(key)
        if deleted:
            self.snapshots.pop(key, None)
            self.forget(key)
        else:
            self.ctl.hub.publish("MODIFIED", _copy(wf))
            self.snapshots.pop(key, None)

    # -- requests for a running workflow ------------------------------------------------------

    async def deliver(self, key: Key, events: list, suspend: bool | None) -> None:
        """Hand events to the workflow's engine and wait until they are handled (so an answer
        shows their effect); a queued workflow's record is suspended or resumed instead."""
        runner = self.runners.get(key)
        if runner is not None:
            await _handled(runner.send(events))
        elif suspend is not None:
            self.ctl.queue.suspend(key, suspend)

    async def stop(self, key: Key, message: str, terminate: bool) -> None:
        runner = self.runners.get(key)
        if runner is not None:
            asyncio.get_running_loop().call_later(STOP_AGAIN, self._stop_again, key, runner, message, terminate)
            await _handled(runner.stop(message, terminate=terminate))
            return
        self.ctl.queue.stop(key, message)

    def _stop_again(self, key: Key, runner: Runner, message: str, terminate: bool) -> None:
        """Repeat a stop until the runner ends: a stop that arrives while a step is still
        being started (its process handle not yet known to the runner) stops nothing."""
        if self.runners.get(key) is runner:
            runner.stop(message, terminate=terminate)
            asyncio.get_running_loop().call_later(STOP_AGAIN, self._stop_again, key, runner, message, terminate)

    async def drain(self) -> None:
        """Hand every run over (the controller stops): see `Runner.drain`."""
        for runner in list(self.runners.values()):
            try:
                await runner.drain()
            except Exception:  # noqa: BLE001 - the journal has what matters
                log.exception("saving %s", runner.prefix)

    def snapshot(self, key: Key) -> dict | None:
        return self.snapshots.get(key)

    # -- the delete handshake -----------------------------------------------------------------

    def mark_deleted(self, key: Key) -> concurrent.futures.Future[None]:
        """(Any thread.) Forget `key` once its run ends; the future is done when its record is gone."""
        gone: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            self._deleted.add(key)
            self._gone[key] = gone
        return gone

    def mark_deleted_remote(self, key: Key) -> None:
        with self._lock:
            self._deleted.add(key)

    def unmark_deleted(self, key: Key) -> None:
        with self._lock:
            self._deleted.discard(key)

    def deleted(self, key: Key) -> bool:
        with self._lock:
            return key in self._deleted

    def forget(self, key: Key) -> None:
        """Delete the record and logs of a workflow (artifact GC on deletion first)."""
        store = self.ctl.store
        wf = store.get_workflow(key[1], key[0])
        if wf is not None:
            _artifact_gc(wf, store, self.ctl.home)
        store.delete_workflow(key[1], key[0])
        with self._lock:
            gone = self._gone.pop(key, None)
        if gone is not None and not gone.done():
            gone.set_result(None)
        shutil.rmtree(self.ctl.home / "logs" / key[1], ignore_errors=True)
        choose.forget_workflow(key[1], str(((wf or {}).get("metadata") or {}).get("uid") or ""))  # containers podGC kept
        if wf is not None:
            self.ctl.hub.publish("DELETED", wf)


async def _handled(ack: asyncio.Future[None]) -> None:
    try:
        await asyncio.wait_for(asyncio.shield(ack), HANDLED_WAIT)
    except asyncio.TimeoutError:
        pass


def _artifact_gc(wf: dict, store: SqlStore, home: Any) -> None:
    """OnWorkflowDeletion artifact GC; a failure is logged, the deletion goes on."""
    from tiphys.runtime import artifacts
    if artifacts.gc.wanted(wf, artifacts.gc.DELETION):
        try:
            artifacts.on_deletion(wf, store, home)
        except Exception:  # noqa: BLE001 - never blocks the deletion
            log.exception("artifact GC of %s", (wf.get("metadata") or {}).get("name"))


class NamespacedStore:
    """The store as the runner sees it: templates looked up in the workflow's namespace."""

    def __init__(self, store: SqlStore, namespace: str):
        self._store, self._namespace = store, namespace

    def registry(self, kind: str, name: str) -> dict | None:
        if kind not in TEMPLATE_KINDS:
            return None
        return self._store.get_template(kind, name, self._namespace)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._store, attr)
