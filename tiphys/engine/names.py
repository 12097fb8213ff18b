"""Argo's deterministic names: node ids, pod names, timestamps.

Node ids are a hash of the node's path name, as in Argo, so re-applying an action after
a crash is idempotent and ids match what Argo users see.
"""
from __future__ import annotations

import datetime as dt

_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193
_MAX_POD_NAME = 63


def fnv32a(text: str) -> int:
    h = _FNV_OFFSET
    for byte in text.encode():
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def node_id(wf_name: str, node_name: str) -> str:
    if node_name == wf_name:
        return wf_name
    return f"{wf_name}-{fnv32a(node_name)}"


def pod_name(wf_name: str, node_name: str, template_name: str) -> str:
    """Argo's POD_NAMES=v2 name: <wf>-<template>-<fnv32a(nodeName)>, prefix cut to fit 63."""
    if wf_name == node_name:
        return wf_name
    suffix = str(fnv32a(node_name))
    prefix = wf_name if ".inline" in node_name or not template_name else f"{wf_name}-{template_name}"
    prefix = prefix[: _MAX_POD_NAME - len(suffix) - 1]
    return f"{prefix}-{suffix}"


def timestamp(now: float) -> str:
    """RFC3339 with second precision, as Argo writes startedAt/finishedAt."""
    return dt.datetime.fromtimestamp(int(now), tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
