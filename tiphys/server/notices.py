"""Notices from other processes sharing the store: on PostgreSQL every change is announced
(LISTEN/NOTIFY, `store.listen`); SQLite sends none, and `listening` stays False.

`cmd` (a request for a workflow we may hold) and `new` (a submission for any controller) wake
the controller at once; `wf:<ns>/<name>` and `del:<ns>/<name>` (a workflow saved or deleted
elsewhere) are published to this process's watch streams, so they follow a workflow whichever
controller runs it. Workflows the controller runs itself are left out: its runners publish
their own changes.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from tiphys.server.hub import Hub
from tiphys.server.leases import Key
from tiphys.store.sqlite import Store

log = logging.getLogger("tiphys.server")


class Notices:
    def __init__(self, store: Store, hub: Hub, *, ours: Callable[[Key], bool],
                 on_command: Callable[[], None], on_new: Callable[[], None]):
        """`ours(key)`: whether this process runs the workflow; `on_command`/`on_new` are
        called on the store's listener thread."""
        self.store, self.hub = store, hub
        self._ours, self._on_command, self._on_new = ours, on_command, on_new
        self._unlisten: Callable[[], None] | None = None   # set while the store sends notices
        self._lock = threading.Lock()
        self._changed: set[Key] = set()   # saved by other processes, to publish to our watches
        self._changed_ready = threading.Condition(self._lock)
        self._closing = False

    @property
    def listening(self) -> bool:
        """Whether the store sends notices (PostgreSQL), so polling is only a safety net."""
        return self._unlisten is not None

    def start(self) -> None:
        self._unlisten = self.store.listen(self._notice)
        if self._unlisten is not None:
            threading.Thread(target=self._publish_changes, name="tiphys-changes", daemon=True).start()

    def close(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
        with self._lock:
            self._closing = True
            self._changed_ready.notify_all()

    def _notice(self, notice: str) -> None:
        """(The store's listener thread.)"""
        if notice == "cmd":
            self._on_command()
        elif notice == "new":
            self._on_new()
        elif notice.startswith(("wf:", "del:")):
            kind, _, rest = notice.partition(":")
            namespace, _, name = rest.partition("/")
            key = (namespace, name)
            if self._ours(key):
                return                   # ours: our runner publishes its own changes
            with self._lock:
                if kind == "del":
                    self._changed.discard(key)
                else:
                    self._changed.add(key)
                    self._changed_ready.notify()
            if kind == "del":
                self.hub.publish("DELETED", {"metadata": {"name": name, "namespace": namespace}})

    def _publish_changes(self) -> None:
        """Publish what other processes saved to our watch streams, each workflow at most
        every 50 ms (a busy workflow is saved far more often than a watcher needs)."""
        while True:
            with self._lock:
                while not self._changed and not self._closing:
                    self._changed_ready.wait()
                if self._closing:
                    return
                keys, self._changed = self._changed, set()
            for namespace, name in keys:
                try:
                    wf = self.store.get_workflow(name, namespace)
                except Exception:  # noqa: BLE001 - the next notice tries again
                    log.exception("reading %s/%s", namespace, name)
                    continue
                if wf is not None:
                    self.hub.publish("MODIFIED", wf)
            time.sleep(0.05)
