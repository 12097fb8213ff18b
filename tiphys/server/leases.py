"""Which controller runs which workflow: leases (store.claim / renew / release), held by a
controller named "host:pid:nonce", make sure two controllers on one database never run the
same workflow, and one takes over within about LEASE_TTL seconds when the other dies (at once
when it died on this machine). Only workflows a server submitted (annotation SUBMITTED_BY) are
taken over, so a `tiphys run` in another terminal sharing TIPHYS_HOME is left alone.
"""
from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from tiphys.store.sqlite import Store

SUBMITTED_BY = "tiphys.io/submitted-by"
LEASE_TTL = float(os.environ.get("TIPHYS_LEASE_TTL") or 15.0)   # seconds a dead controller keeps its workflows

Key = tuple[str, str]


def key_of(wf: dict) -> Key:
    meta = wf["metadata"]
    return (meta.get("namespace") or "default", meta["name"])


def new_owner() -> str:
    """A name for this controller's leases, unique among processes and machines."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def ours(wf: dict) -> bool:
    """Whether a server submitted the workflow (a `tiphys run` sharing the store is left alone)."""
    return ((wf.get("metadata") or {}).get("annotations") or {}).get(SUBMITTED_BY) == "server"


def runs_elsewhere(store: Store, namespace: str, name: str) -> bool:
    """Whether a server-submitted workflow waits or runs (by its record), called for one
    this process does not run: then another process does, or will."""
    if store.workflow_phase(name, namespace) not in ("Pending", "Running"):
        return False
    wf = store.get_workflow(name, namespace)
    return wf is not None and ours(wf)


def claim_orphans(store: Store, owner: str, ttl: float, *, held: Callable[[Key], bool],
                  take: Callable[[Key], bool]) -> list[tuple[dict, bool]]:
    """Claim for `owner` every Running or Pending server-submitted workflow no live controller
    holds; `held(key)`: already queued or running here, `take(key)`: mark it so (False when
    it already was). Returns (workflow, resume) pairs, the ones to resume from their journal
    first, then oldest first."""
    found = []
    for phase in ("Running", "Pending"):
        for wf in _stored_in(store, phase):
            key = key_of(wf)
            if not ours(wf) or held(key):
                continue
            if not store.claim(key[0], key[1], owner, ttl):
                holder = store.lease_owner(key[0], key[1])
                if not (holder and _dead_here(holder)):
                    continue
                store.release(key[0], key[1], holder)     # its controller died on this machine
                if not store.claim(key[0], key[1], owner, ttl):
                    continue
            full = store.get_workflow(key[1], key[0]) or wf
            resume = bool(store.journal(key[0], key[1]))   # begun before: resume, whatever it shows
            if take(key):
                found.append((full, resume))
    found.sort(key=lambda pair: (not pair[1], pair[0]["metadata"].get("creationTimestamp") or ""))
    return found


def _stored_in(store: Store, phase: str) -> Iterator[dict]:
    """Every stored workflow in `phase`, a page at a time, without node trees."""
    after = None
    while True:
        page, after = store.list_page(phases=[phase], limit=500, after=after)
        yield from page
        if after is None:
            return


def _dead_here(owner: str) -> bool:
    """Whether lease `owner` ("host:pid:nonce") is a controller process of this machine that is
    gone, so its leases need not wait to expire."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    try:   # a zombie (killed, not yet reaped) is gone too
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True
