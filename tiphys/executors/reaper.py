"""Removing the docker executor's step containers: when podGC says, and what others left.

Containers are labelled `tiphys.step` / `tiphys.workflow` / `tiphys.pid` (the Tiphys
process owning them) / `tiphys.podgc`, plus the pod's labels (`spec.podMetadata`, the
template's `metadata.labels`) and `workflows.argoproj.io/workflow`. The workflow's
`podGC` decides when each is removed (executors/podgc.py): at the step's end
(OnPodCompletion, OnPodSuccess), at the workflow's end (`workflow_done`; also when no
podGC is set, see podgc.py for why), or when the workflow is deleted (`forget_workflow`),
always in the background, off the step's critical path (`flush()`/`close()` wait).
When an executor first connects it removes the step containers left by a Tiphys process
of this machine that died (or by this one, for a workflow no longer running here), except
exited ones their podGC keeps and those a journal will re-attach to (`awaited`: their step
folder is still there); one still running that nobody will collect is killed.

`Reaper` does the background removals of one executor; `sweep` the removal of leftovers;
`forget_workflow` that of a deleted workflow's containers. docker.py creates them.
"""
from __future__ import annotations

import concurrent.futures
import logging
import os
import re
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tiphys.executors import podgc

# Logged under the executor's name, as before this module was split out of docker.py.
log = logging.getLogger("tiphys.executors.docker")

LABEL_STEP, LABEL_WORKFLOW, LABEL_OWNER = "tiphys.step", "tiphys.workflow", "tiphys.pid"
LABEL_HOST = "tiphys.host"              # the machine of the owning process
LABEL_WORKFLOW_UID = "tiphys.workflow-uid"  # the run (metadata.uid): names repeat across homes
HOST = socket.gethostname()
LABEL_PODGC = "tiphys.podgc"            # the workflow's podGC (podgc.to_label), for whoever sweeps
LABEL_WORKDIR = "tiphys.workdir"        # the step's folder: while it is there, a journal will collect the step
LABEL_ARGO_WORKFLOW = "workflows.argoproj.io/workflow"   # as on Argo's pods
_running: dict[str, int] = {}     # workflow label -> steps of it running in this process


def hold(workflow: str) -> None:
    """A step of `workflow` starts in this process: its containers are not leftovers."""
    _running[workflow] = _running.get(workflow, 0) + 1


def release(workflow: str) -> None:
    left = _running.get(workflow, 0) - 1
    if left > 0:
        _running[workflow] = left
    else:
        _running.pop(workflow, None)


def remove(ctl, cid: str, what: str = "container") -> bool:
    """Remove the container and its anonymous volumes. False when it could not be (with a
    warning, unless it was gone already)."""
    try:
        ctl.remove_container(cid, force=True, v=True)
        return True
    except Exception as e:
        if getattr(e, "status_code", None) != 404:
            log.warning("could not remove %s %s: %s", what, cid[:12], _explain(e))
        return False


