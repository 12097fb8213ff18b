"""Drive the pure engine without processes: a scripted pod outcome per template, a fake clock.

    sim = Simulation(yaml_text, outcomes={"fail": Outcome(exit_code=1)})
    sim.run()
    assert sim.phase("C") == "Failed"
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import yaml

from tiphys.engine import actions as A
from tiphys.engine import names, stuck
from tiphys.engine.core import Engine


@dataclass
class Outcome:
    exit_code: int = 0
    stdout: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    duration: float = 1.0
    error: str | None = None
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)   # containerSet reports
    reply: dict[str, Any] | None = None     # an http/data step's answer (see actions.PodExited)
    ready: float = 0.0          # a daemon's pod: seconds from its start to PodStarted
    ip: str = "127.0.0.1"
    unstarted: bool = False                 # the pod could not be created (with `error`)


class Simulation:
    def __init__(self, text: str | dict[str, Any], outcomes: dict[str, Outcome | list[Outcome]] | None = None,
                 registry: dict[tuple[str, str], dict[str, Any]] | None = None, start: float = 1_700_000_000.0,
                 name: str = "wf", preset: dict[str, Any] | None = None, preset_outputs: dict[str, Any] | None = None):
        self.wf = yaml.safe_load(text) if isinstance(text, str) else text
        self.wf.setdefault("metadata", {}).setdefault("name", name)
        self.outcomes = outcomes or {}
        self.now = start
        reg = registry or {}
        self.start_time = start
        self.engine = Engine(self.wf, now=start, registry=lambda kind, n: reg.get((kind, n)), preset=preset,
                             preset_outputs=preset_outputs)
        self.started: list[A.StartPod] = []
        self.max_running = 0
        self._running: dict[str, A.StartPod] = {}
        self._queue: list[tuple[float, int, A.Event]] = []
        self._seq = 0
        self._attempts: dict[str, int] = {}
        # memoize caches, (namespace, configmap) -> key -> entry, kept across simulations when shared
        self.cache: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.lock_limits: dict[str, int] = {}         # lock name -> size (default 1)
        self.lock_holders: dict[str, set[str]] = {}
        self.lock_queue: list[tuple[int, str, int, A.AcquireLock]] = []
        self.lock_log: list[tuple[float, str, str]] = []   # (time, "acquired"/"released", holder)

    def send(self, after: float, event: A.Event) -> None:
        """Deliver `event` (a user's suspend, resume, set, stop...) `after` seconds from the start."""
        self._push(self.start_time + after, event)

    def _push(self, at: float, event: A.Event) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at, self._seq, event))

    def _outcome(self, action: A.StartPod) -> Outcome:
        tname = action.template.get("name", "")
        found = self.outcomes.get(tname, Outcome())
        if isinstance(found, list):
            i = self._attempts.get(tname, 0)
            self._attempts[tname] = i + 1
            return found[min(i, len(found) - 1)]
        return found

    def _apply(self, actions: list[A.Action]) -> None:
        for action in actions:
            if isinstance(action, A.StartPod):
                self.started.append(action)
                self._running[action.node_id] = action
                self.max_running = max(self.max_running, len(self._running))
                out = self._outcome(action)
                if action.template.get("daemon") and out.ready < out.duration:
                    self._push(self.now + out.ready, A.PodStarted(action.node_id, out.ip))
                if action.deadline is not None and action.deadline < out.duration:
                    self._push(self.now + action.deadline, A.PodExited(action.node_id, 137, deadline_exceeded=True))
                else:
                    self._push(self.now + out.duration, A.PodExited(
                        action.node_id, out.exit_code, out.stdout, dict(out.parameters), dict(out.artifacts),
                        error=out.error, containers=dict(out.containers),
                        reply=out.reply, unstarted=out.unstarted))
            elif isinstance(action, A.StopPod):
                self._push(self.now, A.PodExited(action.node_id, 137, stopped=True))
            elif isinstance(action, A.SetTimer):
                self._push(action.at, A.TimerFired(action.key))
            elif isinstance(action, A.LookupCache):
                entry = self.cache.get((action.namespace, action.cache), {}).get(action.key)
                self._push(self.now, A.CacheResult(action.node_id, dict(entry) if entry else None))
            elif isinstance(action, A.SaveCache):
                stamp = names.timestamp(self.now)
                self.cache.setdefault((action.namespace, action.cache), {})[action.key] = {
                    "nodeID": action.node_id, "outputs": action.outputs, "creationTimestamp": stamp,
                    "lastHitTimestamp": stamp}
            elif isinstance(action, A.AcquireLock):
                self._seq += 1
                self.lock_queue.append((-action.priority, action.created, self._seq, action))
                self.lock_queue.sort(key=lambda q: q[:3])
                self._grant()
            elif isinstance(action, A.ReleaseLock):
                self.lock_queue = [q for q in self.lock_queue if q[3].holder != action.holder]
                for holders in self.lock_holders.values():
                    if action.holder in holders:
                        holders.discard(action.holder)
                        self.lock_log.append((self.now, "released", action.holder))
                self._grant()

    def _grant(self) -> None:
        """A fake lock manager: the queue's head takes its locks when all are free, in order."""
        for q in list(self.lock_queue):
            want = q[3]
            full = next((lock for lock in want.locks
                         if len(self.lock_holders.get(lock, ())) >= self.lock_limits.get(lock, 1)), None)
            if full is None:
                self.lock_queue.remove(q)
                for lock in want.locks:
                    self.lock_holders.setdefault(lock, set()).add(want.holder)
                self.lock_log.append((self.now, "acquired", want.holder))
                self._push(self.now, A.LockAcquired(want.holder))
            else:
                limit = self.lock_limits.get(full, 1)
                free = max(0, limit - len(self.lock_holders.get(full, ())))
                self._push(self.now, A.LockWaiting(want.holder, full,
                                                   f"Waiting for {full} lock. Lock status: {free}/{limit}"))

    def run(self, limit: int = 1_000_000) -> dict[str, Any]:
        self._apply(self.engine.start(self.now))
        why = stuck.diagnose(self.engine)
        if why is not None and not self._queue:
            self._push(self.now, A.GiveUp(why))
        steps = 0
        while not self.engine.finished and self._queue and steps < limit:
            at, _, event = heapq.heappop(self._queue)
            self.now = max(self.now, at)
            if isinstance(event, A.PodStarted) and event.node_id not in self._running:
                continue
            if isinstance(event, A.PodExited):
                if event.node_id not in self._running:
                    continue
                del self._running[event.node_id]
            self._apply(self.engine.handle([event], self.now))
            steps += 1
            if not self._queue:   # as the runtime does once no event is pending
                why = stuck.diagnose(self.engine)
                if why is not None:
                    self._push(self.now, A.GiveUp(why))
        return self.wf

    # --- reading the result
    @property
    def status(self) -> dict[str, Any]:
        return self.wf["status"]

    def nodes(self, display: str) -> list[dict[str, Any]]:
        return [n for n in self.status["nodes"].values() if n["displayName"] == display]

    def phase(self, display: str) -> str:
        found = {n["phase"] for n in self.nodes(display)}
        assert len(found) == 1, f"{display}: {found}"
        return found.pop()

    def pods(self) -> list[dict[str, Any]]:
        return [n for n in self.status["nodes"].values() if n["type"] == "Pod"]
