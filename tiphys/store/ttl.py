"""`spec.ttlStrategy`: a finished workflow's record is deleted some time after it finished.

Argo's rule (ttlcontroller): the time to live is `secondsAfterFailure` for a Failed workflow
when set, `secondsAfterSuccess` for a Succeeded one when set, else `secondsAfterCompletion`
(an Error workflow only has that one); the record goes at `finishedAt + ttl`. A server's
controller sweeps at each of its periodic looks; without a server, whatever Tiphys command
opens the store next sweeps (`tiphys run` saves the record, a later command deletes it).
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

COMPLETED = ("Succeeded", "Failed", "Error")


def expiry(wf: dict[str, Any]) -> float | None:
    """When the record of finished workflow `wf` is to be deleted (epoch seconds), or None."""
    spec = wf.get("spec") or {}
    status = wf.get("status") or {}
    ttl = spec.get("ttlStrategy")
    phase, finished = status.get("phase"), status.get("finishedAt")
    if not isinstance(ttl, dict) or phase not in COMPLETED or not finished:
        return None
    seconds = None
    if phase == "Failed" and ttl.get("secondsAfterFailure") is not None:
        seconds = ttl["secondsAfterFailure"]
    elif phase == "Succeeded" and ttl.get("secondsAfterSuccess") is not None:
        seconds = ttl["secondsAfterSuccess"]
    elif ttl.get("secondsAfterCompletion") is not None:
        seconds = ttl["secondsAfterCompletion"]
    try:
        return dt.datetime.fromisoformat(str(finished).replace("Z", "+00:00")).timestamp() + float(seconds)
    except (TypeError, ValueError):
        return None


def expired(store: Any, now: float) -> list[tuple[str, str]]:
    """(namespace, name) of the stored workflows whose time to live has passed."""
    rows = store._query("SELECT body FROM workflows WHERE phase IN (?, ?, ?) AND body LIKE ?",
                        (*COMPLETED, "%ttlStrategy%"))
    found = []
    for (body,) in rows:
        wf = json.loads(body)
        at = expiry(wf)
        if at is not None and at <= now:
            meta = wf.get("metadata") or {}
            found.append((str(meta.get("namespace") or "default"), str(meta.get("name"))))
    return found


def sweep(store: Any, home: Path, now: float) -> list[tuple[str, str]]:
    """Delete the expired workflows' records and log folders (no server involved)."""
    gone = expired(store, now)
    for namespace, name in gone:
        store.delete_workflow(name, namespace)
        if store.get_workflow(name, None) is None:
            shutil.rmtree(home / "logs" / name, ignore_errors=True)
    return gone
