"""One run's writes to its journal (what the entries mean, and how a later controller reads
them back: journal.py): the start entry, each batch of engine events before the engine sees
it, a step about to start (before its process exists) and its process' identity once it does.

Batches and started steps go through one `journalbatch.Batcher`: what is appended during one
turn of the loop is one transaction. The identity is written on its own, from the caller's
worker thread (reading it may wait on /proc).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tiphys.runtime import journal, journalbatch


class RunJournal:
    def __init__(self, store: Any, meta: dict[str, Any], inline: Callable[[], bool]):
        """`meta`: the workflow's metadata (its namespace is read when writing: the run sets
        it as it begins); `inline()`: write on the loop (a lone `tiphys run`), read once."""
        self._store, self._meta, self._inline = store, meta, inline
        self._batcher: journalbatch.Batcher | None = None

    def _write(self, entries: list[str]) -> None:
        self._store.append_journal(self._meta["namespace"], self._meta["name"], entries)

    def begin(self, entry: str) -> None:
        """The run's first entry (journal.start_entry), written at once."""
        self._write([entry])

    async def append(self, entry: dict[str, Any]) -> None:
        """An entry, stored with the others of this turn of the loop; returns once stored."""
        if self._batcher is None:
            self._batcher = journalbatch.Batcher(self._write, inline=self._inline())
        await self._batcher.append(journal.dumps(entry))

    async def started(self, node_id: str, workdir: Path | None = None) -> None:
        # before its process is spawned: a controller that dies once it may run must find
        # the step lost (Error, retried as its retryStrategy allows), never start it afresh
        # beside a copy that still reaches the outside world
        # with its folder: a controller dying before the step's identity is journaled finds
        # it there (another controller's home may hold it)
        await self.append({"s": node_id, **({"w": str(workdir)} if workdir else {})})

    def identity(self, node_id: str, handle: Any) -> None:
        """The identity of a step's process (in a worker thread: it may read /proc)."""
        ident = getattr(handle, "identity", None)
        if ident is None:
            return
        name = getattr(handle, "executor_name", None)
        self._write([journal.dumps({"p": node_id, "id": {**ident, **({"executor": name} if name else {})}})])
