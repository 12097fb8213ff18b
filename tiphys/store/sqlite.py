"""Tiphys state in one SQLite file: workflows, their step logs, registered templates, bearer
tokens, secrets, the engine's journal and controller leases.

Why SQLite: one machine, one file under TIPHYS_HOME, readable while a run writes it (WAL),
so `tiphys logs --follow` and `tiphys get` work from another terminal during a run. The same
API over PostgreSQL (for several controllers sharing one state) is in `postgres.py`; the
methods themselves live in `sql.SqlStore`, this module only holds the SQLite plumbing.

Every sqlite3 failure is turned into `InfrastructureError` at this seam.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tiphys.errors import InfrastructureError
from tiphys.store.sql import (  # noqa: F401 - re-exported, other packages import them from here
    CLUSTER_WORKFLOW_TEMPLATE, COMPLETED_PHASES, TEMPLATE_KINDS, WORKFLOW_TEMPLATE, SqlStore,
    now_iso)
from tiphys.store.schema import migrations

MIGRATIONS = migrations(id_column="INTEGER PRIMARY KEY AUTOINCREMENT", text="TEXT", real="REAL",
                        labels_of="json_each(w.labels)")
SCHEMA_VERSION = len(MIGRATIONS)


class Store(SqlStore):
    """Repository over one SQLite file. Safe to share between threads of one process."""

    NOW = "((julianday('now') - 2440587.5) * 86400.0)"
    CONTAINS = "instr({column}, ?) > 0"
    BODY_WITHOUT_NODES = "json_remove({column}, '$.status.nodes')"

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.where = str(self.path)
        self._lock = threading.RLock()
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0,
                                         isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise InfrastructureError(f"cannot open the Tiphys store {self.path}: {exc}") from exc

    # -- plumbing ---------------------------------------------------------------------------

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise InfrastructureError(
                f"{self.path}: store schema version {version} is newer than this Tiphys "
                f"understands ({len(MIGRATIONS)}); upgrade Tiphys")
        for target in range(version, len(MIGRATIONS)):
            with self._tx() as cur:
                # another process may have migrated while we waited for the write lock
                if int(cur.execute("PRAGMA user_version").fetchone()[0]) > target:
                    continue
                for statement in MIGRATIONS[target]:
                    cur.execute(statement)
                cur.execute(f"PRAGMA user_version = {target + 1}")

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction (BEGIN IMMEDIATE so concurrent writers queue, not fail)."""
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                yield cur
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback(cur)
                raise InfrastructureError(f"{self.path}: {exc}") from exc
            except BaseException:
                self._rollback(cur)
                raise
            finally:
                cur.close()

    @staticmethod
    def _rollback(cur: sqlite3.Cursor) -> None:
        try:
            cur.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise InfrastructureError(f"{self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
