"""Store over a real SQLite file in a temporary folder."""
from __future__ import annotations

import sqlite3

import pytest
from samples import wf

from tiphys.errors import InfrastructureError
from tiphys.store.sqlite import SCHEMA_VERSION, Store


def test_open_creates_schema_and_wal(tmp_path):
    path = tmp_path / "a" / "b" / "t.db"
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"workflows", "logs", "templates"} <= tables
    conn.close()
    # reopening an existing store is fine and keeps data
    with Store(path) as s:
        s.save_workflow(wf("x"))
    with Store(path) as s:
        assert s.get_workflow("x")["metadata"]["name"] == "x"


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "t.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    with pytest.raises(InfrastructureError, match="newer"):
        Store(path)


def test_unopenable_path_is_an_infrastructure_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InfrastructureError, match="cannot open"):
        Store(blocker / "t.db")


def test_second_connection_sees_writes(tmp_path):
    path = tmp_path / "t.db"
    with Store(path) as writer, Store(path) as reader:
        writer.save_workflow(wf("w", phase="Running"))
        assert reader.workflow_phase("w") == "Running"
        writer.save_workflow(wf("w", phase="Succeeded"))
        assert reader.get_workflow("w")["status"]["phase"] == "Succeeded"


def test_version_1_store_is_migrated_keeping_data(tmp_path):
    from tiphys.store.sqlite import MIGRATIONS
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO workflows (namespace, name, phase, created_at, labels, body) "
                 "VALUES ('argo', 'w', 'Succeeded', '2026-01-01T00:00:00Z', ?, ?)",
                 ('{"team":"a"}', '{"metadata":{"name":"w","namespace":"argo"},"status":{"nodes":{}}}'))
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION == 5
        assert [w["metadata"]["name"] for w in s.list_page(labels={"team": "a"})[0]] == ["w"]
        assert s.get_workflow("w", "argo")["metadata"]["namespace"] == "argo"
        s.append_journal("argo", "w", ["e"])
        assert s.claim("argo", "w", "me", 30) and s.journal("argo", "w") == ["e"]
