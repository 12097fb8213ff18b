"""The `store` fixture: every test using it runs once on SQLite and once on PostgreSQL.

PostgreSQL is a real throwaway cluster (see pg.py), one per test session; each test gets a
fresh schema in it (as good as a new database for the store, and much cheaper). The PostgreSQL
runs are skipped only when the server binaries are not installed (scripts/setup.d/20-postgres.sh
installs them; CI runs them).
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from pg import create_schema, running_postgres

from tiphys.store import open_store

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of the session's throwaway PostgreSQL (its `postgres` database)."""
    with running_postgres() as url:
        yield url


@pytest.fixture
def postgres_db(postgres_url) -> str:
    """URL of a new, empty store in the session's cluster (its own schema of the database)."""
    return create_schema(postgres_url, f"t{next(_databases)}")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sub' / 'tiphys.db'}"
    return request.getfixturevalue("postgres_db")


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()
