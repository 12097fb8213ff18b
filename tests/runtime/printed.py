"""What a step printed on stdout, read from the store's logs: Argo keeps a step's stdout as
`outputs.result` only when its caller names it, so tests read the other steps' output where
users do, in their log."""
from __future__ import annotations

from pathlib import Path

from tiphys.store import open_store


def printed(store_or_home, workflow: str, node_id: str) -> str:
    """The node's main stdout, one trailing newline trimmed (as `outputs.result` would be);
    `store_or_home`: an open store or a TIPHYS_HOME holding `tiphys.db`."""
    if isinstance(store_or_home, Path):
        with open_store(store_or_home / "tiphys.db") as store:
            return printed(store, workflow, node_id)
    rows = store_or_home.get_logs(workflow, node_id)
    return "".join(c for _, _, stream, c in rows if stream == "stdout").removesuffix("\n")
