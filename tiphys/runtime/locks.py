"""The lock manager: answers the engine's AcquireLock with LockWaiting / LockAcquired events.

The queue itself lives in the store (store/locks.py), so locks hold across every run sharing it:
the workflows one controller runs on its loop, and other controllers on the same PostgreSQL. A
waiting holder tries again as soon as a lock is released in this process, and every POLL seconds
anyway (a release elsewhere, a semaphore's ConfigMap changed). A semaphore's size is the integer
in its ConfigMap's data[key], read at each try.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from tiphys.engine import actions as A

log = logging.getLogger("tiphys.locks")
POLL = 1.0


def limit(store: Any, lock: str) -> int:
    """The size of a lock: 1 for a mutex, data[key] of the ConfigMap for a semaphore."""
    parts = lock.split("/")
    if len(parts) == 4 and parts[1] == "ConfigMap":
        ns, _, cm, key = parts
        body = store.get_configmap(ns, cm)
        if body is None:
            raise LookupError(f"configmap {ns}/{cm} not found")
        raw = (body.get("data") or {}).get(key)
        if raw is None:
            raise LookupError(f"key {key!r} not found in configmap {ns}/{cm}")
        try:
            return int(str(raw).strip())
        except ValueError:
            raise LookupError(f"semaphore {lock}: {raw!r} in configmap {ns}/{cm} is not an integer") from None
    return 1


class LockManager:
    """One per process (a controller shares it between its runners; `tiphys run` has its own)."""

    def __init__(self, store: Any):
        self.store = store
        self._released: asyncio.Event | None = None

    def _event(self) -> asyncio.Event:
        if self._released is None:
            self._released = asyncio.Event()
        return self._released

    def _try(self, want: A.AcquireLock, workflow: str) -> tuple[bool, str, str]:
        try:
            limits = {lock: limit(self.store, lock) for lock in want.locks}
        except LookupError as exc:
            return False, want.locks[0], f"Waiting for {want.locks[0]} lock: {exc.args[0]}"
        taken, lock, free, size = self.store.acquire_locks(want.holder, workflow, limits, want.priority, want.created)
        return taken, lock, f"Waiting for {lock} lock. Lock status: {free}/{size}"

    async def acquire(self, want: A.AcquireLock, workflow: str, emit: Callable[[A.Event], None]) -> None:
        """Wait until `want.holder` has its locks, telling the engine how it waits meanwhile."""
        said = None
        while True:
            released = self._event()
            taken, lock, message = await asyncio.to_thread(self._try, want, workflow)
            if taken:
                emit(A.LockAcquired(want.holder))
                return
            if (lock, message) != said:
                said = (lock, message)
                emit(A.LockWaiting(want.holder, lock, message))
            try:
                await asyncio.wait_for(released.wait(), POLL)
            except asyncio.TimeoutError:
                pass

    async def release(self, *, holder: str | None = None, workflow: str | None = None) -> None:
        await asyncio.to_thread(self.store.release_locks, holder=holder, workflow=workflow)
        self.wake()

    def wake(self) -> None:
        """Let every waiter try again (a new Event for the next round)."""
        event, self._released = self._released, asyncio.Event()
        if event is not None:
            event.set()
