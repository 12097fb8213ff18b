"""Tiphys state in one SQLite file: workflows, their step logs and registered templates.

Why SQLite: one machine, one file under TIPHYS_HOME, readable while a run writes it (WAL),
so `tiphys logs --follow` and `tiphys get` work from another terminal during a run.

Workflows and templates are stored whole as JSON (the Argo-shaped dict, unknown fields
included); the few columns beside the body exist only for lookups and ordering. This module
knows nothing about what a workflow means: it stores and returns dicts.

Every sqlite3 failure is turned into `InfrastructureError` at this seam.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tiphys.errors import InfrastructureError, SpecError

SCHEMA_VERSION = 1

WORKFLOW_TEMPLATE = "WorkflowTemplate"
CLUSTER_WORKFLOW_TEMPLATE = "ClusterWorkflowTemplate"
TEMPLATE_KINDS = (WORKFLOW_TEMPLATE, CLUSTER_WORKFLOW_TEMPLATE)

# Migrations: MIGRATIONS[i] brings a database from user_version i to i + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS workflows (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace   TEXT NOT NULL,
            name        TEXT NOT NULL,
            uid         TEXT,
            phase       TEXT,
            created_at  TEXT NOT NULL,
            started_at  TEXT,
            finished_at TEXT,
            labels      TEXT NOT NULL DEFAULT '{}',
            body        TEXT NOT NULL,
            UNIQUE (namespace, name)
        )""",
        "CREATE INDEX IF NOT EXISTS workflows_created ON workflows (created_at, id)",
        """CREATE TABLE IF NOT EXISTS logs (
            id        INTEGER PRIMARY KEY AUTOINCREMENT,
            workflow  TEXT NOT NULL,
            node_id   TEXT NOT NULL,
            pod_name  TEXT NOT NULL DEFAULT '',
            stream    TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr')),
            content   TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS logs_workflow ON logs (workflow, node_id)",
        """CREATE TABLE IF NOT EXISTS templates (
            kind      TEXT NOT NULL,
            namespace TEXT NOT NULL,
            name      TEXT NOT NULL,
            body      TEXT NOT NULL,
            PRIMARY KEY (kind, namespace, name)
        )""",
    ),
)

COMPLETED_PHASES = frozenset({"Succeeded", "Failed", "Error"})


def now_iso() -> str:
    """Argo's timestamp format (RFC 3339, UTC, whole seconds)."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Store:
    """Repository over one SQLite file. Safe to share between threads of one process."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
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

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- workflows --------------------------------------------------------------------------

    @staticmethod
    def _workflow_row(wf: dict) -> tuple:
        meta = wf.get("metadata") or {}
        name = meta.get("name")
        if not name:
            raise SpecError("a workflow needs metadata.name to be stored", path="metadata.name")
        status = wf.get("status") or {}
        return (meta.get("namespace") or "default", name, meta.get("uid"), status.get("phase") or "",
                meta.get("creationTimestamp") or now_iso(), status.get("startedAt"),
                status.get("finishedAt"), _dumps(meta.get("labels") or {}), _dumps(wf))

    _UPSERT = """INSERT INTO workflows
        (namespace, name, uid, phase, created_at, started_at, finished_at, labels, body)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (namespace, name) DO UPDATE SET uid = excluded.uid, phase = excluded.phase,
            created_at = excluded.created_at, started_at = excluded.started_at,
            finished_at = excluded.finished_at, labels = excluded.labels, body = excluded.body"""

    def save_workflow(self, wf: dict) -> None:
        """Insert or replace the workflow named (metadata.namespace, metadata.name)."""
        row = self._workflow_row(wf)
        with self._tx() as cur:
            cur.execute(self._UPSERT, row)

    def save_workflows_batch(self, wfs: Iterable[dict]) -> None:
        rows = [self._workflow_row(wf) for wf in wfs]
        with self._tx() as cur:
            cur.executemany(self._UPSERT, rows)

    def get_workflow(self, name: str, namespace: str | None = "default") -> dict | None:
        """The stored workflow; namespace None looks in every namespace (newest wins)."""
        if namespace is None:
            rows = self._query("SELECT body FROM workflows WHERE name = ? "
                               "ORDER BY created_at DESC, id DESC LIMIT 1", (name,))
        else:
            rows = self._query("SELECT body FROM workflows WHERE namespace = ? AND name = ?",
                               (namespace, name))
        return json.loads(rows[0][0]) if rows else None

    def workflow_phase(self, name: str, namespace: str = "default") -> str | None:
        """The phase column alone (cheap: does not parse the body); None when absent."""
        rows = self._query("SELECT phase FROM workflows WHERE namespace = ? AND name = ?",
                           (namespace, name))
        return rows[0][0] if rows else None

    def latest(self, namespace: str | None = None) -> dict | None:
        """The most recently created workflow."""
        found = self.list_workflows(namespace=namespace, limit=1)
        return found[0] if found else None

    def list_workflows(self, namespace: str | None = None, phase: str | None = None,
                       prefix: str | None = None, limit: int | None = None, *,
                       with_nodes: bool = True) -> list[dict]:
        """Workflows newest first. with_nodes=False leaves status.nodes out (fast listing)."""
        body = "body" if with_nodes else "json_remove(body, '$.status.nodes')"
        where, params = [], []
        if namespace is not None:
            where.append("namespace = ?")
            params.append(namespace)
        if phase is not None:
            where.append("phase = ?")
            params.append(phase)
        if prefix:
            where.append("substr(name, 1, ?) = ?")
            params += [len(prefix), prefix]
        sql = f"SELECT {body} FROM workflows"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [json.loads(row[0]) for row in self._query(sql, params)]

    def delete_workflow(self, name: str, namespace: str = "default") -> bool:
        """Delete the workflow and its logs; False when there was no such workflow."""
        with self._tx() as cur:
            cur.execute("DELETE FROM workflows WHERE namespace = ? AND name = ?", (namespace, name))
            found = cur.rowcount > 0
            # logs are keyed by workflow name: keep them while another namespace uses the name
            if not cur.execute("SELECT 1 FROM workflows WHERE name = ? LIMIT 1", (name,)).fetchall():
                cur.execute("DELETE FROM logs WHERE workflow = ?", (name,))
        return found

    # -- logs -------------------------------------------------------------------------------

    def save_logs(self, wf_name: str, node_id: str, pod_name: str, stdout: str, stderr: str) -> None:
        """Record a step's output, replacing what was saved before for that node.

        Empty streams are not stored.
        """
        with self._tx() as cur:
            cur.execute("DELETE FROM logs WHERE workflow = ? AND node_id = ?", (wf_name, node_id))
            for stream, content in (("stdout", stdout), ("stderr", stderr)):
                if content:
                    cur.execute("INSERT INTO logs (workflow, node_id, pod_name, stream, content) "
                                "VALUES (?, ?, ?, ?, ?)", (wf_name, node_id, pod_name, stream, content))

    def get_logs(self, wf_name: str, node_id: str | None = None) -> list[tuple[str, str, str, str]]:
        """(node_id, pod_name, stream, content) in insertion order."""
        sql = "SELECT node_id, pod_name, stream, content FROM logs WHERE workflow = ?"
        params: list[Any] = [wf_name]
        if node_id is not None:
            sql += " AND node_id = ?"
            params.append(node_id)
        return [tuple(row) for row in self._query(sql + " ORDER BY id", params)]  # type: ignore[misc]

    # -- templates --------------------------------------------------------------------------

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in TEMPLATE_KINDS:
            raise ValueError(f"not a template kind: {kind!r}")

    @staticmethod
    def _template_namespace(kind: str, namespace: str | None) -> str:
        return "" if kind == CLUSTER_WORKFLOW_TEMPLATE else (namespace or "default")

    def save_template(self, kind: str, raw: dict) -> dict:
        """Register (insert or replace) a template; returns the stored body."""
        self._check_kind(kind)
        body = json.loads(_dumps(raw))
        meta = body.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            raise SpecError(f"a {kind} needs metadata.name", path="metadata.name")
        meta.setdefault("creationTimestamp", now_iso())
        namespace = self._template_namespace(kind, meta.get("namespace"))
        if namespace:
            meta["namespace"] = namespace
        body.setdefault("kind", kind)
        with self._tx() as cur:
            cur.execute("INSERT OR REPLACE INTO templates (kind, namespace, name, body) "
                        "VALUES (?, ?, ?, ?)", (kind, namespace, name, _dumps(body)))
        return body

    def get_template(self, kind: str, name: str, namespace: str | None = "default") -> dict | None:
        self._check_kind(kind)
        rows = self._query("SELECT body FROM templates WHERE kind = ? AND namespace = ? AND name = ?",
                           (kind, self._template_namespace(kind, namespace), name))
        return json.loads(rows[0][0]) if rows else None

    def registry(self, kind: str, name: str) -> dict | None:
        """Lookup function for the linter and the runtime: a registered template or None."""
        if kind not in TEMPLATE_KINDS:
            return None
        return self.get_template(kind, name)

    def list_templates(self, kind: str, namespace: str | None = None) -> list[dict]:
        """Registered templates of that kind, by name."""
        self._check_kind(kind)
        sql, params = "SELECT body FROM templates WHERE kind = ?", [kind]
        if namespace is not None and kind != CLUSTER_WORKFLOW_TEMPLATE:
            sql += " AND namespace = ?"
            params.append(namespace)
        return [json.loads(row[0]) for row in self._query(sql + " ORDER BY name, namespace", params)]

    def delete_template(self, kind: str, name: str, namespace: str | None = "default") -> bool:
        self._check_kind(kind)
        with self._tx() as cur:
            cur.execute("DELETE FROM templates WHERE kind = ? AND namespace = ? AND name = ?",
                        (kind, self._template_namespace(kind, namespace), name))
            return cur.rowcount > 0
