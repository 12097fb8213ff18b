"""Which workflows this controller holds, and the requests of other processes for them.

Leases (server/leases.py): a workflow queued or running here is "mine" and its lease is
renewed every LEASE_TTL / 3 s. On start, and every `adopt_every` seconds after (at once when
the store says a workflow was submitted elsewhere), the controller takes over the workflows no
live controller holds: a Running one is resumed from its journal and re-attaches to its steps,
a Pending one is queued. Requests from other processes (an API-only server, another
controller's API) come through the store as commands; its notices (notices.py) bring them at
once, a poll is the safety net.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tiphys.server.leases import Key, claim_orphans, key_of
from tiphys.server.controller.queue import Job
from tiphys.store import ttl

if TYPE_CHECKING:
    from tiphys.server.controller import Controller

log = logging.getLogger("tiphys.server")

COMMAND_POLL = 0.25     # how often a controller looks for requests other processes left for it
COMMAND_POLL_LISTENING = float(os.environ.get("TIPHYS_COMMAND_POLL_LISTENING") or 5.0)  # with notices: a safety net
# a controller without an API of its own looks for new work this often (on PostgreSQL a
# submission's notice wakes it at once; this finds what no notice announced)
ADOPT_EVERY = float(os.environ.get("TIPHYS_ADOPT_EVERY") or 1.0)


class Adoption:
    """The workflows held here ("mine": queued or running), their leases, and commands."""

    def __init__(self, ctl: Controller):
        self.ctl = ctl
        self._mine: set[Key] = set()      # queued or running here (from submit, before it is queued)
        self._lock = threading.Lock()

    # -- what is mine (any thread) ------------------------------------------------------------

    def live(self, key: Key) -> bool:
        with self._lock:
            return key in self._mine

    def take(self, key: Key) -> bool:
        """Count a workflow as queued or running here; False when it already was."""
        with self._lock:
            if key in self._mine:
                return False
            self._mine.add(key)
            return True

    def let_go(self, key: Key) -> None:
        """The workflow is no longer ours: forget it and release its lease."""
        with self._lock:
            self._mine.discard(key)
        try:
            self.ctl.store.release(key[0], key[1], self.ctl.owner)
        except Exception:  # noqa: BLE001 - an expired lease is as good
            log.exception("releasing %s/%s", *key)

    def hand_over(self) -> list[Key]:
        """Stop counting anything as ours (the controller stops); what was ours."""
        with self._lock:
            mine = list(self._mine)
            self._mine.clear()
        return mine

    # -- looks on the controller's loop -------------------------------------------------------

    def adopt(self, again: bool = True) -> None:
        """Take over every workflow of ours that no live controller holds (at start: the ones a
        crashed or stopped server left), then look again every `adopt_every` seconds (and at
        once when the store says a workflow was submitted elsewhere)."""
        ctl = self.ctl
        try:
            for wf, resume in claim_orphans(ctl.store, ctl.owner, ctl.lease_ttl, held=self.live, take=self.take):
                log.info("taking over %s/%s (%s)", *key_of(wf), "resume" if resume else "start")
                ctl.queue.enqueue(Job(wf, resume=resume))
            for key in ttl.expired(ctl.store, time.time()):    # spec.ttlStrategy (store/ttl.py)
                if not self.live(key):
                    ctl.runs.forget(key)
        except Exception:  # noqa: BLE001 - try again at the next look
            log.exception("adopting workflows")
        if again:
            asyncio.get_running_loop().call_later(ctl.adopt_every, self.adopt)

    def commands(self, again: bool = True) -> None:
        """Act on the requests other processes left in the store for workflows this controller
        holds: when the store says so, and every COMMAND_POLL seconds (COMMAND_POLL_LISTENING
        when it sends notices)."""
        ctl = self.ctl
        try:
            for namespace, name, body in ctl.store.take_commands(ctl.owner):
                self._command((namespace, name), json.loads(body))
        except Exception:  # noqa: BLE001
            log.exception("taking commands")
        if again:
            every = COMMAND_POLL_LISTENING if ctl.notices.listening else COMMAND_POLL
            asyncio.get_running_loop().call_later(every, self.commands)

    def _command(self, key: Key, cmd: dict) -> None:
        from tiphys.runtime import journal
        runs = self.ctl.runs
        op = cmd.get("op")
        if op == "stop":
            self.ctl.spawn(runs.stop(key, cmd.get("message") or "Stopped", bool(cmd.get("terminate"))))
        elif op == "delete":
            runs.mark_deleted_remote(key)
            self.ctl.spawn(runs.stop(key, "Stopped: the workflow was deleted", True))
        elif op == "events":
            self.ctl.spawn(runs.deliver(key, journal.decode(cmd.get("events") or []), cmd.get("suspend")))
        else:
            log.warning("ignoring unknown command %r for %s/%s", op, *key)

    def renew(self) -> None:
        try:
            self.ctl.store.renew(self.ctl.owner, self.ctl.lease_ttl)
        except Exception:  # noqa: BLE001
            log.exception("renewing leases")
        asyncio.get_running_loop().call_later(self.ctl.lease_ttl / 3, self.renew)

    def wake(self, look: Callable[[bool], None]) -> None:
        """(The store's listener thread.) Look for commands or new work now, once."""
        if self.ctl.runs_workflows and self.ctl.loop is not None:
            self.ctl.call(look, False)
