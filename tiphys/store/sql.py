"""Everything the SQLite and PostgreSQL stores share: the public methods and their SQL.

A backend subclasses `SqlStore` and supplies the plumbing: `_tx()` (one write transaction,
yielding a cursor), `_query()` (one read), `close()`, and a few dialect snippets (the current
time in epoch seconds, `name contains`, the body without status.nodes). SQL here is written once,
with `?` placeholders, in the subset both engines understand (ON CONFLICT upserts, row values,
RETURNING); a backend that uses another placeholder style translates it.

This module knows nothing about what a workflow means: it stores and returns dicts. Bearer
tokens arrive hashed and secret values encrypted; the store never sees either in clear.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from tiphys.errors import SpecError
from tiphys.store.configmaps import ConfigMapMethods
from tiphys.store.locks import LockMethods
from tiphys.store.quota import QuotaMethods

WORKFLOW_TEMPLATE = "WorkflowTemplate"
CLUSTER_WORKFLOW_TEMPLATE = "ClusterWorkflowTemplate"
TEMPLATE_KINDS = (WORKFLOW_TEMPLATE, CLUSTER_WORKFLOW_TEMPLATE)
# other namespaced objects kept in the same table (body with its status): tiphys.cron, tiphys.events
OBJECT_KINDS = ("CronWorkflow", "EventSource", "Sensor", "WorkflowEventBinding",
                "ResourceQuota", "LimitRange", "PriorityClass")   # the last three: tiphys.k8s.kinds
CLUSTER_KINDS = (CLUSTER_WORKFLOW_TEMPLATE, "PriorityClass")      # objects of no namespace
COMPLETED_PHASES = frozenset({"Succeeded", "Failed", "Error"})


def now_iso() -> str:
    """Argo's timestamp format (RFC 3339, UTC, whole seconds)."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Cursor(Protocol):
    rowcount: int

    def execute(self, sql: str, params: Iterable[Any] = ...) -> Any: ...
    def executemany(self, sql: str, seq: Iterable[Iterable[Any]]) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


