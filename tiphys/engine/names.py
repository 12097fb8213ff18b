"""Argo's deterministic names: node ids, pod names, timestamps.

Node ids are a hash of the node's path name, as in Argo, so re-applying an action after
a crash is idempotent and ids match what Argo users see.
"""
from __future__ import annotations

import datetime as dt
import functools

_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193
_MAX_PREFIX = 253 - 10 - 1   # Kubernetes' name length less Argo's room for the hash and its dash


def _fnv(data: bytes, h: int = _FNV_OFFSET) -> int:
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


@functools.lru_cache(maxsize=4096)
def _prefix_state(prefix: str) -> int:
    return _fnv(prefix.encode())


@functools.lru_cache(maxsize=64)
def fnv32a(text: str) -> int:
    """FNV-1a, 32 bits. Sibling nodes share a long name prefix, whose state is cached."""
    cut = max(text.rfind("("), text.rfind("."), text.rfind("["))
    if cut <= 0:
        return _fnv(text.encode())
    return _fnv(text[cut:].encode(), _prefix_state(text[:cut]))


def node_id(wf_name: str, node_name: str) -> str:
    if node_name == wf_name:
        return wf_name
    return f"{wf_name}-{fnv32a(node_name)}"


def pod_name(wf_name: str, node_name: str, template_name: str) -> str:
    """Argo's POD_NAMES=v2 name: <wf>-<template>-<fnv32a(nodeName)>, the prefix cut at 242 characters."""
    if wf_name == node_name:
        return wf_name
    suffix = str(fnv32a(node_name))
    prefix = wf_name if ".inline" in node_name or not template_name else f"{wf_name}-{template_name}"
    prefix = prefix[:_MAX_PREFIX]
    return f"{prefix}-{suffix}"


@functools.lru_cache(maxsize=4)
def _second(second: int) -> str:
    return dt.datetime.fromtimestamp(second, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp(now: float) -> str:
    """RFC3339 with second precision, as Argo writes startedAt/finishedAt."""
    return _second(int(now))


def parse_timestamp(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
