"""Server tests run the Starlette app in-process (TestClient) over a fresh TIPHYS_HOME; the
workflows they submit run for real through the runtime (busybox steps take milliseconds)."""
from __future__ import annotations

import itertools
import sys
import warnings
from pathlib import Path
from collections.abc import Callable, Iterator

import pytest

with warnings.catch_warnings():  # Starlette >= 1.x prefers httpx2 for its TestClient
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from tiphys.server.app import create_app
from tiphys.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from pg import create_schema, running_postgres  # noqa: E402

_schemas = itertools.count()


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("TIPHYS_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def server_postgres() -> Iterator[str]:
    """One throwaway PostgreSQL for the session's server tests (each test gets its own schema)."""
    with running_postgres() as url:
        yield url


@pytest.fixture
def fresh_postgres():
    """A PostgreSQL cluster of this test's own (for tests that run whole server processes)."""
    with running_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request) -> str | None:
    """Every API test runs on both stores: None is the default SQLite file in TIPHYS_HOME."""
    if request.param == "sqlite":
        return None
    return create_schema(request.getfixturevalue("server_postgres"), f"srv{next(_schemas)}")


@pytest.fixture
def open_test_store(home, store_url):
    """Open the store the test's server uses (to plant records as a previous server would)."""
    return lambda: open_store(store_url or home / "tiphys.db")


@pytest.fixture
def make_client(home, store_url) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(parallelism: int = 8, **kw) -> TestClient:
        client = TestClient(create_app(home, parallelism=parallelism, store_url=store_url, **kw))
        client.__enter__()
        clients.append(client)
        return client
    yield make
    for c in reversed(clients):
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()