def encode_cursor(created_at: str, row_id: int) -> str:
    return base64.urlsafe_b64encode(dumps([created_at, row_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        created_at, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(created_at, str) and isinstance(row_id, int):
            return created_at, row_id
    except (ValueError, TypeError):
        pass
    raise SpecError(f"not a list continuation token returned by this server: {cursor!r}",
                    path="listOptions.continue")


class SqlStore(ConfigMapMethods, LockMethods, QuotaMethods, ABC):
    """The public store API over a DB-API connection; subclasses provide the plumbing."""

    # -- dialect (overridden by backends) --------------------------------------------------
    NOW = ""                      # SQL expression: the database's clock in epoch seconds
    CONTAINS = ""                 # SQL with two ?: (haystack column, needle) -> true/false
    BODY_WITHOUT_NODES = ""       # SQL expression over column `body`
    where: str = ""               # names the store in messages (path or URL without password)

    @abstractmethod
    def _tx(self) -> AbstractContextManager[Cursor]: ...

    @abstractmethod
    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self):
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
                status.get("finishedAt"), dumps(meta.get("labels") or {}), dumps(wf))

    _UPSERT = """INSERT INTO workflows
        (namespace, name, uid, phase, created_at, started_at, finished_at, labels, body)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (namespace, name) DO UPDATE SET uid = excluded.uid, phase = excluded.phase,
            created_at = excluded.created_at, started_at = excluded.started_at,
            finished_at = excluded.finished_at, labels = excluded.labels, body = excluded.body
        RETURNING id"""

    # -- change notices (PostgreSQL LISTEN/NOTIFY; nothing for a single-process store) ---------

    def _announce(self, cur: Cursor, notice: str) -> None:
        """Tell other processes sharing the store, once this transaction commits: `wf:NS/NAME`
        (saved), `del:NS/NAME` (deleted), `cmd` (a command left), `new` (a workflow to adopt)."""

    def notify(self, notice: str) -> None:
        """Send a notice on its own (see _announce)."""

    def listen(self, on_notice: Callable[[str], None]) -> Callable[[], None] | None:
        """Call `on_notice(notice)` (on another thread) for each notice other processes send;
        returns the function that stops listening, or None when this store cannot (then poll)."""
        return None

    def _save_rows(self, cur: Cursor, rows: Iterable[tuple]) -> None:
        for row in rows:
            cur.execute(self._UPSERT, row)
            (wf_id,) = cur.fetchone()
            self._announce(cur, f"wf:{row[0]}/{row[1]}")
            cur.execute("DELETE FROM workflow_labels WHERE workflow_id = ?", (wf_id,))
            labels = json.loads(row[7])
            if labels:
                cur.executemany("INSERT INTO workflow_labels (workflow_id, key, value) VALUES (?, ?, ?)",
                                [(wf_id, str(k), str(v)) for k, v in labels.items()])

    def save_workflow(self, wf: dict) -> None:
        """Insert or replace the workflow named (metadata.namespace, metadata.name)."""
        row = self._workflow_row(wf)
        with self._tx() as cur:
            self._save_rows(cur, [row])

    def save_workflows_batch(self, wfs: Iterable[dict]) -> None:
        rows = [self._workflow_row(wf) for wf in wfs]
        with self._tx() as cur:
            self._save_rows(cur, rows)

    def save_workflow_and_journal(self, wf: dict, entries: list[str]) -> None:
        """save_workflow and append_journal for that workflow, in one transaction."""
        row = self._workflow_row(wf)
        with self._tx() as cur:
            self._save_rows(cur, [row])
            self._append(cur, row[0], row[1], entries)

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
        found, _ = self._select(namespace=namespace, phases=[phase] if phase is not None else None,
                                name_prefix=prefix, limit=limit, with_nodes=with_nodes)
        return found

    def list_page(self, namespace: str | None = None, phases: list[str] | None = None,
                  labels: dict[str, str] | None = None, name_prefix: str | None = None,
                  name_contains: str | None = None, limit: int = 50,
                  after: str | None = None) -> tuple[list[dict], str | None]:
        """One page of workflows newest first, without status.nodes, and the cursor of the next
        page (None on the last page). `after` is a cursor from a previous call. Filters combine
        with AND; `labels` requires every key to have exactly that value."""
        if limit < 1:
            raise SpecError(f"a page needs a limit of at least 1, not {limit}", path="listOptions.limit")
        return self._select(namespace=namespace, phases=phases, labels=labels, name_prefix=name_prefix,
                            name_contains=name_contains, limit=limit, after=after, with_nodes=False)

    def _select(self, *, namespace: str | None = None, phases: list[str] | None = None,
                labels: dict[str, str] | None = None, name_prefix: str | None = None,
                name_contains: str | None = None, limit: int | None = None, after: str | None = None,
                with_nodes: bool = True) -> tuple[list[dict], str | None]:
        where: list[str] = []
        params: list[Any] = []
        if namespace is not None:
            where.append("w.namespace = ?")
            params.append(namespace)
        if phases is not None:
            if not phases:
                return [], None
            where.append(f"w.phase IN ({', '.join('?' * len(phases))})")
            params += phases
        for key, value in (labels or {}).items():
            where.append("EXISTS (SELECT 1 FROM workflow_labels l WHERE l.workflow_id = w.id "
                         "AND l.key = ? AND l.value = ?)")
            params += [str(key), str(value)]
        if name_prefix:
            where.append("substr(w.name, 1, ?) = ?")
            params += [len(name_prefix), name_prefix]
        if name_contains:
            where.append(self.CONTAINS.replace("{column}", "w.name"))
            params.append(name_contains)
        if after is not None:
            where.append("(w.created_at, w.id) < (?, ?)")
            params += list(decode_cursor(after))
        sql = "SELECT w.body, w.created_at, w.id FROM workflows w"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY w.created_at DESC, w.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit) + 1)
        if not with_nodes:  # outside the LIMIT: only the rows returned pay for the JSON edit
            body = self.BODY_WITHOUT_NODES.replace("{column}", "s.body")
            sql = f"SELECT {body}, s.created_at, s.id FROM ({sql}) s ORDER BY s.created_at DESC, s.id DESC"
        rows = self._query(sql, params)
        more = limit is not None and len(rows) > limit
        rows = rows[:limit] if limit is not None else rows
        found = [json.loads(row[0]) for row in rows]
        return found, (encode_cursor(rows[-1][1], rows[-1][2]) if more else None)

    def delete_workflow(self, name: str, namespace: str = "default") -> bool:
        """Delete the workflow, its journal and its logs; False when there was no such workflow."""
        with self._tx() as cur:
            cur.execute("DELETE FROM workflow_labels WHERE workflow_id IN "
                        "(SELECT id FROM workflows WHERE namespace = ? AND name = ?)", (namespace, name))
            cur.execute("DELETE FROM workflows WHERE namespace = ? AND name = ?", (namespace, name))
            found = cur.rowcount > 0
            if found:
                self._announce(cur, f"del:{namespace}/{name}")
            cur.execute("DELETE FROM journal WHERE namespace = ? AND name = ?", (namespace, name))
            cur.execute("DELETE FROM commands WHERE namespace = ? AND name = ?", (namespace, name))
            # logs are keyed by workflow name: keep them while another namespace uses the name
            cur.execute("SELECT 1 FROM workflows WHERE name = ? LIMIT 1", (name,))
            if not cur.fetchall():
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

    def get_logs(self, wf_name: str, node_id: str | None = None,
                 container: str = "main") -> list[tuple[str, str, str, str]]:
        """(node_id, pod_name, stream, content) in insertion order, of one container of each
        pod: main's logs are saved under the node id, a sidecar's under `<node id>/<name>`."""
        sql = "SELECT node_id, pod_name, stream, content FROM logs WHERE workflow = ?"
        params: list[Any] = [wf_name]
        if node_id is not None:
            sql += " AND node_id = ?" if container == "main" else " AND node_id = ? || '/' || ?"
            params += [node_id] if container == "main" else [node_id, container]
        elif container == "main":
            sql += " AND node_id NOT LIKE ?"
            params.append("%/%")
        else:
            sql += " AND node_id LIKE ?"
            params.append(f"%/{container}")
        rows = self._query(sql + " ORDER BY id", params)
        if container == "main":
            return [tuple(row) for row in rows]  # type: ignore[misc]
        return [(row[0].rsplit("/", 1)[0], *row[1:]) for row in rows]  # type: ignore[misc]

    # -- templates --------------------------------------------------------------------------

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in TEMPLATE_KINDS and kind not in OBJECT_KINDS:
            raise ValueError(f"not a template kind: {kind!r}")

    @staticmethod
    def _template_namespace(kind: str, namespace: str | None) -> str:
        return "" if kind in CLUSTER_KINDS else (namespace or "default")

    def save_template(self, kind: str, raw: dict) -> dict:
        """Register (insert or replace) a template; returns the stored body."""
        self._check_kind(kind)
        body = json.loads(dumps(raw))
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
            cur.execute("INSERT INTO templates (kind, namespace, name, body) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (kind, namespace, name) DO UPDATE SET body = excluded.body",
                        (kind, namespace, name, dumps(body)))
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
        if namespace is not None and kind not in CLUSTER_KINDS:
            sql += " AND namespace = ?"
            params.append(namespace)
        return [json.loads(row[0]) for row in self._query(sql + " ORDER BY name, namespace", params)]

    def delete_template(self, kind: str, name: str, namespace: str | None = "default") -> bool:
        self._check_kind(kind)
        with self._tx() as cur:
            cur.execute("DELETE FROM templates WHERE kind = ? AND namespace = ? AND name = ?",
                        (kind, self._template_namespace(kind, namespace), name))
            return cur.rowcount > 0

    # -- bearer tokens ----------------------------------------------------------------------

    @staticmethod
    def _token(row: tuple) -> dict:
        token_id, namespaces, description, created_at = row
        return {"id": token_id, "namespaces": json.loads(namespaces), "description": description,
                "createdAt": created_at}

    def save_token(self, token_id: str, digest: str, namespaces: list[str], description: str = "") -> None:
        """Insert or replace the token `token_id`; `digest` is the caller's hash of the token."""
        with self._tx() as cur:
            cur.execute("INSERT INTO tokens (id, digest, namespaces, description, created_at) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET digest = excluded.digest, "
                        "namespaces = excluded.namespaces, description = excluded.description",
                        (token_id, digest, dumps(list(namespaces)), description, now_iso()))

    def find_token(self, digest: str) -> dict | None:
        """{"id", "namespaces", "description", "createdAt"} of the token with that digest."""
        rows = self._query("SELECT id, namespaces, description, created_at FROM tokens WHERE digest = ?",
                           (digest,))
        return self._token(rows[0]) if rows else None

    def list_tokens(self) -> list[dict]:
        """Every token (without digests), by id."""
        return [self._token(row) for row in self._query(
            "SELECT id, namespaces, description, created_at FROM tokens ORDER BY id")]

    def delete_token(self, token_id: str) -> bool:
        with self._tx() as cur:
            cur.execute("DELETE FROM tokens WHERE id = ?", (token_id,))
            return cur.rowcount > 0

    # -- secrets ----------------------------------------------------------------------------

    def save_secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """Insert or replace a secret; the values are already encrypted."""
        with self._tx() as cur:
            cur.execute("INSERT INTO secrets (namespace, name, data) VALUES (?, ?, ?) "
                        "ON CONFLICT (namespace, name) DO UPDATE SET data = excluded.data",
                        (namespace, name, dumps(dict(data))))

    def get_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        rows = self._query("SELECT data FROM secrets WHERE namespace = ? AND name = ?", (namespace, name))
        return json.loads(rows[0][0]) if rows else None

    def list_secrets(self, namespace: str | None = None) -> list[tuple[str, str]]:
        """(namespace, name) of every secret, or of one namespace's, sorted."""
        sql, params = "SELECT namespace, name FROM secrets", []
        if namespace is not None:
            sql += " WHERE namespace = ?"
            params.append(namespace)
        return [(row[0], row[1]) for row in self._query(sql + " ORDER BY namespace, name", params)]

    def delete_secret(self, namespace: str, name: str) -> bool:
        with self._tx() as cur:
            cur.execute("DELETE FROM secrets WHERE namespace = ? AND name = ?", (namespace, name))
            return cur.rowcount > 0

    # -- journal ----------------------------------------------------------------------------

    @staticmethod
    def _append(cur: Cursor, namespace: str, name: str, entries: list[str]) -> None:
        if entries:
            cur.executemany("INSERT INTO journal (namespace, name, entry) VALUES (?, ?, ?)",
                            [(namespace, name, entry) for entry in entries])

    def append_journal(self, namespace: str, name: str, entries: list[str]) -> None:
        """Append entries (JSON strings) to the workflow's journal, all or none, in order."""
        with self._tx() as cur:
            self._append(cur, namespace, name, list(entries))

    def journal(self, namespace: str, name: str) -> list[str]:
        """The workflow's journal in append order."""
        return [row[0] for row in self._query(
            "SELECT entry FROM journal WHERE namespace = ? AND name = ? ORDER BY id", (namespace, name))]

    def clear_journal(self, namespace: str, name: str) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM journal WHERE namespace = ? AND name = ?", (namespace, name))

    # -- leases -----------------------------------------------------------------------------
    # Expiry times come from the database's clock (NOW), so controllers on several machines
    # sharing one database agree on them. Each operation is one statement.

    def claim(self, namespace: str, name: str, owner: str, ttl: float) -> bool:
        """Take the lease for ttl seconds: True when it was free, expired, or already owner's
        (then renewed); False while another owner holds it."""
        with self._tx() as cur:
            cur.execute(f"INSERT INTO leases (namespace, name, owner, expires) VALUES (?, ?, ?, {self.NOW} + ?) "
                        "ON CONFLICT (namespace, name) DO UPDATE SET owner = excluded.owner, "
                        f"expires = excluded.expires WHERE leases.owner = excluded.owner "
                        f"OR leases.expires <= {self.NOW}", (namespace, name, owner, float(ttl)))
            return cur.rowcount == 1

    def renew(self, owner: str, ttl: float) -> int:
        """Extend every lease of owner (even lapsed ones nobody took since) to now + ttl;
        returns how many it holds."""
        with self._tx() as cur:
            cur.execute(f"UPDATE leases SET expires = {self.NOW} + ? WHERE owner = ?", (float(ttl), owner))
            return cur.rowcount

    def release(self, namespace: str, name: str, owner: str) -> None:
        """Give the lease up (nothing happens unless owner holds it)."""
        with self._tx() as cur:
            cur.execute("DELETE FROM leases WHERE namespace = ? AND name = ? AND owner = ?",
                        (namespace, name, owner))

    # -- commands ---------------------------------------------------------------------------
    # How an API process asks the controller that holds a workflow's lease to act on it.

    def send_command(self, namespace: str, name: str, body: str) -> None:
        with self._tx() as cur:
            cur.execute("INSERT INTO commands (namespace, name, body) VALUES (?, ?, ?)", (namespace, name, body))
            self._announce(cur, "cmd")

    def take_commands(self, owner: str) -> list[tuple[str, str, str]]:
        """(namespace, name, body) of every command for a workflow whose lease owner holds,
        oldest first; they are removed as they are taken."""
        with self._tx() as cur:
            cur.execute("SELECT c.id, c.namespace, c.name, c.body FROM commands c JOIN leases l "
                        "ON l.namespace = c.namespace AND l.name = c.name WHERE l.owner = ? ORDER BY c.id", (owner,))
            rows = cur.fetchall()
            if rows:
                ids = [row[0] for row in rows]
                cur.execute(f"DELETE FROM commands WHERE id IN ({', '.join('?' * len(ids))})", ids)
        return [(row[1], row[2], row[3]) for row in rows]

    def lease_owner(self, namespace: str, name: str) -> str | None:
        """Who holds the lease; None when free or expired."""
        rows = self._query(f"SELECT owner FROM leases WHERE namespace = ? AND name = ? AND expires > {self.NOW}",
                           (namespace, name))
        return rows[0][0] if rows else None

