"""Sensors: which events a Sensor depends on, which pass its filters, when a trigger's
conditions hold, and running the trigger (argoWorkflow, k8s, log) — Argo Events' sensor
logic, fed by the EventSources of this server instead of an EventBus.

Each trigger keeps the latest passing event of every dependency it names; when its
`conditions` (default: all the Sensor's dependencies) hold, it fires with those events, which
are then used up. A failing trigger is logged and recorded on the Sensor's status
(condition TriggersReady False with the message); it never stops the Sensor."""
from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from tiphys.events import filters, triggers
from tiphys.expr import exprlang

log = logging.getLogger("tiphys.events")

Key = tuple[str, str]
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def condition_holds(expression: str | None, deps: list[str], have: set[str]) -> bool:
    """`conditions` over dependency names (which may contain `-`), with && || ! ( )."""
    if not expression:
        return all(d in have for d in deps)
    env, names = {}, {}

    def ident(match: re.Match) -> str:
        name = match.group(0)
        if name in ("true", "false"):
            return name
        if name not in names:
            names[name] = f"d{len(names)}"
            env[names[name]] = name in have
        return names[name]
    return exprlang.evaluate(_NAME.sub(ident, expression), env) is True


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class SensorRunner:
    """The Sensors of a server. `set_sensors` replaces them (keeping each trigger's waiting
    events while its Sensor is unchanged); `dispatch` gives one event to every Sensor that
    depends on it. `record(key, trigger, error)` keeps a trigger's outcome on the Sensor."""

    def __init__(self, actions: triggers.Actions, record: Callable[[Key, str, str | None], None]):
        self.actions, self.record = actions, record
        self._sensors: dict[Key, dict] = {}
        self._waiting: dict[tuple[Key, str], dict[str, dict]] = {}
        self._lock = threading.Lock()
        self.fired = 0

    def set_sensors(self, sensors: dict[Key, dict]) -> None:
        with self._lock:
            for key, old in self._sensors.items():
                if sensors.get(key, {}).get("spec") != old.get("spec"):
                    for wkey in [w for w in self._waiting if w[0] == key]:
                        del self._waiting[wkey]
            self._sensors = dict(sensors)

    def dispatch(self, namespace: str, source: str, event_name: str, event: dict) -> int:
        """Give the event to the Sensors; returns how many triggers fired."""
        fired = []
        with self._lock:
            for key, sensor in self._sensors.items():
                if key[0] != namespace:
                    continue
                spec = sensor.get("spec") or {}
                deps = [d for d in spec.get("dependencies") or [] if isinstance(d, dict)]
                matched = []
                for dep in deps:
                    if dep.get("eventSourceName") != source or dep.get("eventName") != event_name:
                        continue
                    try:
                        ok = filters.passes(dep.get("filters"), event, operator=dep.get("filtersLogicalOperator"))
                    except Exception as exc:  # noqa: BLE001 - a filter error drops the event
                        log.warning("sensor %s/%s: filter of %s: %s", *key, dep.get("name"), exc)
                        ok = False
                    if ok:
                        matched.append(str(dep.get("name")))
                if not matched:
                    continue
                names = [str(d.get("name")) for d in deps]
                for trigger in spec.get("triggers") or []:
                    tname = str((trigger.get("template") or {}).get("name") or "")
                    waiting = self._waiting.setdefault((key, tname), {})
                    for dep_name in matched:
                        waiting[dep_name] = event
                    cond = (trigger.get("template") or {}).get("conditions")
                    try:
                        holds = condition_holds(cond, names, set(waiting))
                    except Exception as exc:  # noqa: BLE001
                        self.record(key, tname, f"conditions {cond!r}: {exc}")
                        continue
                    if holds:
                        fired.append((key, sensor, trigger, tname, dict(waiting)))
                        waiting.clear()
        for key, sensor, trigger, tname, events in fired:
            self._fire(key, sensor, trigger, tname, events)
        return len(fired)

    def _fire(self, key: Key, sensor: dict, trigger: dict, tname: str, events: dict[str, dict]) -> None:
        try:
            triggers.with_retries(trigger, lambda: triggers.execute(trigger, events, sensor, self.actions))
        except triggers.TriggerError as exc:
            log.warning("sensor %s/%s: trigger %s failed: %s", *key, tname, exc)
            self.record(key, tname, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - whatever goes wrong is the trigger's failure
            log.warning("sensor %s/%s: trigger %s failed: %s", *key, tname, exc)
            self.record(key, tname, f"failed to execute trigger: {exc}")
            return
        self.fired += 1
        self.record(key, tname, None)
