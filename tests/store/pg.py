"""A throwaway PostgreSQL cluster for tests: `start_postgres() -> (url, stop)`.

initdb runs as the `postgres` user (PostgreSQL refuses to run as root) into a fresh temporary
folder it owns, with trust authentication and no fsync; the server listens on 127.0.0.1 at a
free port and puts its socket in that folder. `stop()` stops it and removes the folder.

Importable from any test folder: tests/store/conftest.py wraps it in fixtures; elsewhere,
put tests/store on sys.path (or `from tests.store.pg import ...` when `tests` is importable).
"""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries (initdb, pg_ctl) are not installed."""


def pg_bin() -> Path:
    for d in PG_BIN_DIRS:
        if (Path(d) / "initdb").is_file() and (Path(d) / "pg_ctl").is_file():
            return Path(d)
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    raise PostgresUnavailable("no initdb/pg_ctl in " + ", ".join(PG_BIN_DIRS) + " or on PATH")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user(user: str | None) -> Callable[[], None] | None:
    """preexec_fn dropping root to `user` (None: stay who we are)."""
    if user is None:
        return None
    entry = pwd.getpwnam(user)

    def drop() -> None:
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    return drop


def start_postgres() -> tuple[str, Callable[[], None]]:
    """Start a new cluster; returns (URL of its `postgres` database, stop function)."""
    bindir = pg_bin()
    user = "postgres" if os.geteuid() == 0 else None
    if user is not None:
        try:
            entry = pwd.getpwnam(user)
        except KeyError as exc:
            raise PostgresUnavailable("running as root and there is no `postgres` user") from exc
    root = Path(tempfile.mkdtemp(prefix="tiphys-pg-"))
    if user is not None:
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data, log = root / "data", root / "log"
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}

    def run(*args: str) -> None:
        done = subprocess.run(args, cwd=root, env=env, preexec_fn=_as_user(user),
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                               + (log.read_text() if log.exists() else ""))

    port = free_port()
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
            "-E", "UTF8", "--locale=C.UTF-8")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200", "-w", "start")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise

    def stop() -> None:
        subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       cwd=root, env=env, preexec_fn=_as_user(user), capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)

    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


def create_database(url: str, name: str) -> str:
    """Create database `name` in the cluster at url (its maintenance database); returns its URL."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def create_schema(url: str, name: str) -> str:
    """Create an empty schema `name` in the database at url; returns a URL whose connections
    use it (search_path), i.e. a fresh store in milliseconds rather than a new database."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in url else "?"
    return url + sep + "options=" + urllib.parse.quote(f"-c search_path={name}")


@contextlib.contextmanager
def running_postgres() -> Iterator[str]:
    """start_postgres for a fixture: the URL while it runs; the test is skipped, saying why,
    where PostgreSQL is not installed."""
    import pytest
    try:
        url, stop = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL server binaries not installed ({exc}); run scripts/setup.d/20-postgres.sh")
    try:
        yield url
    finally:
        stop()
