"""What one run shares with the other runs of its store: memoize caches and locks.

The engine asks with LookupCache/SaveCache/AcquireLock/ReleaseLock; `Shared` answers on the
run's event queue (CacheResult, LockWaiting, LockAcquired). A controller gives all its runners
one LockManager, so a release wakes the others at once; a lone `tiphys run` makes its own.
A dry run takes every lock at once and finds every cache empty.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from tiphys.engine import actions as A
from tiphys.errors import TiphysError
from tiphys.runtime import memocache
from tiphys.runtime.locks import LockManager

log = logging.getLogger("tiphys.runtime")

Gate = A.LookupCache | A.SaveCache | A.AcquireLock | A.ReleaseLock


class Shared:
    def __init__(self, store: Any, prefix: str, send: Callable[[A.Event], None],
                 spawn: Callable[[Any], None], dry_run: bool):
        self.store, self.prefix, self.send, self.spawn, self.dry_run = store, prefix, send, spawn, dry_run
        self.locks: LockManager | None = None          # set by a controller to share one
        self.waiting: dict[str, asyncio.Task[None]] = {}   # holder -> its acquire in progress

    def apply(self, action: Gate) -> None:
        if isinstance(action, A.LookupCache):
            if self.dry_run:
                self.send(A.CacheResult(action.node_id))
            else:
                self.spawn(self._lookup(action))
        elif isinstance(action, A.SaveCache):
            if not self.dry_run:
                self.spawn(self._save(action))
        elif isinstance(action, A.AcquireLock):
            if self.dry_run:
                self.send(A.LockAcquired(action.holder))
                return
            if self.locks is None:
                self.locks = LockManager(self.store)
            old = self.waiting.pop(action.holder, None)
            if old is not None:
                old.cancel()
            self.waiting[action.holder] = asyncio.get_running_loop().create_task(
                self.locks.acquire(action, self.prefix, self.send))
        elif not self.dry_run:
            task = self.waiting.pop(action.holder, None)
            if task is not None:
                task.cancel()
            if self.locks is not None:
                self.spawn(self.locks.release(holder=action.holder))

    async def _lookup(self, action: A.LookupCache) -> None:
        try:
            entry = await asyncio.to_thread(memocache.load, self.store, action.namespace, action.cache, action.key)
        except TiphysError as exc:
            self.send(A.CacheResult(action.node_id, error=str(exc)))
            return
        self.send(A.CacheResult(action.node_id, entry))

    async def _save(self, action: A.SaveCache) -> None:
        try:
            await asyncio.to_thread(memocache.save, self.store, action.namespace, action.cache, action.key,
                                    action.node_id, action.outputs)
        except TiphysError as exc:
            log.warning("saving memoize cache %s/%s key %s: %s", action.namespace, action.cache, action.key, exc)

    async def release_all(self, keep: bool) -> None:
        """The run is over: stop waiting, and free what it holds (`keep`: it is handed over,
        its locks stay with the workflow)."""
        for task in self.waiting.values():
            task.cancel()
        self.waiting.clear()
        if self.locks is not None and not keep:
            try:
                await self.locks.release(workflow=self.prefix)
            except TiphysError as exc:
                log.warning("releasing the locks of %s: %s", self.prefix, exc)
