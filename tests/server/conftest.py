"""Server tests run the Starlette app in-process (TestClient) over a fresh TIPHYS_HOME; the
workflows they submit run for real through the runtime (busybox steps take milliseconds)."""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import pytest

with warnings.catch_warnings():  # Starlette >= 1.x prefers httpx2 for its TestClient
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from tiphys.server.app import create_app


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("TIPHYS_HOME", str(home))
    return home


@pytest.fixture
def make_client(home) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(parallelism: int = 8) -> TestClient:
        client = TestClient(create_app(home, parallelism=parallelism))
        client.__enter__()
        clients.append(client)
        return client
    yield make
    for c in reversed(clients):
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()
