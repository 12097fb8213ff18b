"""Kubernetes' admission for steps run by the local executors: the LimitRanges and
ResourceQuotas applied with `tiphys apply` to the workflow's namespace (tiphys.k8s.limits
says what they do to one pod; this module keeps the namespace's usage).

A pod refused outright (beyond a LimitRange's max, or not saying a request the quota limits)
ends its node in Error with Kubernetes' `pods "NAME" is forbidden: ...`. A pod beyond a
quota waits: its node turns Pending with Kubernetes' `exceeded quota` message (the engine's
PodPending), as Argo keeps it Pending and retries, and runs when running pods of the
namespace end and free room. Usage is counted over every run of this process sharing the
store (the runs of one `tiphys server` or controller); separate `tiphys run` processes do not
see each other's pods.
"""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from tiphys.engine import actions as A
from tiphys.errors import TiphysError
from tiphys.k8s import limits

_shared: dict[int, "Admission"] = {}


class Refused(TiphysError):
    """Kubernetes would not create the pod."""


def for_store(store: Any) -> "Admission":
    """The one Admission of the runs sharing `store` in this process."""
    found = _shared.get(id(store))
    if found is None or found.store is not store:
        found = _shared[id(store)] = Admission(store)
    return found


class Admission:
    def __init__(self, store: Any):
        self.store = store
        self.used: dict[str, dict[str, float]] = {}      # namespace -> resource -> in use
        self._changed: tuple[Any, asyncio.Event] | None = None

    @property
    def changed(self) -> asyncio.Event:
        """Set when a pod frees its share (one per event loop: a process may run several)."""
        loop = asyncio.get_running_loop()
        if self._changed is None or self._changed[0] is not loop:
            self._changed = (loop, asyncio.Event())
        return self._changed[1]

    def _objects(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        try:
            return self.store.list_templates(kind, namespace)
        except (ValueError, AttributeError):     # a store without these kinds
            return []

    @asynccontextmanager
    async def admitted(self, action: A.StartPod, namespace: str,
                       waiting: Callable[[str], None]) -> AsyncIterator[A.StartPod]:
        """Hold the pod's share of its namespace's quotas while it runs; yields the action with
        the LimitRange defaults in its template. Raises Refused; calls `waiting(message)` when
        it has to wait and `waiting("")` once admitted after waiting."""
        ranges, quotas = await asyncio.to_thread(lambda: (self._objects("LimitRange", namespace),
                                                          self._objects("ResourceQuota", namespace)))
        if not ranges and not quotas:
            yield action
            return
        tmpl = limits.with_defaults(action.template, ranges)
        forbidden = f'pods "{action.pod_name}" is forbidden: '
        why = limits.violation(tmpl, ranges)
        if why:
            raise Refused(forbidden + why)
        use = limits.usage(tmpl)
        for quota in quotas:
            why = limits.missing(quota, use)
            if why:
                raise Refused(forbidden + why)
        shown = ""
        while True:
            used = self.used.setdefault(namespace, {})
            why = next((w for w in (limits.exceeded(q, use, used) for q in quotas) if w), None)
            if why is None:
                break
            if why != shown:
                waiting(forbidden + why)
                shown = why
            self.changed.clear()
            await self.changed.wait()
        if shown:
            waiting("")
        for key, value in use.items():
            used[key] = used.get(key, 0.0) + (value or 0.0)
        try:
            yield dataclasses.replace(action, template=tmpl) if tmpl is not action.template else action
        finally:
            for key, value in use.items():
                used[key] = used.get(key, 0.0) - (value or 0.0)
            self.changed.set()
