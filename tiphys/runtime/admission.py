"""Kubernetes' admission for steps run by the local executors: the LimitRanges and
ResourceQuotas applied with `tiphys apply` to the workflow's namespace (tiphys.k8s.limits
says what they do to one pod; this module keeps the namespace's usage).

A pod refused outright (beyond a LimitRange's max, or not saying a request the quota limits)
ends its node in Error with Kubernetes' `pods "NAME" is forbidden: ...`. A pod beyond a
quota waits: its node turns Pending with Kubernetes' `exceeded quota` message (the engine's
PodPending), as Argo keeps it Pending and retries, and runs when running pods of the
namespace end and free room. Usage is kept in the store (store/quota.py), so every process
sharing it counts the same pods: the runs of one server, controllers on one PostgreSQL,
separate `tiphys run` processes on one home. A release in this process wakes its waiters at
once; a release by another process is seen within POLL seconds.
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
POLL = 1.0     # seconds between tries of a waiting pod (a release elsewhere wakes no one here)


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
    async def admitted(self, action: A.StartPod, namespace: str, waiting: Callable[[str], None],
                       workflow: str = "", handed_over: Callable[[], bool] = lambda: False,
                       ) -> AsyncIterator[A.StartPod]:
        """Hold the pod's share of its namespace's quotas while it runs; yields the action with
        the LimitRange defaults in its template. Raises Refused; calls `waiting(message)` when
        it has to wait and `waiting("")` once admitted after waiting. `workflow` (its name) lets a
        share left by a killed process go when that workflow ends. Cancelled while `handed_over()`
        (a controller draining: the step runs on, detached), the share stays with the pod."""
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
        if not quotas:
            yield dataclasses.replace(action, template=tmpl) if tmpl is not action.template else action
            return
        share = {key: value or 0.0 for key, value in use.items()}

        def check(used: dict[str, float]) -> str | None:
            return next((w for w in (limits.exceeded(q, use, used) for q in quotas) if w), None)

        shown = ""
        while True:
            why = await asyncio.to_thread(self.store.admit_pod, namespace, action.pod_name, workflow, share, check)
            if why is None:
                break
            if why != shown:
                waiting(forbidden + why)
                shown = why
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), POLL)
            except asyncio.TimeoutError:
                pass
        if shown:
            waiting("")
        keep = False
        try:
            yield dataclasses.replace(action, template=tmpl) if tmpl is not action.template else action
        except asyncio.CancelledError:
            keep = handed_over()
            raise
        finally:
            if not keep:
                await self.released(namespace, action.pod_name)

    async def released(self, namespace: str, pod: str) -> None:
        """The pod ended (or was never admitted here: a step re-attached after a restart): its
        share, if it holds one, is free."""
        try:
            await asyncio.to_thread(self.store.release_pod, namespace, pod)
        except AttributeError:      # a store without quotas
            return
        self.changed.set()
