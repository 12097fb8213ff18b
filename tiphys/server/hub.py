"""Fan-out of workflow changes (ADDED / MODIFIED / DELETED) to the watch streams.

Publishers may run on any thread (the controller has its own); each subscriber owns an
asyncio queue on its own loop, fed with call_soon_threadsafe. A subscriber that falls more
than MAX_BACKLOG events behind is closed (it gets None) rather than buffering without end.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

MAX_BACKLOG = 10_000


class Subscription:
    def __init__(self, loop: asyncio.AbstractEventLoop, accept: Callable[[dict], bool]):
        self.loop, self.accept = loop, accept
        self.queue: asyncio.Queue[tuple[str, dict] | None] = asyncio.Queue(MAX_BACKLOG)
        self.closed = False

    def _put(self, item: tuple[str, dict] | None) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.closed = True
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)


class Hub:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()

    def subscribe(self, accept: Callable[[dict], bool]) -> Subscription:
        sub = Subscription(asyncio.get_running_loop(), accept)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def watched(self) -> bool:
        return bool(self._subs)

    def publish(self, event_type: str, wf: dict) -> None:
        """`wf` must not be mutated afterwards (it is shared by every subscriber)."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            try:
                if not sub.accept(wf):
                    continue
                sub.loop.call_soon_threadsafe(sub._put, (event_type, wf))
            except RuntimeError:  # its loop is closed
                self.unsubscribe(sub)
