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

Crash safety: every runner journals the engine's inputs (runtime/journal.py) before acting
on them. On start, and every LEASE_TTL / 2 after, the controller takes over the workflows no
live controller holds a lease on (leases.py): a Running one is resumed from its journal and
re-attaches to its steps, which outlive the controller (executors/detached.py: a step still
running is waited for, one that ended meanwhile collected; only one that vanished without an
exit status ends in Error); finished steps are not run again. A Pending one is queued. Requests
from other processes come through the store; its notices (notices.py) bring them at once.

A retried workflow is recorded Pending with the nodes to keep as its `status.nodes` (see
engine/rerun.py); the runner hands them to the engine as its preset, so a crash before the
retry starts loses nothing either.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tiphys.engine import actions as A
from tiphys.engine import rerun
from tiphys.errors import SpecError, TiphysError
from tiphys.executors import choose
from tiphys.server.hub import Hub
from tiphys.server.leases import (LEASE_TTL, SUBMITTED_BY, Key, claim_orphans, key_of, new_owner,
                                 runs_elsewhere)
from tiphys.server.notices import Notices
from tiphys.store import ttl
from tiphys.store.sqlite import COMPLETED_PHASES, TEMPLATE_KINDS, Store, now_iso

log = logging.getLogger("tiphys.server")

POSTPONED = "Workflow processing has been postponed because too many workflows are already running"
SNAPSHOT_EVERY = 0.2
STOP_AGAIN = 1.0
DELETE_WAIT = 30.0      # seconds a delete waits for a running workflow to stop and go
COMMAND_POLL = 0.25     # how often a controller looks for requests other processes left for it
COMMAND_POLL_LISTENING = float(os.environ.get("TIPHYS_COMMAND_POLL_LISTENING") or 5.0)  # with notices: a safety net
# a controller without an API of its own looks for new work this often (on PostgreSQL a
# submission's notice wakes it at once; this finds what no notice announced)
ADOPT_EVERY = float(os.environ.get("TIPHYS_ADOPT_EVERY") or 1.0)


class NotRunning(SpecError):
    """The workflow is not running (nor queued) in this controller."""


@dataclass
class Job:
    wf: dict
    resume: bool = False     # rebuild from the journal (a workflow taken over after a crash)


def _copy(wf: dict) -> dict:
    return json.loads(json.dumps(wf))


