"""Synchronization locks (Argo's mutexes and semaphores) as rows, so that every run sharing the
store, in one process or in several controllers on one PostgreSQL, sees the same queue.

A row (lock_name, holder) says that holder waits for (holding = 0) or holds (1) that lock. Who may
take a lock is decided in one transaction per try: the rows of table `sync_names` for the locks
asked are updated first (on PostgreSQL that row lock serialises tries on the same lock across
connections; SQLite's BEGIN IMMEDIATE already serialises every write), then a holder takes
all its locks or none: for each lock, the free places (size - holders) must reach the holder's
place in the queue of waiters (higher priority first, then older creation, then first asked).
Rows of a workflow that ended are dropped on the way, so a run killed without releasing does
not block the others for ever.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

ENDED = ("Succeeded", "Failed", "Error")


class LockMethods:
    """Mixed into SqlStore; uses its `_tx`/`_query`."""

    _tx: Callable[[], AbstractContextManager[Any]]
    _query: Callable[..., list[tuple]]

    def acquire_locks(self, holder: str, workflow: str, limits: dict[str, int], priority: int = 0,
                      created: str = "") -> tuple[bool, str, int, int]:
        """Try to take every lock of `limits` (lock name -> size) for `holder` (of workflow
        `<ns>/<name>`). Returns (taken, the first lock it must wait for, free places, size);
        a holder that must wait keeps its place in the queues."""
        names = sorted(limits)
        with self._tx() as cur:
            for name in names:
                cur.execute("INSERT INTO sync_names (lock_name) VALUES (?) ON CONFLICT (lock_name) DO NOTHING",
                            (name,))
            marks = ", ".join("?" * len(names))
            cur.execute(f"UPDATE sync_names SET lock_name = lock_name WHERE lock_name IN ({marks})", names)
            cur.execute("DELETE FROM sync_locks WHERE workflow IN (SELECT namespace || '/' || name FROM workflows "
                        f"WHERE phase IN ({', '.join('?' * len(ENDED))})) AND workflow <> ?", (*ENDED, workflow))
            for name in names:
                cur.execute("INSERT INTO sync_locks (lock_name, holder, workflow, priority, created) "
                            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (lock_name, holder) DO NOTHING",
                            (name, holder, workflow, int(priority), created))
            for name in names:
                cur.execute("SELECT holder, holding FROM sync_locks WHERE lock_name = ? "
                            "ORDER BY holding DESC, priority DESC, created, id", (name,))
                rows = cur.fetchall()
                holders = [r[0] for r in rows if r[1]]
                if holder in holders:
                    continue
                size = limits[name]
                free = max(0, size - len(holders))
                queue = [r[0] for r in rows if not r[1]]
                if queue.index(holder) >= free:
                    return False, name, free, size
            cur.execute(f"UPDATE sync_locks SET holding = 1 WHERE holder = ? AND lock_name IN ({marks})",
                        (holder, *names))
        return True, "", 0, 0

    def release_locks(self, *, holder: str | None = None, workflow: str | None = None) -> int:
        """Drop the rows of one holder, or of every holder of a workflow; returns how many."""
        if holder is None and workflow is None:
            raise ValueError("release_locks needs a holder or a workflow")
        with self._tx() as cur:
            if holder is not None:
                cur.execute("DELETE FROM sync_locks WHERE holder = ?", (holder,))
            else:
                cur.execute("DELETE FROM sync_locks WHERE workflow = ?", (workflow,))
            return cur.rowcount

    def lock_rows(self, lock: str) -> list[tuple[str, bool]]:
        """(holder, holding) of a lock_name, holders first then the queue in order."""
        return [(r[0], bool(r[1])) for r in self._query(
            "SELECT holder, holding FROM sync_locks WHERE lock_name = ? "
            "ORDER BY holding DESC, priority DESC, created, id", (lock,))]
