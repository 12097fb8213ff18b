"""`two_stores`: two store connections to one database, as two controllers have; SQLite and
PostgreSQL (a throwaway cluster, skipped where PostgreSQL is not installed)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from pg import create_schema, running_postgres  # noqa: E402

from tiphys.store import open_store  # noqa: E402


@pytest.fixture(scope="session")
def cron_postgres():
    with running_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def two_stores(request, tmp_path):
    url = str(tmp_path / "t.db") if request.param == "sqlite" else \
        create_schema(request.getfixturevalue("cron_postgres"), "cron_two")
    a, b = open_store(url), open_store(url)
    yield a, b
    a.close()
    b.close()
