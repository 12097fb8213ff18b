"""Journal entries written together: every entry appended during one turn of the event loop
goes to the store in one transaction.

A fan-out starts hundreds of steps in one engine call, and each must be journaled before its
process is spawned (journal.py): one transaction each was a tenth of a 1000-step fan-out's
time on the event loop. Entries keep their order; each `append` returns once its entry is
stored (or raises what storing it raised).
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable


class Batcher:
    def __init__(self, write: Callable[[list[str]], None], *, inline: bool):
        """`write(entries)` stores entries in one transaction; `inline`: call it on the loop
        (a lone `tiphys run`), else in a worker thread."""
        self._write = write
        self._inline = inline
        self._pending: list[str] = []
        self._done: asyncio.Future[None] | None = None

    async def append(self, entry: str) -> None:
        loop = asyncio.get_running_loop()
        self._pending.append(entry)
        if self._done is None:
            self._done = loop.create_future()
            loop.call_soon(self._flush)
        await asyncio.shield(self._done)

    def _flush(self) -> None:
        entries, self._pending = self._pending, []
        done, self._done = self._done, None
        assert done is not None
        if self._inline:
            self._settle(done, entries)
            return
        task = asyncio.ensure_future(asyncio.to_thread(self._write, entries))

        def finished(t: asyncio.Future[None]) -> None:
            if done.cancelled():
                return
            if t.cancelled():
                done.cancel()
            elif t.exception() is not None:
                done.set_exception(t.exception())   # type: ignore[arg-type]
            else:
                done.set_result(None)
        task.add_done_callback(finished)

    def _settle(self, done: asyncio.Future[None], entries: list[str]) -> None:
        try:
            self._write(entries)
        except Exception as exc:  # noqa: BLE001 - handed to every waiting append
            done.set_exception(exc)
            return
        done.set_result(None)
