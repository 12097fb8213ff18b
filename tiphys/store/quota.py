"""ResourceQuota usage as rows, so that every process sharing the store (the runs of one
server, several controllers on one PostgreSQL, separate `tiphys run` processes on one
SQLite home) counts the same pods against a namespace's quotas, as the API server does.

A row (namespace, pod) holds what one admitted pod counts (`pods`, `requests.cpu`,
`requests.memory`...). Admission is one transaction: the namespace's row of `sync_names`
(`quota/<namespace>`) is updated first, which serialises admissions of one namespace across
PostgreSQL connections (SQLite's BEGIN IMMEDIATE serialises every write), then the rows of
workflows that ended are dropped (a process killed without releasing frees its share once
its workflow is over, as Kubernetes frees a deleted pod's), the rest summed and the caller's
check decides. A pod already holding a row is admitted again without counting twice (a
controller re-attaching to a running step).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from tiphys.store.locks import ENDED


class QuotaMethods:
    """Mixed into SqlStore; uses its `_tx`/`_query`."""

    _tx: Callable[[], AbstractContextManager[Any]]
    _query: Callable[..., list[tuple]]

    def admit_pod(self, namespace: str, pod: str, workflow: str, use: dict[str, float],
                  check: Callable[[dict[str, float]], str | None]) -> str | None:
        """Count `use` for `pod` of `workflow` (a name in `namespace`) if `check(used)`, given
        what the namespace's other admitted pods use, returns None; else return its reason."""
        gate = f"quota/{namespace}"
        with self._tx() as cur:
            cur.execute("INSERT INTO sync_names (lock_name) VALUES (?) ON CONFLICT (lock_name) DO NOTHING", (gate,))
            cur.execute("UPDATE sync_names SET lock_name = lock_name WHERE lock_name = ?", (gate,))
            cur.execute("DELETE FROM quota_pods WHERE namespace = ? AND workflow IN (SELECT name FROM workflows "
                        f"WHERE namespace = ? AND phase IN ({', '.join('?' * len(ENDED))}))",
                        (namespace, namespace, *ENDED))
            cur.execute("SELECT pod, resources FROM quota_pods WHERE namespace = ?", (namespace,))
            rows = cur.fetchall()
            if any(r[0] == pod for r in rows):
                return None
            why = check(_total(r[1] for r in rows))
            if why is None:
                cur.execute("INSERT INTO quota_pods (namespace, pod, workflow, resources) VALUES (?, ?, ?, ?)",
                            (namespace, pod, workflow, json.dumps(use, sort_keys=True)))
            return why

    def release_pod(self, namespace: str, pod: str) -> None:
        """The pod ended: its share is free."""
        with self._tx() as cur:
            cur.execute("DELETE FROM quota_pods WHERE namespace = ? AND pod = ?", (namespace, pod))

    def quota_used(self, namespace: str) -> dict[str, float]:
        """What the admitted pods of `namespace` use, summed."""
        return _total(r[0] for r in self._query("SELECT resources FROM quota_pods WHERE namespace = ?",
                                                (namespace,)))


def _total(bodies: Any) -> dict[str, float]:
    used: dict[str, float] = {}
    for body in bodies:
        for key, value in json.loads(body).items():
            used[key] = used.get(key, 0.0) + float(value or 0.0)
    return used
