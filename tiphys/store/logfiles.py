"""Where a step's log stream is read from: the store once the step finished, else the live
file the runner writes under TIPHYS_HOME/logs/<workflow>/<node id>/<stream>."""
from __future__ import annotations

from pathlib import Path


def read_stream(stored: dict, live_root: Path, node_id: str, stream: str) -> tuple[str, bytes, bool] | None:
    """(pod name as stored, content, complete) for one node's stream; None when there is none yet."""
    pod_stored, content = stored.get(node_id, {}).get(stream, ("", None))
    if content is not None:
        return pod_stored, content.encode(), True
    try:
        return pod_stored, (live_root / node_id / stream).read_bytes(), False
    except OSError:
        return None
