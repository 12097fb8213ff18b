"""open_store URLs, and what is particular to PostgreSQL: schema versions, migrating from two
processes at once, passwords kept out of messages."""
from __future__ import annotations

import threading

import psycopg
import pytest

from tiphys.errors import InfrastructureError, SpecError
from tiphys.store import open_store
from tiphys.store.postgres import SCHEMA_VERSION as PG_SCHEMA_VERSION
from tiphys.store.postgres import PostgresStore, describe
from tiphys.store.sqlite import SCHEMA_VERSION, Store


def test_paths_and_sqlite_urls_open_sqlite(tmp_path):
    for url in (tmp_path / "a.db", str(tmp_path / "b.db"), f"sqlite:///{tmp_path}/c.db"):
        with open_store(url) as s:
            assert isinstance(s, Store)
            s.save_workflow({"metadata": {"name": "w"}})
    for name in ("a.db", "b.db", "c.db"):
        with Store(tmp_path / name) as s:
            assert s.get_workflow("w") is not None


@pytest.mark.parametrize("url, message", [
    ("mysql://db/tiphys", "unsupported store"),
    ("sqlite://relative/t.db", "absolute path"),
    ("", "unsupported store"),
])
def test_bad_urls(url, message):
    with pytest.raises(SpecError, match=message):
        open_store(url)


def test_describe_hides_the_password():
    assert describe("postgresql://u:secret@db.example:5433/tiphys") == "postgresql://u@db.example:5433/tiphys"
    assert "secret" not in describe("host=h password=secret dbname=d")


def test_unreachable_postgres_is_an_infrastructure_error():
    with pytest.raises(InfrastructureError, match="cannot open the Tiphys store postgresql://u@127.0.0.1:1/x") as err:
        PostgresStore("postgresql://u:pw@127.0.0.1:1/x", connect_timeout=2)
    assert "pw" not in str(err.value).replace("postgresql", "")


def test_postgres_schema_version_and_newer_is_refused(postgres_db):
    with open_store(postgres_db) as s:
        assert isinstance(s, PostgresStore) and s.schema_version == PG_SCHEMA_VERSION == SCHEMA_VERSION
    with open_store(postgres_db) as s:   # reopening keeps the data and does not migrate twice
        assert s.schema_version == PG_SCHEMA_VERSION
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute("UPDATE tiphys_schema SET version = version + 5")
    with pytest.raises(InfrastructureError, match="newer"):
        open_store(postgres_db)


def test_postgres_stores_opened_at_once_migrate_once(postgres_db):
    opened, errors = [], []

    def open_one() -> None:
        try:
            opened.append(open_store(postgres_db))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(opened) == 4
    opened[0].save_workflow({"metadata": {"name": "w"}})
    assert all(s.get_workflow("w") is not None for s in opened)
    with psycopg.connect(postgres_db) as conn:
        assert conn.execute("SELECT count(*) FROM tiphys_schema").fetchone()[0] == 1
    for s in opened:
        s.close()


def test_postgres_bodies_round_trip_exactly(postgres_db):
    body = {"metadata": {"name": "w", "annotations": {"ünï": "çødé ✓", "q": "it's \"quoted\" %s ?"}},
            "spec": {"big": 2**53, "f": 1.5, "none": None, "list": [True, False, []]},
            "status": {"phase": "Running", "nodes": {"n": {"id": "n"}}}}
    with open_store(postgres_db) as s:
        s.save_workflow(body)
        assert s.get_workflow("w") == body
        light = s.list_page()[0][0]
        assert light["metadata"] == body["metadata"] and "nodes" not in light["status"]
