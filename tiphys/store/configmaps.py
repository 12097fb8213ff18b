"""ConfigMaps in the store: what a semaphore's size and a memoize cache are kept in.

Bodies are stored whole, in Kubernetes' shape ({metadata: {name, namespace, labels}, data}), keyed
by (namespace, name). `update_configmap` reads and rewrites one in a single transaction (on
PostgreSQL under an advisory lock on its name), so two runs saving cache entries at once lose neither.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from tiphys.errors import SpecError


def _stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalise(raw: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
    """A ConfigMap body as stored: a name, a namespace, string data."""
    body = json.loads(json.dumps(raw))
    meta = body.setdefault("metadata", {})
    if not meta.get("name"):
        raise SpecError("a ConfigMap needs metadata.name", path="metadata.name")
    meta["namespace"] = meta.get("namespace") or namespace or "default"
    meta.setdefault("creationTimestamp", _stamp())
    body.setdefault("apiVersion", "v1")
    body["kind"] = "ConfigMap"
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise SpecError("ConfigMap data must be a map of strings", path="data")
    body["data"] = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    return body


class ConfigMapMethods:
    """Mixed into SqlStore; uses its `_tx`/`_query`."""

    KEY_LOCK = ""        # SQL with one ?: a lock on a name until the transaction ends (none needed on SQLite)

    _tx: Callable[[], AbstractContextManager[Any]]
    _query: Callable[..., list[tuple]]

    def save_configmap(self, raw: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Insert or replace a ConfigMap; returns the stored body."""
        body = normalise(raw, namespace)
        meta = body["metadata"]
        with self._tx() as cur:
            self._put_configmap(cur, meta["namespace"], meta["name"], body)
        return body

    @staticmethod
    def _put_configmap(cur: Any, namespace: str, name: str, body: dict[str, Any]) -> None:
        cur.execute("INSERT INTO configmaps (namespace, name, body) VALUES (?, ?, ?) "
                    "ON CONFLICT (namespace, name) DO UPDATE SET body = excluded.body",
                    (namespace, name, json.dumps(body, separators=(",", ":"))))

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        rows = self._query("SELECT body FROM configmaps WHERE namespace = ? AND name = ?", (namespace, name))
        return json.loads(rows[0][0]) if rows else None

    def list_configmaps(self, namespace: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT body FROM configmaps", []
        if namespace is not None:
            sql += " WHERE namespace = ?"
            params.append(namespace)
        return [json.loads(row[0]) for row in self._query(sql + " ORDER BY namespace, name", params)]

    def delete_configmap(self, namespace: str, name: str) -> bool:
        with self._tx() as cur:
            cur.execute("DELETE FROM configmaps WHERE namespace = ? AND name = ?", (namespace, name))
            return cur.rowcount > 0

    def update_configmap(self, namespace: str, name: str,
                         change: Callable[[dict[str, Any] | None], dict[str, Any] | None]) -> None:
        """Call `change(body or None)` inside one transaction and store what it returns (nothing
        when it returns None). An exception from `change` leaves the ConfigMap as it was."""
        with self._tx() as cur:
            if self.KEY_LOCK:    # also when the row does not exist yet: two creators queue
                cur.execute(self.KEY_LOCK, (f"configmap:{namespace}/{name}",))
            cur.execute("SELECT body FROM configmaps WHERE namespace = ? AND name = ?", (namespace, name))
            row = cur.fetchone()
            new = change(json.loads(row[0]) if row else None)
            if new is not None:
                self._put_configmap(cur, namespace, name, normalise(new, namespace))


