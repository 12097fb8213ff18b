"""Fan-out of workflow changes (ADDED / MODIFIED / DELETED) to the watch streams.

Publishers may run on any thread (the controller has its own); each subscriber owns an
asyncio queue on its own loop, fed with call_soon_threadsafe. A subscriber that falls more
than MAX_BACKLOG events behind is closed (it gets None) rather than buffering without end.
"""
from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable

MAX_BACKLOG = 10_000
RECENT = 5_000          # changes kept for watches that start from a resourceVersion


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
    """Also Kubernetes' resourceVersion, for lists and watches: every change gets the next
    number; a watch from version N first gets the recent changes after N (RECENT are kept),
    so nothing that happened between a client's list and its watch is lost."""

    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self.version = 0
        self._recent: deque[tuple[int, str, dict]] = deque(maxlen=RECENT)

    def subscribe(self, accept: Callable[[dict], bool]) -> Subscription:
        sub = Subscription(asyncio.get_running_loop(), accept)
        with self._lock:
            self._subs.add(sub)
        return sub

    def subscribe_since(self, accept: Callable[[dict], bool],
                        since: int) -> tuple[Subscription, list[tuple[str, dict]] | None]:
        """Subscribe, and the accepted changes after version `since` (None when they are no
        longer all kept: the caller then replays everything)."""
        sub = Subscription(asyncio.get_running_loop(), accept)
        with self._lock:
            self._subs.add(sub)
            if since > self.version or (self._recent and self._recent[0][0] > since + 1) or \
                    (not self._recent and since < self.version):
                return sub, None
            found = [(kind, wf) for version, kind, wf in self._recent if version > since]
        return sub, [(kind, wf) for kind, wf in found if accept(wf)]

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def watched(self) -> bool:
        return bool(self._subs)

    def publish(self, event_type: str, wf: dict) -> None:
        """`wf` must not be mutated afterwards (it is shared by every subscriber)."""
        with self._lock:
            self.version += 1
            self._recent.append((self.version, event_type, wf))
            subs = list(self._subs)
        for sub in subs:
            try:
                if not sub.accept(wf):
                    continue
                sub.loop.call_soon_threadsafe(sub._put, (event_type, wf))
            except RuntimeError:  # its loop is closed
                self.unsubscribe(sub)
