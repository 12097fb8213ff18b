"""Argo's `memoize`: what a memoized template's cache entry is called, and whether an entry hits.

The engine cannot read the cache (it does no I/O): gates.py asks the shell with a LookupCache
action and goes on when the CacheResult event comes back; a node that succeeds is saved with a
SaveCache action. This module holds the rules: the key's shape, `maxAge`, the node's
`memoizationStatus`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tiphys.engine import durations, names
from tiphys.errors import SpecError, TiphysError

KEY = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")


@dataclass(frozen=True)
class Memo:
    key: str
    cache: str
    max_age: float | None       # seconds; None = entries never expire

    def status(self, hit: bool) -> dict[str, Any]:
        return {"hit": hit, "key": self.key, "cacheName": self.cache}


def parse(memoize: dict[str, Any]) -> Memo:
    """The rendered `memoize` of a template; a bad key or maxAge raises (the node ends in Error)."""
    key = str(memoize.get("key") if memoize.get("key") is not None else "")
    cache = str(((memoize.get("cache") or {}).get("configMap") or {}).get("name") or "")
    if not cache:
        raise SpecError("memoize.cache.configMap.name is required")
    if not KEY.match(key):
        raise SpecError(f"invalid cache key: {key}")
    max_age = memoize.get("maxAge")
    seconds = None
    if max_age not in (None, ""):
        try:
            seconds = durations.seconds(str(max_age), "memoize.maxAge")
        except TiphysError as exc:   # Go's time.ParseDuration's words, as Argo reports them
            raise SpecError(f'time: invalid duration "{max_age}"') from exc
    return Memo(key, cache, seconds)


def hit(memo: Memo, entry: dict[str, Any] | None, now: float) -> bool:
    """Argo: an entry with a node id, not older than maxAge."""
    if not entry or not entry.get("nodeID"):
        return False
    if memo.max_age is None:
        return True
    try:
        created = names.parse_timestamp(str(entry.get("creationTimestamp") or ""))
    except (ValueError, TypeError):
        return False
    return now - created <= memo.max_age
