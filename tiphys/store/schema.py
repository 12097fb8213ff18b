"""The store's tables, as numbered migration steps shared by the SQLite and PostgreSQL
backends (each spells a few column types its own way)."""
from __future__ import annotations


def migrations(*, id_column: str, text: str, real: str, labels_of: str) -> tuple[tuple[str, ...], ...]:
    """The schema, step by step: result[i] brings a store from version i to i + 1.

    A backend gives its spelling of an auto-increment primary key, of a text column (compared
    bytewise, as SQLite does), of a float column, and of a table function turning the labels
    JSON of workflow `w` into (key, value) rows.
    """
    steps = (
        (
            """CREATE TABLE IF NOT EXISTS workflows (
                id          {id_column},
                namespace   {text} NOT NULL,
                name        {text} NOT NULL,
                uid         {text},
                phase       {text},
                created_at  {text} NOT NULL,
                started_at  {text},
                finished_at {text},
                labels      {text} NOT NULL DEFAULT '{{}}',
                body        {text} NOT NULL,
                UNIQUE (namespace, name)
            )""",
            "CREATE INDEX IF NOT EXISTS workflows_created ON workflows (created_at, id)",
            """CREATE TABLE IF NOT EXISTS logs (
                id        {id_column},
                workflow  {text} NOT NULL,
                node_id   {text} NOT NULL,
                pod_name  {text} NOT NULL DEFAULT '',
                stream    {text} NOT NULL CHECK (stream IN ('stdout', 'stderr')),
                content   {text} NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS logs_workflow ON logs (workflow, node_id)",
            """CREATE TABLE IF NOT EXISTS templates (
                kind      {text} NOT NULL,
                namespace {text} NOT NULL,
                name      {text} NOT NULL,
                body      {text} NOT NULL,
                PRIMARY KEY (kind, namespace, name)
            )""",
        ),
        (
            # paged listing: newest first within a namespace / a phase
            "CREATE INDEX workflows_ns_created ON workflows (namespace, created_at, id)",
            "CREATE INDEX workflows_phase_created ON workflows (phase, created_at, id)",
            """CREATE TABLE workflow_labels (
                workflow_id BIGINT NOT NULL,
                key         {text} NOT NULL,
                value       {text} NOT NULL,
                PRIMARY KEY (workflow_id, key)
            )""",
            "CREATE INDEX workflow_labels_kv ON workflow_labels (key, value)",
            "INSERT INTO workflow_labels (workflow_id, key, value) "
            "SELECT w.id, l.key, CAST(l.value AS TEXT) FROM workflows w, {labels_of} l",
            """CREATE TABLE tokens (
                id          {text} PRIMARY KEY,
                digest      {text} NOT NULL UNIQUE,
                namespaces  {text} NOT NULL,
                description {text} NOT NULL DEFAULT '',
                created_at  {text} NOT NULL
            )""",
            """CREATE TABLE secrets (
                namespace {text} NOT NULL,
                name      {text} NOT NULL,
                data      {text} NOT NULL,
                PRIMARY KEY (namespace, name)
            )""",
            """CREATE TABLE journal (
                id        {id_column},
                namespace {text} NOT NULL,
                name      {text} NOT NULL,
                entry     {text} NOT NULL
            )""",
            "CREATE INDEX journal_workflow ON journal (namespace, name, id)",
            """CREATE TABLE leases (
                namespace {text} NOT NULL,
                name      {text} NOT NULL,
                owner     {text} NOT NULL,
                expires   {real} NOT NULL,
                PRIMARY KEY (namespace, name)
            )""",
            "CREATE INDEX leases_owner ON leases (owner)",
        ),
        (
            # requests (stop, suspend, resume, set) for a workflow another process runs
            """CREATE TABLE commands (
                id        {id_column},
                namespace {text} NOT NULL,
                name      {text} NOT NULL,
                body      {text} NOT NULL
            )""",
            "CREATE INDEX commands_workflow ON commands (namespace, name, id)",
        ),
        (
            # ConfigMaps (semaphore sizes, memoize caches): whole bodies, as Kubernetes has them
            """CREATE TABLE configmaps (
                namespace {text} NOT NULL,
                name      {text} NOT NULL,
                body      {text} NOT NULL,
                PRIMARY KEY (namespace, name)
            )""",
            # synchronization: one row per lock a holder waits for or holds (locks.py)
            """CREATE TABLE sync_locks (
                id       {id_column},
                lock_name {text} NOT NULL,
                holder   {text} NOT NULL,
                workflow {text} NOT NULL,
                priority INTEGER NOT NULL DEFAULT 0,
                created  {text} NOT NULL,
                holding  INTEGER NOT NULL DEFAULT 0,
                UNIQUE (lock_name, holder)
            )""",
            "CREATE INDEX sync_locks_workflow ON sync_locks (workflow)",
            "CREATE TABLE sync_names (lock_name {text} PRIMARY KEY)",
        ),
        (
            # ResourceQuota usage: one row per admitted pod (quota.py)
            """CREATE TABLE quota_pods (
                namespace {text} NOT NULL,
                pod       {text} NOT NULL,
                workflow  {text} NOT NULL,
                resources {text} NOT NULL,
                PRIMARY KEY (namespace, pod)
            )""",
        ),
    )
    return tuple(tuple(statement.format(id_column=id_column, text=text, real=real, labels_of=labels_of)
                       for statement in step) for step in steps)
