"""The in-process workflow controller: takes submitted workflows and runs each with the
runtime's Runner, at most `parallelism` at a time; the rest wait as Pending, first come first
served.

The runners live on the controller's own asyncio loop in a dedicated thread, not on the
HTTP server's loop: it keeps the runners' synchronous store saves and engine calls (a big
workflow's take milliseconds) off the loop that answers requests. The API methods are `async`
and hop to that loop as awaited futures (api.py).

The package: `queue.py` (FIFO, parallelism), `adoption.py` (leases, takeovers, commands of
other processes), `runs.py` (runners, snapshots, the delete handshake), `api.py` (requests).

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
import logging
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from tiphys.server.controller.adoption import ADOPT_EVERY, Adoption
from tiphys.server.controller.api import DELETE_WAIT, Api, NotRunning
from tiphys.server.controller.queue import POSTPONED, Job, Queue
from tiphys.server.controller.runs import Runs
from tiphys.server.hub import Hub
from tiphys.server.leases import LEASE_TTL, SUBMITTED_BY, Key, new_owner
from tiphys.server.notices import Notices
from tiphys.store.sql import SqlStore

__all__ = ["ADOPT_EVERY", "DELETE_WAIT", "POSTPONED", "SUBMITTED_BY", "Controller", "Job", "NotRunning"]

log = logging.getLogger("tiphys.server")


class Controller(Api):
    def __init__(self, store: SqlStore, home: Path, *, parallelism: int = 8, hub: Hub | None = None,
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
        self.executor_factory = executor_factory
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.operation_observers: list[Callable[[float], None]] = []   # metrics: seconds per engine call
        self.tasks: set[asyncio.Task[Any]] = set()
        self.handing_over = False
        self.queue = Queue(self)
        self.runs = Runs(self)
        self.adoption = Adoption(self)
        self.notices = Notices(store, self.hub, ours=self.adoption.live,
                               on_command=lambda: self.adoption.wake(self.adoption.commands),
                               on_new=lambda: self.adoption.wake(self.adoption.adopt))

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self.loop = loop
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
        self.notices.start()
        if self.runs_workflows:
            self.call(self.adoption.adopt)
            self.call(self.adoption.renew)
            self.call(self.adoption.commands)

    def close(self, timeout: float = 5.0) -> None:
        """Stop, handing the workflows over to the next controller at once: no new step starts,
        running steps go on (they are detached processes), leases are released. A controller
        that starts later (or another one sharing the store) resumes every workflow from its
        journal and re-attaches to its steps: none fails or runs twice because of the handover."""
        loop = self.loop
        if loop is None:
            return

        async def drain() -> None:
            self.queue.clear()
            await self.runs.drain()
            self.handing_over = True       # what a run ends from now on is handed over, not finished
            mine = self.adoption.hand_over()
            for task in list(self.tasks):
                task.cancel()
            if self.tasks:
                await asyncio.wait(list(self.tasks), timeout=timeout)
            for key in mine:
                try:
                    self.store.release(key[0], key[1], self.owner)
                except Exception:  # noqa: BLE001 - an expired lease is as good
                    log.exception("releasing %s/%s", *key)

        self.notices.close()
        try:
            asyncio.run_coroutine_threadsafe(drain(), loop).result(timeout + 10)
        except Exception:  # noqa: BLE001 - best effort at shutdown
            log.exception("controller shutdown")
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.loop = None

    detach = close

    # -- the controller's loop ---------------------------------------------------------------

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the controller's loop (from any thread)."""
        if self.loop is None:
            raise RuntimeError("the controller is not running")
        self.loop.call_soon_threadsafe(fn, *args)

    async def on_loop(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Await `coro` run on the controller's loop (from any loop)."""
        if self.loop is None:
            coro.close()
            raise RuntimeError("the controller is not running")
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """(On the controller's loop.) Run `coro` as a task of the controller."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def observe(self, seconds: float) -> None:
        for observer in self.operation_observers:
            observer(seconds)

    def let_go(self, key: Key) -> None:
        self.adoption.let_go(key)

    # -- reads (any thread) -------------------------------------------------------------------

    def snapshot(self, namespace: str, name: str) -> dict | None:
        """The newest state of a running workflow (fresher than the store), or None."""
        return self.runs.snapshot((namespace, name))

    def running(self) -> int:
        return len(self.runs.runners)

    def queued(self) -> int:
        return len(self.queue)