class Reaper:
    """One executor's background removals, on its `pool`, through the client `ctl()` gives."""

    def __init__(self, pool: ThreadPoolExecutor, ctl: Callable[[], Any]):
        self._pool = pool
        self._ctl = ctl
        self._lock = threading.Lock()
        self._removing: set[concurrent.futures.Future] = set()
        self._timers: set[threading.Timer] = set()

    def remove_later(self, cid: str, delay: float = 0.0) -> None:
        """Remove a finished step's container in the background (tracked: `flush` waits),
        after `delay` seconds (podGC.deleteDelayDuration; a delay still pending when the
        executor closes is left to the next one's sweep)."""
        if delay > 0:
            timer = threading.Timer(delay, self._delayed, (cid,))
            timer.daemon = True
            with self._lock:
                self._timers.add(timer)
            timer.start()
            return
        fut = self._pool.submit(self._remove_now, cid)
        with self._lock:
            self._removing.add(fut)
        fut.add_done_callback(self._removed)

    def _delayed(self, cid: str) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive() and t is not threading.current_thread()}
        try:
            self.remove_later(cid)
        except RuntimeError:          # closed meanwhile
            pass

    def _removed(self, fut) -> None:
        with self._lock:
            self._removing.discard(fut)

    def _remove_now(self, cid: str) -> None:
        remove(self._ctl(), cid)

    def workflow_done(self, ctl, workflow: str, gc: podgc.PodGC, phase: str, uid: str = "") -> list[str]:
        """The workflow ended in `phase`: remove the containers of its steps that podGC
        removes now (those of earlier Tiphys processes that ran it too). The ids removed."""
        self.flush()
        found = ctl.containers(all=True, filters={"label": selector(workflow, uid)})
        chosen = [c["Id"] for c in found if gc.at_workflow_end(c.get("Labels") or {}, phase)]
        for cid in chosen:
            self.remove_later(cid, gc.delay)
        return chosen

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until the containers of finished steps are removed."""
        with self._lock:
            pending = list(self._removing)
        if pending:
            concurrent.futures.wait(pending, timeout)

    def cancel_timers(self) -> None:
        """Drop the delayed removals still pending (the next executor's sweep does them)."""
        with self._lock:
            timers, self._timers = self._timers, set()
        for t in timers:
            t.cancel()


def sweep(ctl) -> list[str]:
    """Remove the exited or never-started step containers that nobody will collect: their
    Tiphys process is gone (killed mid-step), or it is this one and their workflow no
    longer runs here; an exited one only where its podGC would not keep it
    (`PodGC.orphan`). Those of another live Tiphys process are left alone. The ids removed."""
    found = ctl.containers(all=True, filters={"label": LABEL_STEP})
    removed = []
    for c in found:
        labels = c.get("Labels") or {}
        owner = str(labels.get(LABEL_OWNER, ""))
        state = str(c.get("State", "")).lower()
        if labels.get(LABEL_HOST, HOST) != HOST or state == "removing":
            continue                  # another machine's (a shared engine): its pids mean nothing here
        if owner.isdigit() and int(owner) != os.getpid() and os.path.exists(f"/proc/{owner}"):
            continue                  # a live Tiphys process (or a reused pid: kept, to be safe)
        if owner == str(os.getpid()):
            if state in ("running", "paused", "restarting") or _running.get(labels.get(LABEL_WORKFLOW, "")):
                continue
        elif awaited(labels):
            continue                  # a pod outlives its controller: the next one re-attaches to it
        elif state in ("running", "paused", "restarting"):
            # its process died mid-step and nobody will collect it (its step folder is gone)
            log.warning("killing step container %s of Tiphys process %s, which is gone", c["Id"][:12], owner)
        else:
            gc = podgc.from_label(labels.get(LABEL_PODGC))
            never_ran = state in ("created", "configured", "initialized")
            if gc is not None and not never_ran and not gc.orphan(labels, _exit_code(c)):
                continue              # kept by its podGC until the workflow is deleted
        if remove(ctl, c["Id"], "leftover container"):
            removed.append(c["Id"])
    if removed:
        log.info("removed %d leftover step container(s) of Tiphys processes that ended", len(removed))
    return removed


def awaited(labels: dict[str, Any]) -> bool:
    """Whether the step of a container whose Tiphys process is gone will be collected: its
    step folder is there (the runtime removes it only once the step's end is journaled, so a
    run resuming the journal re-attaches to the container: docker_attach.py)."""
    folder = str(labels.get(LABEL_WORKDIR) or "")
    return bool(folder) and os.path.isdir(folder)


def _exit_code(listed: dict[str, Any]) -> int | None:
    """A listed container's exit code (podman gives ExitCode; Docker only "Exited (N) ...")."""
    if isinstance(listed.get("ExitCode"), int):
        return listed["ExitCode"]
    m = re.match(r"Exited \((-?\d+)\)", str(listed.get("Status") or ""))
    return int(m.group(1)) if m else None


def selector(workflow: str, uid: str = "") -> str:
    """The label filter for one workflow's containers: its uid where known, for another
    Tiphys home (or a test) on the same engine may run a workflow of the same name."""
    return f"{LABEL_WORKFLOW_UID}={uid}" if uid else f"{LABEL_WORKFLOW}={workflow}"


def forget_workflow(client, workflow: str, uid: str = "") -> int:
    """The workflow is deleted: remove every container of its steps (those podGC kept), as
    Kubernetes deletes a deleted workflow's pods. How many were removed."""
    removed = 0
    try:
        for c in client.containers(all=True, filters={"label": selector(workflow, uid)}):
            removed += remove(client, c["Id"])
    except Exception as e:
        log.warning("could not look for the containers of workflow %s: %s", workflow, _explain(e))
    return removed


def _explain(e: BaseException) -> str:
    """A Docker API error's message (its explanation when it has one)."""
    text = getattr(e, "explanation", None)
    return str(text) if text else f"{type(e).__name__}: {e}"