class Controller:
    def __init__(self, store: Store, home: Path, *, parallelism: int = 8, hub: Hub | None = None,
                 executor_factory: Callable[[], Any] | None = None, namespace_parallelism: int | None = None,
                 lease_ttl: float = LEASE_TTL, runs_workflows: bool = True, adopt_every: float | None = None):
        """`runs_workflows=False`: an API-only process (`tiphys server --no-controller`): it
        records submissions Pending for a `tiphys controller` to take and passes every other
        request on through the store. `adopt_every`: how often to look for workflows nobody
        runs (default LEASE_TTL / 2)."""
        if parallelism < 1 or (namespace_parallelism is not None and namespace_parallelism < 1):
            raise ValueError("parallelism must be at least 1")
        self.store, self.home, self.parallelism = store, Path(home), parallelism
        self.namespace_parallelism = namespace_parallelism
        self.lease_ttl = lease_ttl
        self.runs_workflows = runs_workflows
        self.adopt_every = adopt_every if adopt_every is not None else lease_ttl / 2
        self.owner = new_owner()
        self.hub = hub or Hub()
        self._executor_factory = executor_factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._queue: deque[Job] = deque()
        self.operation_observers: list[Callable[[float], None]] = []   # metrics: seconds per engine call
        self._mine: set[Key] = set()      # queued or running here (from submit, before it is queued)
        self._runners: dict[Key, Any] = {}
        self._tasks: set[asyncio.Task] = set()
        self._snapshots: dict[Key, dict] = {}
        self._snap_at: dict[Key, tuple[float, str]] = {}
        self._deleted: set[Key] = set()
        self._gone: dict[Key, threading.Event] = {}   # deletions waiting for the record to go
        self._lock = threading.Lock()
        self._locks: Any = None      # the runners' shared LockManager, made on the loop's thread
        self._handing_over = False
        self._notices = Notices(store, self.hub, ours=lambda key: self._live(*key),
                                on_command=lambda: self._wake(self._commands), on_new=lambda: self._wake(self._adopt))

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
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
        # other processes on the same store (PostgreSQL) tell us of their changes at once;
        # without notices (SQLite) the looks below are all there is
        self._notices.start()
        if self.runs_workflows:
            self._call(self._adopt)
            self._call(self._renew)
            self._call(self._commands)

    def close(self, timeout: float = 5.0) -> None:
        """Stop, handing the workflows over to the next controller at once: no new step starts,
        running steps go on (they are detached processes), leases are released. A controller
        that starts later (or another one sharing the store) resumes every workflow from its
        journal and re-attaches to its steps: none fails or runs twice because of the handover."""
        loop = self._loop
        if loop is None:
            return

        async def drain() -> None:
            self._queue.clear()
            runners = list(self._runners.values())
            for runner in runners:
                try:
                    await runner.drain()
                except Exception:  # noqa: BLE001 - the journal has what matters
                    log.exception("saving %s", runner.prefix)
            with self._lock:
                mine = list(self._mine)
                self._mine.clear()      # what `_run` ends from now on is handed over, not finished
                self._handing_over = True
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=timeout)
            for key in mine:
                try:
                    self.store.release(key[0], key[1], self.owner)
                except Exception:  # noqa: BLE001 - an expired lease is as good
                    log.exception("releasing %s/%s", *key)

        self._notices.close()
        try:
            asyncio.run_coroutine_threadsafe(drain(), loop).result(timeout + 10)
        except Exception:  # noqa: BLE001 - best effort at shutdown
            log.exception("controller shutdown")
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loop = None

    detach = close

    # -- leases, adoption and requests from other processes --------------------------------

    def _adopt(self, again: bool = True) -> None:
        """Take over every workflow of ours that no live controller holds (at start: the ones a
        crashed or stopped server left), then look again every `adopt_every` seconds (and at
        once when the store says a workflow was submitted elsewhere)."""
        try:
            for wf, resume in claim_orphans(self.store, self.owner, self.lease_ttl,
                                            held=lambda key: self._live(*key), take=self._take):
                log.info("taking over %s/%s (%s)", *key_of(wf), "resume" if resume else "start")
                self._enqueue(Job(wf, resume=resume))
            for key in ttl.expired(self.store, time.time()):    # spec.ttlStrategy (store/ttl.py)
                if not self._live(*key):
                    self._forget(key)
        except Exception:  # noqa: BLE001 - try again at the next look
            log.exception("adopting workflows")
        if again:
            asyncio.get_running_loop().call_later(self.adopt_every, self._adopt)

    def _take(self, key: Key) -> bool:
        """Count a workflow as queued or running here; False when it already was."""
        with self._lock:
            if key in self._mine:
                return False
            self._mine.add(key)
            return True

    def _commands(self, again: bool = True) -> None:
        """Act on the requests other processes (an API-only server, another controller's API)
        left in the store for workflows this controller holds: when the store says so, and
        every COMMAND_POLL seconds (COMMAND_POLL_LISTENING when it sends notices)."""
        try:
            for namespace, name, body in self.store.take_commands(self.owner):
                self._command((namespace, name), json.loads(body))
        except Exception:  # noqa: BLE001
            log.exception("taking commands")
        if again:
            every = COMMAND_POLL_LISTENING if self._notices.listening else COMMAND_POLL
            asyncio.get_running_loop().call_later(every, self._commands)

    def _command(self, key: Key, cmd: dict) -> None:
        from tiphys.runtime import journal
        done = threading.Event()
        op = cmd.get("op")
        if op == "stop":
            self._stop(key, cmd.get("message") or "Stopped", bool(cmd.get("terminate")), done)
        elif op == "delete":
            with self._lock:
                self._deleted.add(key)
            self._stop(key, "Stopped: the workflow was deleted", True, done)
        elif op == "events":
            self._deliver(key, journal.decode(cmd.get("events") or []), cmd.get("suspend"), done)
        else:
            log.warning("ignoring unknown command %r for %s/%s", op, *key)

    def _renew(self) -> None:
        try:
            self.store.renew(self.owner, self.lease_ttl)
        except Exception:  # noqa: BLE001
            log.exception("renewing leases")
        asyncio.get_running_loop().call_later(self.lease_ttl / 3, self._renew)

    def _wake(self, look: Callable[[bool], None]) -> None:
        """(The store's listener thread.) Look for commands or new work now, once."""
        if self.runs_workflows and self._loop is not None:
            self._call(look, False)

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._loop is None:
            raise RuntimeError("the controller is not running")
        self._loop.call_soon_threadsafe(fn, *args)

    # -- API (any thread) -----------------------------------------------------------------

    def submit(self, wf: dict, *, keep: dict | None = None, keep_outputs: dict | None = None,
               event: str = "ADDED") -> dict:
        """Record the workflow Pending and queue it; returns the stored record. `keep`: nodes of
        an earlier run to take over (retry, resubmit --memoized), recorded as its status.nodes."""
        wf = _copy(wf)
        meta = wf["metadata"]
        meta.setdefault("annotations", {})[SUBMITTED_BY] = "server"
        wf["status"] = {"phase": "Pending"}
        if keep:
            wf["status"]["nodes"] = keep
        if keep_outputs:
            wf["status"]["outputs"] = keep_outputs
        if not self.runs_workflows:       # a `tiphys controller` elsewhere takes it from the store
            self.store.save_workflow(wf)
            self.store.notify("new")
            self.hub.publish(event, _copy(wf))
            return wf
        with self._lock:
            self._mine.add(key_of(wf))
        self.store.claim(meta.get("namespace") or "default", meta["name"], self.owner, self.lease_ttl)
        self.store.save_workflow(wf)
        self.hub.publish(event, _copy(wf))
        self._call(self._enqueue, Job(_copy(wf)))
        return wf

    def retry(self, namespace: str, name: str, *, restart_successful: bool = False, node_field_selector: str = "",
              parameters: list[str] | tuple[str, ...] = ()) -> dict:
        """`argo retry`: run a Failed/Error workflow again, keeping its Succeeded nodes."""
        wf = self._settled(namespace, name)
        if self._live(namespace, name):
            raise SpecError(f"workflow {name!r} is still running")
        new, keep, outputs = rerun.retry(wf, restart_successful=restart_successful,
                                         node_field_selector=node_field_selector, parameters=parameters)
        self.store.clear_journal(namespace, name)
        return self.submit(new, keep=keep, keep_outputs=outputs, event="MODIFIED")

    def resubmit(self, namespace: str, name: str, *, memoized: bool = False,
                 parameters: list[str] | tuple[str, ...] = ()) -> dict:
        """`argo resubmit`: a new workflow from this one's spec (`<name>-xxxxx`)."""
        wf = self._stored(namespace, name)
        for _ in range(20):
            new_name = f"{name}-{uuid.uuid4().hex[:5]}"
            if self.store.workflow_phase(new_name, namespace) is None:
                break
        new, keep = rerun.resubmit(wf, new_name, memoized=memoized, parameters=parameters)
        return self.submit(new, keep=keep)

    def suspend(self, namespace: str, name: str) -> None:
        """`argo suspend`: start no new step until resumed (running steps go on)."""
        self._send(namespace, name, [A.SuspendRequested(True)], suspend=True)

    def resume(self, namespace: str, name: str, node_field_selector: str = "") -> None:
        """`argo resume`: without a selector, un-suspend the workflow and every suspend node;
        with one, only the matching suspend nodes."""
        if node_field_selector:
            self._check_suspended(namespace, name, node_field_selector)
            self._send(namespace, name, [A.NodesResumed(node_field_selector)])
        else:
            self._send(namespace, name, [A.SuspendRequested(False), A.NodesResumed("")], suspend=False)

    def set_nodes(self, namespace: str, name: str, node_field_selector: str, *, phase: str | None = None,
                  message: str | None = None, output_parameters: dict[str, str] | None = None) -> None:
        """`argo node set`: phase, message and output parameters of matching suspend nodes."""
        if phase not in (None, "", "Succeeded", "Failed", "Error"):
            raise SpecError(f"phase {phase!r}: a node can be set to Succeeded, Failed or Error")
        self._check_suspended(namespace, name, node_field_selector)
        params = tuple((str(k), str(v)) for k, v in (output_parameters or {}).items())
        self._send(namespace, name, [A.NodesSet(node_field_selector, phase or None, message or None, params)])

    def _stored(self, namespace: str, name: str) -> dict:
        wf = self.snapshot(namespace, name) or self.store.get_workflow(name, namespace)
        if wf is None:
            from tiphys.errors import NotFoundError
            raise NotFoundError(f'workflows.argoproj.io "{name}" not found')
        return wf

    def _settled(self, namespace: str, name: str, timeout: float = 5.0) -> dict:
        """The record, once a workflow that already shows a final phase is done wrapping up
        (its runner saves the end a moment before the controller lets go of it)."""
        deadline = time.monotonic() + timeout
        while True:
            wf = self._stored(namespace, name)
            if (not self._live(namespace, name) or (wf.get("status") or {}).get("phase") not in COMPLETED_PHASES
                    or time.monotonic() > deadline):
                return wf
            time.sleep(0.02)

    def _remote(self, namespace: str, name: str, cmd: dict) -> None:
        self.store.send_command(namespace, name, json.dumps(cmd))

    def _live(self, namespace: str, name: str) -> bool:
        with self._lock:
            return (namespace, name) in self._mine

    def _check_suspended(self, namespace: str, name: str, selector: str) -> None:
        wf = self._stored(namespace, name)
        if not rerun.suspended_nodes(wf, selector):
            raise SpecError(f"workflow {name!r}: no suspended node matches {selector!r}" if selector
                            else f"workflow {name!r} has no suspended node")

    def _send(self, namespace: str, name: str, events: list, *, suspend: bool | None = None) -> None:
        phase = (self._settled(namespace, name).get("status") or {}).get("phase")
        if phase in COMPLETED_PHASES or not (self._live(namespace, name)
                                             or runs_elsewhere(self.store, namespace, name)):
            raise NotRunning(f"workflow {name!r} is not running" + (f" (it is {phase})" if phase else ""))
        if not self._live(namespace, name):
            from tiphys.runtime import journal
            self._remote(namespace, name, {"op": "events", "events": journal.encode(events), "suspend": suspend})
            return
        done = threading.Event()
        self._call(self._deliver, (namespace, name), events, suspend, done)
        done.wait(5)

    def snapshot(self, namespace: str, name: str) -> dict | None:
        """The newest state of a running workflow (fresher than the store), or None."""
        return self._snapshots.get((namespace, name))

    def running(self) -> int:
        return len(self._runners)

    def queued(self) -> int:
        return len(self._queue)

    def stop(self, namespace: str, name: str, message: str, *, terminate: bool) -> bool:
        """Ask a running or queued workflow to stop (here, or through the store when another
        controller runs it); False when it is neither."""
        key = (namespace, name)
        if not self._live(namespace, name):
            if runs_elsewhere(self.store, namespace, name):
                self._remote(namespace, name, {"op": "stop", "message": message, "terminate": terminate})
                return True
            return False
        done = threading.Event()
        self._call(self._stop, key, message, terminate, done)
        done.wait(5)
        return True

    def delete(self, namespace: str, name: str) -> None:
        """Forget a workflow: stop it first if it runs, then delete its record and logs."""
        key = (namespace, name)
        if not self._live(namespace, name) and runs_elsewhere(self.store, namespace, name):
            self._remote(namespace, name, {"op": "delete"})   # its controller stops it, then forgets it
            return
        gone = threading.Event()
        with self._lock:
            self._deleted.add(key)
            self._gone[key] = gone
        if not self.stop(namespace, name, "Stopped: the workflow was deleted", terminate=True):
            with self._lock:
                self._deleted.discard(key)
            self._forget(key)
        # as a Workflow object is gone once Kubernetes answers the delete: the record is
        # deleted when this returns (the runner ends first: its saves come before)
        if not gone.wait(DELETE_WAIT):
            log.warning("%s/%s: still being stopped %.0f s after its deletion", namespace, name, DELETE_WAIT)

    # -- the controller loop ----------------------------------------------------------------

    def _deliver(self, key: Key, events: list, suspend: bool | None, done: threading.Event) -> None:
        try:
            runner = self._runners.get(key)
            if runner is not None:
                if suspend is not None:
                    spec = runner.wf.setdefault("spec", {})
                    if suspend:
                        spec["suspend"] = True
                    else:
                        spec.pop("suspend", None)
                    snap = _copy(runner.wf)
                    self._snapshots[key] = snap
                    self.hub.publish("MODIFIED", snap)
                for ev in events:
                    runner.events.put_nowait(ev)
                return
            for job in self._queue:
                if key_of(job.wf) == key and suspend is not None:
                    spec = job.wf.setdefault("spec", {})
                    if suspend:
                        spec["suspend"] = True
                    else:
                        spec.pop("suspend", None)
                    self.store.save_workflow(job.wf)
                    self.hub.publish("MODIFIED", _copy(job.wf))
        finally:
            done.set()

    def _stop(self, key: Key, message: str, terminate: bool, done: threading.Event) -> None:
        try:
            runner = self._runners.get(key)
            if runner is not None:
                runner.events.put_nowait(A.StopRequested(message, terminate=terminate))
                asyncio.get_running_loop().call_later(STOP_AGAIN, self._stop_again, key, runner,
                                                      message, terminate)
                return
            for job in list(self._queue):
                wf = job.wf
                if key_of(wf) == key:
                    self._queue.remove(job)
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

    def _enqueue(self, job: Job) -> None:
        self._queue.append(job)
        self._pump()

    def _next_job(self) -> Job | None:
        """The first queued workflow whose namespace is under its own limit, if any."""
        if self.namespace_parallelism is None:
            return self._queue.popleft()
        busy: dict[str, int] = {}
        for key in self._runners:
            busy[key[0]] = busy.get(key[0], 0) + 1
        for job in self._queue:
            if busy.get(key_of(job.wf)[0], 0) < self.namespace_parallelism:
                self._queue.remove(job)
                return job
        return None

    def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue and len(self._runners) < self.parallelism:
            job = self._next_job()
            if job is None:
                break
            key = key_of(job.wf)
            if key in self._deleted:
                self._finish(key, job.wf)
                continue
            try:
                runner = self._runner(job)
            except TiphysError as exc:     # e.g. its executor cannot be had on this machine
                stamp = now_iso()
                job.wf["status"] = {**(job.wf.get("status") or {}), "phase": "Error", "message": str(exc),
                                    "startedAt": stamp, "finishedAt": stamp}
                self._finish(key, job.wf)
                continue
            with self._lock:
                self._runners[key] = runner
            task = loop.create_task(self._run(key, runner))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        for job in self._queue:
            wf = job.wf
            status = wf.setdefault("status", {"phase": "Pending"})
            if status.get("message") != POSTPONED:
                status["message"] = POSTPONED
                self.store.save_workflow(wf)
                self.hub.publish("MODIFIED", _copy(wf))

    def _runner(self, job: Job) -> Any:
        from tiphys.runtime.runner import Runner
        wf = job.wf
        if self._executor_factory is not None:
            executor = self._executor_factory()
        else:   # the workflow's annotation, TIPHYS_EXECUTOR, $TIPHYS_HOME/config.yaml (executors/choose.py)
            from tiphys.executors.choose import executor_for
            executor = executor_for(wf, home=self.home)
        status = wf.pop("status", None) or {}
        keep = status.get("nodes") if not job.resume else None
        key = key_of(wf)
        runner = Runner(wf, store=_NamespacedStore(self.store, key[0]), home=self.home, dry_run=False,
                        executor=executor, on_update=lambda w: self._updated(key, w), preset=keep or None,
                        preset_outputs=(status.get("outputs") or None) if keep else None,
                        journal=True, resume=job.resume)
        runner.observe = self._observe
        if self._locks is None:
            from tiphys.runtime.locks import LockManager
            self._locks = LockManager(self.store)
        runner.locks = self._locks          # one queue for every run here: a release wakes the others
        return runner

    def _observe(self, seconds: float) -> None:
        for observer in self.operation_observers:
            observer(seconds)

    def _updated(self, key: Key, wf: dict) -> None:
        """Runner callback (every engine step): keep a snapshot for get/watch, a few a second."""
        status = wf.get("status") or {}
        phase = f"{status.get('phase') or ''}:{status.get('message') or ''}"   # a new message shows at once
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
                handed_over = self._handing_over
            self._snap_at.pop(key, None)
            if not handed_over:
                self._finish(key, wf)
                self._pump()

    def _finish(self, key: Key, wf: dict) -> None:
        with self._lock:
            deleted = key in self._deleted
            self._deleted.discard(key)
            self._mine.discard(key)
        try:
            self.store.release(key[0], key[1], self.owner)
        except Exception:  # noqa: BLE001 - an expired lease is as good
            log.exception("releasing %s/%s", *key)
        if deleted:
            self._snapshots.pop(key, None)
            self._forget(key)
        else:
            if self.store.workflow_phase(key[1], key[0]) != (wf.get("status") or {}).get("phase"):
                self.store.save_workflow(wf)
            self.hub.publish("MODIFIED", _copy(wf))
            self._snapshots.pop(key, None)

    def _forget(self, key: Key) -> None:
        wf = self.store.get_workflow(key[1], key[0])
        if wf is not None:
            _artifact_gc(wf, self.store, self.home)
        self.store.delete_workflow(key[1], key[0])
        with self._lock:
            gone = self._gone.pop(key, None)
        if gone is not None:
            gone.set()
        shutil.rmtree(self.home / "logs" / key[1], ignore_errors=True)
        choose.forget_workflow(key[1], str(((wf or {}).get("metadata") or {}).get("uid") or ""))  # containers podGC kept
        if wf is not None:
            self.hub.publish("DELETED", wf)


def _artifact_gc(wf: dict, store: Store, home: Path) -> None:
    """OnWorkflowDeletion artifact GC; a failure is logged, the deletion goes on."""
    from tiphys.runtime import artifacts
    if artifacts.gc.wanted(wf, artifacts.gc.DELETION):
        try:
            artifacts.on_deletion(wf, store, home)
        except Exception:  # noqa: BLE001 - never blocks the deletion
            log.exception("artifact GC of %s", (wf.get("metadata") or {}).get("name"))


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
