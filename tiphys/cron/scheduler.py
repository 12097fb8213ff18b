"""The cron controller of a `tiphys server` / `tiphys controller`: a thread that fires each
CronWorkflow's schedules and keeps its status, as Argo's `workflow/cron` does.

Several controllers may share one store (PostgreSQL): each fires every tick, but a tick
becomes a run only for the controller that claims it first. The claim is the lease row of the
run's workflow name `<cron>-<unix seconds>` (one INSERT ... ON CONFLICT in a transaction), taken
before the workflow exists; whoever loses the claim, or finds the workflow there (a double
tick, a catch-up after a restart), submits nothing. Status counters (succeeded/failed, the
history limits) are kept by one controller per CronWorkflow, the holder of lease `cron/<name>`.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from tiphys.cron import runs
from tiphys.cron.schedule import Schedule
from tiphys.errors import TiphysError
from tiphys.store.sqlite import COMPLETED_PHASES, Store, now_iso

log = logging.getLogger("tiphys.cron")

KIND = "CronWorkflow"
RELOAD_EVERY = 1.0     # seconds between looks at the stored CronWorkflows (an API change wakes it at once)
SYNC_EVERY = 2.0       # Argo's CRON_SYNC_PERIOD is 10 s; active/counters/history are cheap here

Key = tuple[str, str]


def _utc(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.timezone.utc)


class CronScheduler:
    """`submit(wf) -> dict` creates a Workflow (lint + the controller's submit);
    `terminate(ns, name)` and `delete(ns, name)` act on a run."""

    def __init__(self, store: Store, owner: str, *, submit: Callable[[dict], dict],
                 terminate: Callable[[str, str], Any], delete: Callable[[str, str], Any], lease_ttl: float = 15.0):
        self.store, self.owner, self.lease_ttl = store, owner, lease_ttl
        self._submit, self._terminate, self._delete = submit, terminate, delete
        self._entries: dict[Key, list[tuple[Schedule, dt.datetime]]] = {}
        self._signature: dict[Key, str] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.drift: list[float] = []        # seconds between a tick's scheduled time and its firing

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="tiphys-cron", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(5)

    def changed(self) -> None:
        """A CronWorkflow was created, updated or deleted here: look again now."""
        self._wake.set()

    # -- the loop -----------------------------------------------------------------------------

    def _serve(self) -> None:
        next_reload = next_sync = 0.0
        while not self._stop.is_set():
            now = time.time()
            try:
                if now >= next_reload or self._wake.is_set():
                    self._wake.clear()
                    self._reload()
                    next_reload = now + RELOAD_EVERY
                self._fire_due()
                if time.time() >= next_sync:
                    for key in list(self._entries):
                        self._sync(key)
                    next_sync = time.time() + SYNC_EVERY
            except Exception:   # a store hiccup must not end the scheduler
                log.exception("cron scheduler")
            due = min((t.timestamp() for entries in self._entries.values() for _, t in entries), default=None)
            wait = min(x for x in (next_reload, next_sync, due) if x is not None) - time.time()
            if wait > 0:
                self._wake.wait(wait)

    def _reload(self) -> None:
        found = {}
        for cron in self.store.list_templates(KIND):
            meta = cron.get("metadata") or {}
            found[(meta.get("namespace") or "default", meta.get("name") or "")] = cron
        for key in list(self._entries):
            if key not in found:
                del self._entries[key]
                self._signature.pop(key, None)
        now = dt.datetime.now(dt.timezone.utc)
        for key, cron in found.items():
            sig = json.dumps([(cron.get("metadata") or {}).get("uid"), cron.get("spec")], sort_keys=True)
            if self._signature.get(key) == sig:
                continue
            self._signature[key] = sig        # added or updated: entries again, then the missed-run check
            try:
                self._entries[key] = [(s, s.next(now)) for s in runs.schedules(cron)]
            except TiphysError as exc:
                self._entries[key] = []
                self._save_status(key, lambda c, m=str(exc): runs.condition(c.setdefault("status", {}),
                                                                           "SpecError", m))
                continue
            try:
                missed = runs.missed_run(cron, now)
            except TiphysError:
                missed = None
            if missed is not None:
                log.info("%s/%s: catching up the run missed at %s", key[0], key[1], missed)
                self._run(key, missed)

    def _fire_due(self) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        for key, entries in list(self._entries.items()):
            due = [t for _, t in entries if t <= now]
            if not due:
                continue
            t = max(due)   # Argo: the latest Entry.Prev of the cron's entries
            self.drift.append(now.timestamp() - t.timestamp())
            self._entries[key] = [(s, s.next(max(now, nt)) if nt <= now else nt) for s, nt in entries]
            self._run(key, t)

    # -- one tick -----------------------------------------------------------------------------

    def _run(self, key: Key, t: dt.datetime) -> None:
        cron = self.store.get_template(KIND, key[1], key[0])
        if cron is None:
            return
        spec = cron.get("spec") or {}
        meta = cron.setdefault("metadata", {})
        annotations = meta.setdefault("annotations", {})
        annotations[runs.LAST_USED_SCHEDULE] = runs.last_used(cron)
        status = cron.setdefault("status", {})
        now = dt.datetime.now(dt.timezone.utc)
        try:
            runs.validate(cron)
            runs.condition(status, "SpecError", None)
            if self._stopped(cron, now):
                return self._persist(key, cron)
            if spec.get("suspend") or status.get("phase") == "Stopped":
                return self._persist(key, cron)
            if not runs.should_run(cron, now):
                return self._persist(key, cron)
        except TiphysError as exc:
            runs.condition(status, "SpecError", str(exc))
            return self._persist(key, cron)
        active = self._active(key)
        policy = spec.get("concurrencyPolicy") or "Allow"
        if active and policy == "Forbid":
            return self._persist(key, cron)
        wf = runs.new_workflow(cron, t.astimezone(runs.schedules(cron)[0].tz))
        name = wf["metadata"]["name"]
        if self.store.workflow_phase(name, key[0]) is not None:
            return self._persist(key, cron)     # already run (a double tick, or another controller)
        if not self.store.claim(key[0], name, self.owner, self.lease_ttl):
            return                              # another controller fires this tick
        if self.store.workflow_phase(name, key[0]) is not None:
            return
        if policy == "Replace":
            for ref in active:
                self._terminate(key[0], ref["name"])
        try:
            wf["metadata"]["uid"] = str(uuid.uuid4())
            wf["metadata"]["creationTimestamp"] = now_iso()
            created = self._submit(wf)
        except Exception as exc:  # noqa: BLE001 - recorded on the CronWorkflow as Argo does
            self.store.release(key[0], name, self.owner)
            runs.condition(status, "SubmissionError", f"Failed to submit Workflow: {exc}")
            status["failed"] = int(status.get("failed") or 0) + 1
            return self._persist(key, cron)
        status["active"] = [r for r in (status.get("active") or []) if r.get("name") != name] + \
            [runs.active_ref(created)]
        status["lastScheduledTime"] = runs.rfc3339(_utc(t))
        status["phase"] = "Active"
        runs.condition(status, "SubmissionError", None)
        self._persist(key, cron)

    def _stopped(self, cron: dict, now: dt.datetime) -> bool:
        if not runs.should_stop(cron, now):
            return False
        cron["status"]["phase"] = "Stopped"
        cron["metadata"].setdefault("labels", {})[runs.COMPLETED] = "true"
        return True

    def _persist(self, key: Key, cron: dict) -> None:
        """Write status, labels and annotations onto the stored object (its spec may have
        changed meanwhile: that is kept), as Argo's merge patch does."""
        def apply(stored: dict) -> None:
            stored["status"] = cron.get("status") or {}
            meta = stored.setdefault("metadata", {})
            meta["labels"] = {**(meta.get("labels") or {}), **((cron.get("metadata") or {}).get("labels") or {})}
            meta["annotations"] = {**(meta.get("annotations") or {}),
                                   **((cron.get("metadata") or {}).get("annotations") or {})}
        self._save_status(key, apply)

    def _save_status(self, key: Key, apply: Callable[[dict], Any]) -> None:
        stored = self.store.get_template(KIND, key[1], key[0])
        if stored is None:
            return
        apply(stored)
        if not stored.get("status"):
            stored.pop("status", None)
        self.store.save_template(KIND, stored)

    # -- sync: active, counters, history ------------------------------------------------------

    def _children(self, key: Key) -> list[dict]:
        found, after = [], None
        while True:
            page, after = self.store.list_page(namespace=key[0], labels={runs.CRON_LABEL: key[1]}, limit=500,
                                               after=after)
            found += page
            if after is None:
                return found

    def _active(self, key: Key) -> list[dict]:
        return [runs.active_ref(w) for w in self._children(key)
                if ((w.get("status") or {}).get("phase") or "Pending") not in COMPLETED_PHASES]

    def _sync(self, key: Key) -> None:
        if not self.store.claim(key[0], f"cron/{key[1]}", self.owner, self.lease_ttl):
            return          # another controller keeps this CronWorkflow's status
        cron = self.store.get_template(KIND, key[1], key[0])
        if cron is None:
            return
        status = cron.setdefault("status", {})
        before = json.dumps(status, sort_keys=True), json.dumps(cron["metadata"].get("labels"), sort_keys=True)
        children = self._children(key)
        listed = {r.get("name") for r in status.get("active") or []}
        phases = {w["metadata"]["name"]: (w.get("status") or {}).get("phase") or "Pending" for w in children}
        active = []
        for ref in status.get("active") or []:
            phase = phases.get(ref.get("name"))
            if phase in COMPLETED_PHASES:
                field = "succeeded" if phase == "Succeeded" else "failed"
                status[field] = int(status.get(field) or 0) + 1
            elif phase is not None:
                active.append(ref)
        for w in children:
            if w["metadata"]["name"] not in listed and phases[w["metadata"]["name"]] not in COMPLETED_PHASES:
                active.append(runs.active_ref(w))
        if active:
            status["active"] = active
        else:
            status.pop("active", None)
        self._trim_history(cron, children)
        try:
            self._stopped(cron, dt.datetime.now(dt.timezone.utc))
        except TiphysError:
            pass
        after = json.dumps(status, sort_keys=True), json.dumps(cron["metadata"].get("labels"), sort_keys=True)
        if after != before:
            self._persist(key, cron)

    def _trim_history(self, cron: dict, children: list[dict]) -> None:
        ok_limit, bad_limit = runs.history_limits(cron)
        ns = (cron.get("metadata") or {}).get("namespace") or "default"

        def finished(w: dict) -> str:
            return (w.get("status") or {}).get("finishedAt") or ""
        ok = sorted((w for w in children if (w.get("status") or {}).get("phase") == "Succeeded"),
                    key=finished, reverse=True)
        bad = sorted((w for w in children if (w.get("status") or {}).get("phase") in ("Failed", "Error")),
                     key=finished, reverse=True)
        for w in ok[ok_limit:] + bad[bad_limit:]:
            try:
                self._delete(ns, w["metadata"]["name"])
            except Exception:  # noqa: BLE001 - tried again at the next sync
                log.exception("%s: deleting a run beyond the history limit", w["metadata"]["name"])
