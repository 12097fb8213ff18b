"""The server with its state in PostgreSQL (`tiphys server --store postgresql://...`)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import pytest
from pg import free_port

with warnings.catch_warnings():  # Starlette >= 1.x prefers httpx2 for its TestClient
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from tiphys.server.app import create_app
from tiphys.store.postgres import PostgresStore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from server_helpers import NS, hello, wait_phase  # noqa: E402

MAIN = "from tiphys.cli.main import main; raise SystemExit(main())"


def test_app_on_postgres_creates_lists_gets_deletes(postgres_db, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("TIPHYS_HOME", str(home))
    with TestClient(create_app(home, store_url=postgres_db)) as client:
        for text in ("one", "two"):
            r = client.post(f"/api/v1/workflows/{NS}", json={"workflow": hello(None, text, labels={"t": text})})
            assert r.status_code == 200, r.text
        names = [n["metadata"]["name"] for n in client.get(f"/api/v1/workflows/{NS}").json()["items"]]
        assert len(names) == 2
        for name in names:
            assert wait_phase(client, name)["status"]["phase"] == "Succeeded"
        got = client.get(f"/api/v1/workflows/{NS}/{names[0]}").json()
        assert got["metadata"]["name"] == names[0] and got["status"]["nodes"]
        r = client.get(f"/api/v1/workflows/{NS}/{names[0]}/log", params={"logOptions.container": "main"})
        assert r.status_code == 200 and '"content"' in r.text
        assert client.delete(f"/api/v1/workflows/{NS}/{names[1]}").status_code == 200
    # the state is in PostgreSQL, not in TIPHYS_HOME
    assert not (home / "tiphys.db").exists()
    with PostgresStore(postgres_db) as store:
        stored = store.get_workflow(names[0], NS)
        assert stored["status"]["phase"] == "Succeeded"
        assert store.get_workflow(names[1], NS) is None


def test_tiphys_server_store_flag(postgres_db, tmp_path):
    env = {**os.environ, "TIPHYS_HOME": str(tmp_path / "home"), "PYTHONPATH": os.pathsep.join(sys.path)}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", MAIN, "server", "--port", str(port), "--store", postgres_db,
                               "--log-level", "warning"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/api/v1/info", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        r = httpx.post(f"{base}/api/v1/workflows/{NS}", json={"workflow": hello("via-flag")}, timeout=10)
        assert r.status_code == 200, r.text
        with PostgresStore(postgres_db) as store:
            assert store.get_workflow("via-flag", NS) is not None
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.mark.parametrize("url, message", [
    ("mysql://x/y", "unsupported store"),
    ("sqlite://relative.db", "absolute path"),
    ("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", "cannot open the Tiphys store postgresql://nobody@127.0.0.1:1/none"),
])
def test_bad_store_url_is_a_clear_error(url, message, tmp_path):
    env = {**os.environ, "TIPHYS_HOME": str(tmp_path / "home"), "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", MAIN, "server", "--port", str(free_port()), "--store", url],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("tiphys: ") and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
