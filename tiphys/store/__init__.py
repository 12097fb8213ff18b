"""Tiphys state: `open_store(url)` picks the backend from the URL.

- a filesystem path, or `sqlite:///abs/path`: one SQLite file (`sqlite.Store`);
- `postgresql://...` (or `postgres://`): a PostgreSQL database (`postgres.PostgresStore`),
  for several servers/controllers sharing one state.

Both have the same methods (`sql.SqlStore`).
"""
from __future__ import annotations

from pathlib import Path

from tiphys.errors import SpecError
from tiphys.store.sql import SqlStore


def open_store(url: str | Path) -> SqlStore:
    """Open (creating or migrating when needed) the store named by url."""
    if isinstance(url, Path):
        from tiphys.store.sqlite import Store
        return Store(url)
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from tiphys.store.postgres import PostgresStore
        return PostgresStore(text)
    if text.startswith("sqlite://"):
        path = text[len("sqlite://"):]
        if not path.startswith("/"):
            raise SpecError(f"a SQLite store URL needs an absolute path (sqlite:///abs/path), not {text!r}",
                            path="--store")
        from tiphys.store.sqlite import Store
        return Store(path)
    if "://" in text or not text:
        raise SpecError(f"unsupported store {text!r}: give a file path, sqlite:///abs/path or "
                        "postgresql://user@host:port/database", path="--store")
    from tiphys.store.sqlite import Store
    return Store(Path(text).expanduser())
