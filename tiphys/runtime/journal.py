"""The write-ahead journal that makes a workflow survive a controller crash.

The engine is a pure function of its inputs, so a workflow's state is its submitted manifest
plus the engine's input events in order, each with the time it was handled. The runner
appends them to the store before acting on them; after a crash, `replay` feeds them to a
fresh engine, which rebuilds exactly the state it had (same node ids, same outputs) without
running any step again. Entries (JSON):

  {"t": T, "start": {"suspend": bool, "preset": {...}, "presetOutputs": {...}}}   first entry
  {"t": T, "ev": [[EventType, {fields}], ...]}                                      one handle() call
  {"s": NODE_ID, "w": FOLDER}                          a step's process is about to start (in FOLDER)
  {"p": NODE_ID, "id": {...}}                  its process started: its identity (executors/detached.py)

A step outlives the controller (its process is detached), so a resumed run re-attaches to the
steps that started and never reported their end (`Replayed.running`, with their identity).

One thing is not replayed exactly: an expression calling `now()` reads the clock again.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tiphys.engine import actions as A
from tiphys.engine.core import Engine


def dumps(entry: dict[str, Any]) -> str:
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False)


def encode(events: list[A.Event]) -> list[list[Any]]:
    return [[type(ev).__name__, dataclasses.asdict(ev)] for ev in events]


def decode(items: list[list[Any]]) -> list[A.Event]:
    found: list[A.Event] = []
    for kind, fields in items:
        cls = A.EVENT_TYPES[kind]
        if cls is A.NodesSet:
            fields = {**fields, "output_parameters": tuple(tuple(p) for p in fields.get("output_parameters") or ())}
        found.append(cls(**fields))
    return found


def start_entry(now: float, *, suspend: bool, preset: dict[str, Any] | None,
                preset_outputs: dict[str, Any] | None) -> str:
    start: dict[str, Any] = {"suspend": suspend}
    if preset:
        start["preset"] = preset
    if preset_outputs:
        start["presetOutputs"] = preset_outputs
    return dumps({"t": now, "start": start})


@dataclasses.dataclass
class Replayed:
    engine: Engine
    to_start: list[A.StartPod]        # steps the engine asked for whose process never started
    lost: list[str]                   # steps whose process started and never reported its end
    timers: dict[str, A.SetTimer]     # timers set and not fired
    now: float                        # the time of the last journal entry
    asked: list[A.Action] = dataclasses.field(default_factory=list)   # cache reads, locks not answered yet
    # the `lost` steps, each with its process's identity (None: not journaled) to re-attach to
    running: dict[str, tuple[A.StartPod, dict[str, Any] | None]] = dataclasses.field(default_factory=dict)
    folders: dict[str, Path] = dataclasses.field(default_factory=dict)   # each started step's folder


def replay(entries: list[str], make_engine: Callable[[float, dict[str, Any]], Engine]) -> Replayed:
    """Rebuild the engine from its journal; `make_engine(t0, start)` builds it as the first run did."""
    parsed = [json.loads(e) for e in entries]
    if not parsed or "start" not in parsed[0]:
        raise ValueError("journal does not begin with a start entry")
    t0 = parsed[0]["t"]
    engine = make_engine(t0, parsed[0]["start"])
    pods: dict[str, A.StartPod] = {}
    started: set[str] = set()
    idents: dict[str, dict[str, Any]] = {}
    folders: dict[str, Path] = {}
    timers: dict[str, A.SetTimer] = {}
    asked: dict[str, A.Action] = {}
    now = t0

    def absorb(actions: list[A.Action]) -> None:
        for action in actions:
            if isinstance(action, A.StartPod):
                pods[action.node_id] = action
            elif isinstance(action, A.SetTimer):
                timers[action.key] = action
            elif isinstance(action, A.LookupCache):
                asked[f"cache:{action.node_id}"] = action
            elif isinstance(action, A.AcquireLock):
                asked[f"lock:{action.holder}"] = action
            elif isinstance(action, A.ReleaseLock):
                asked.pop(f"lock:{action.holder}", None)

    absorb(engine.start(t0))
    for entry in parsed[1:]:
        if "s" in entry:
            started.add(entry["s"])
            if entry.get("w"):
                folders[entry["s"]] = Path(entry["w"])
            continue
        if "p" in entry:
            idents[entry["p"]] = entry["id"]
            continue
        events = decode(entry["ev"])
        for ev in events:
            if isinstance(ev, (A.PodExited, A.PodLost)):
                pods.pop(ev.node_id, None)
                started.discard(ev.node_id)
                idents.pop(ev.node_id, None)
            elif isinstance(ev, A.TimerFired):
                timers.pop(ev.key, None)
            elif isinstance(ev, A.CacheResult):
                asked.pop(f"cache:{ev.node_id}", None)
            elif isinstance(ev, A.LockAcquired):
                asked.pop(f"lock:{ev.holder}", None)
        now = entry["t"]
        absorb(engine.handle(events, now))
    lost = [nid for nid in pods if nid in started]
    return Replayed(engine, [a for nid, a in pods.items() if nid not in started], lost, timers, now,
                    list(asked.values()),
                    {nid: (pods[nid], idents.get(nid)) for nid in lost}, folders)
