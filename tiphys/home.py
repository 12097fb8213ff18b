"""Where Tiphys keeps its state on this machine ($TIPHYS_HOME) and its default store there:
shared by the CLI and the server's commands, so neither imports the other for it."""
from __future__ import annotations

import os
import time
from pathlib import Path

from tiphys.errors import InfrastructureError
from tiphys.store.sqlite import Store


def home_dir() -> Path:
    """$TIPHYS_HOME (default ~/.tiphys), created on demand."""
    home = Path(os.environ.get("TIPHYS_HOME") or Path.home() / ".tiphys").expanduser()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InfrastructureError(f"cannot create TIPHYS_HOME {home}: {exc.strerror or exc}") from exc
    return home


def open_store(home: Path | None = None) -> Store:
    """The home's store, after deleting the workflows whose ttlStrategy has expired."""
    from tiphys.store import ttl
    home = home or home_dir()
    store = Store(home / "tiphys.db")
    ttl.sweep(store, home, time.time())
    return store
