"""The controller's queue: submitted workflows wait here, first come first served, until a
slot is free under `parallelism` (server-wide) and `namespace_parallelism` (per namespace).

A queued workflow has no engine yet: its stored record is the workflow, so a suspend, resume
or stop of a queued workflow edits that record (as Argo patches the Workflow object); once it
runs, only its engine writes it.
"""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tiphys.errors import TiphysError
from tiphys.server.leases import Key, key_of
from tiphys.store.sql import now_iso

if TYPE_CHECKING:
    from tiphys.server.controller import Controller

POSTPONED = "Workflow processing has been postponed because too many workflows are already running"


@dataclass
class Job:
    wf: dict
    resume: bool = False     # rebuild from the journal (a workflow taken over after a crash)


class Queue:
    """The waiting jobs, and the pump that starts them (on the controller's loop)."""

    def __init__(self, ctl: Controller):
        self.ctl = ctl
        self.jobs: deque[Job] = deque()

    def __len__(self) -> int:
        return len(self.jobs)

    def clear(self) -> None:
        self.jobs.clear()

    def enqueue(self, job: Job) -> None:
        self.jobs.append(job)
        self.pump()

    def _next(self) -> Job | None:
        """The first queued workflow whose namespace is under its own limit, if any."""
        limit = self.ctl.namespace_parallelism
        if limit is None:
            return self.jobs.popleft()
        busy: dict[str, int] = {}
        for key in self.ctl.runs.runners:
            busy[key[0]] = busy.get(key[0], 0) + 1
        for job in self.jobs:
            if busy.get(key_of(job.wf)[0], 0) < limit:
                self.jobs.remove(job)
                return job
        return None

    def pump(self) -> None:
        """Start queued workflows while slots are free; mark the rest postponed."""
        ctl, runs = self.ctl, self.ctl.runs
        while self.jobs and len(runs.runners) < ctl.parallelism:
            job = self._next()
            if job is None:
                break
            key = key_of(job.wf)
            if runs.deleted(key):
                runs.finish(key, job.wf)
                continue
            try:
                runs.start(key, job)
            except TiphysError as exc:     # e.g. its executor cannot be had on this machine
                stamp = now_iso()
                job.wf["status"] = {**(job.wf.get("status") or {}), "phase": "Error", "message": str(exc),
                                    "startedAt": stamp, "finishedAt": stamp}
                ctl.store.save_workflow(job.wf)      # it never reached a runner: recorded here
                runs.finish(key, job.wf)
                continue
        for job in self.jobs:
            wf = job.wf
            status = wf.setdefault("status", {"phase": "Pending"})
            if status.get("message") != POSTPONED:
                status["message"] = POSTPONED
                ctl.store.save_workflow(wf)
                ctl.hub.publish("MODIFIED", _copy(wf))

    def suspend(self, key: Key, suspend: bool) -> None:
        """Suspend or un-suspend a queued workflow: its record is all there is of it yet."""
        for job in self.jobs:
            if key_of(job.wf) == key:
                spec = job.wf.setdefault("spec", {})
                if suspend:
                    spec["suspend"] = True
                else:
                    spec.pop("suspend", None)
                self.ctl.store.save_workflow(job.wf)
                self.ctl.hub.publish("MODIFIED", _copy(job.wf))

    def stop(self, key: Key, message: str) -> bool:
        """A stopped queued workflow never runs: it ends Failed at once. False: not queued."""
        for job in list(self.jobs):
            wf = job.wf
            if key_of(wf) == key:
                self.jobs.remove(job)
                stamp = now_iso()
                wf["status"] = {"phase": "Failed", "message": message, "startedAt": stamp, "finishedAt": stamp}
                self.ctl.store.save_workflow(wf)     # it never reached a runner: recorded here
                self.ctl.runs.finish(key, wf)
                return True
        return False


def _copy(wf: dict) -> Any:
    return json.loads(json.dumps(wf))
