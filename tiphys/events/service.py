"""The events side of a `tiphys server`: keeps the stored EventSources listening and the
stored Sensors subscribed, in a thread of its own (its asyncio loop serves every EventSource
port; one worker thread hands events to the Sensors in arrival order, so an HTTP answer never
waits for a trigger).

Looks at the store every second (an API change here wakes it at once). A port that cannot be
opened, an unreadable secret or a failing trigger is recorded on the object's status
(condition Deployed / TriggersReady False with the message), never a crash."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from tiphys.events import sensors, sources, triggers
from tiphys.events.actions import ServerActions

log = logging.getLogger("tiphys.events")

RELOAD_EVERY = 1.0
Key = tuple[str, str]


def _key(obj: dict) -> Key:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "default", meta.get("name") or "")


def _condition(status: dict, kind: str, ok: bool, message: str = "", reason: str = "") -> bool:
    """Set a condition; True when it changed."""
    conds = status.setdefault("conditions", [])
    new = {"type": kind, "status": "True" if ok else "False"}
    if reason:
        new["reason"] = reason
    if message:
        new["message"] = message
    for i, c in enumerate(conds):
        if c.get("type") == kind:
            if {k: c.get(k) for k in new} == new and set(c) - {"lastTransitionTime"} == set(new):
                return False
            conds[i] = {**new, "lastTransitionTime": sensors.now_rfc3339()}
            return True
    conds.append({**new, "lastTransitionTime": sensors.now_rfc3339()})
    return True


class EventService:
    def __init__(self, store: Any, home: Path, controller: Any, host: str = "127.0.0.1"):
        self.store, self.home, self.host = store, Path(home), host
        self.actions = ServerActions(store, controller)
        self.runner = sensors.SensorRunner(self.actions, self._record)
        self._queue: queue.Queue = queue.Queue()
        self._ports: dict[int, tuple[sources.PortApp, Any, asyncio.Task]] = {}
        self._calendars: dict[tuple[Key, str], tuple[str, asyncio.Task]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._threads: list[threading.Thread] = []
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._trigger_state: dict[tuple[Key, str], str | None] = {}
        self._source_state: dict[Key, str | None] = {}
        self.received = 0

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._wake = asyncio.Event()
            loop.call_soon(ready.set)
            loop.run_until_complete(self._main())
            loop.close()
        for target, name in ((serve, "tiphys-events"), (self._work, "tiphys-sensors")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        ready.wait(5)

    def close(self) -> None:
        self._stopping = True
        self.changed()
        self._queue.put(None)
        for t in self._threads:
            t.join(5)

    def changed(self) -> None:
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _main(self) -> None:
        while not self._stopping:
            try:
                await self._reload()
            except Exception:  # noqa: BLE001 - a store hiccup must not end the events service
                log.exception("events: reloading")
            assert self._wake is not None
            try:
                await asyncio.wait_for(self._wake.wait(), RELOAD_EVERY)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
        for _, server, task in self._ports.values():
            server.should_exit = True
        for _, task in self._calendars.values():
            task.cancel()
        await asyncio.gather(*(t for _, _, t in self._ports.values()), *(t for _, t in self._calendars.values()),
                             return_exceptions=True)

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, namespace: str, source: str, event_name: str, type_: str, data: Any) -> None:
        """An EventSource's event, as a Sensor sees it, queued for the Sensors."""
        event = {"context": {"id": uuid.uuid4().hex, "source": source, "specversion": "1.0", "type": type_,
                             "datacontenttype": "application/json", "subject": event_name,
                             "time": sensors.now_rfc3339()},
                 "data": json.loads(json.dumps(data))}
        self.received += 1
        self._queue.put((namespace, source, event_name, event))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self.runner.dispatch(*item)
            except Exception:  # noqa: BLE001
                log.exception("events: dispatching")

    def _record(self, key: Key, trigger: str, error: str | None) -> None:
        """A trigger's outcome on its Sensor's status (written only when it changes)."""
        if self._trigger_state.get((key, trigger), "unset") == error:
            return
        self._trigger_state[(key, trigger)] = error
        sensor = self.store.get_template("Sensor", key[1], key[0])
        if sensor is None:
            return
        status = sensor.setdefault("status", {})
        if error is None:
            failing = [t for (k, t), e in self._trigger_state.items() if k == key and e]
            changed = _condition(status, "TriggersReady", not failing, "; ".join(failing))
        else:
            changed = _condition(status, "TriggersReady", False, f"trigger {trigger!r}: {error}", "TriggerFailed")
        if changed:
            self.store.save_template("Sensor", sensor)

    # -- keeping sources and sensors current -----------------------------------------------------

    async def _reload(self) -> None:
        loop = asyncio.get_running_loop()
        found_sources, found_sensors = await loop.run_in_executor(
            None, lambda: (self.store.list_templates("EventSource"), self.store.list_templates("Sensor")))
        self.runner.set_sensors({_key(s): s for s in found_sensors})
        wanted: dict[int, dict[str, sources.Route]] = {}
        calendars: dict[tuple[Key, str], dict] = {}
        problems: dict[Key, str | None] = {}
        for es in found_sources:
            key = _key(es)
            problems[key] = None
            try:
                for port, endpoint, route in await loop.run_in_executor(None, self._routes_of, es):
                    taken = wanted.setdefault(port, {}).get(endpoint)
                    if taken is not None and (taken.namespace, taken.source) != key:
                        raise ValueError(f"port {port} endpoint {endpoint} is already used by EventSource "
                                         f"{taken.source!r}")
                    wanted[port][endpoint] = route
                for name, spec in ((es.get("spec") or {}).get("calendar") or {}).items():
                    calendars[(key, name)] = spec or {}
            except Exception as exc:  # noqa: BLE001 - recorded on the EventSource
                problems[key] = str(exc)
        for port in list(self._ports):
            if port not in wanted:
                app, server, _ = self._ports.pop(port)
                server.should_exit = True
        for port, routes in wanted.items():
            if port not in self._ports:
                error = await self._listen(port)
                if error:
                    for route in routes.values():
                        problems[(route.namespace, route.source)] = error
                    continue
            self._ports[port][0].routes = routes
        for ck in list(self._calendars):
            sig = json.dumps(calendars.get(ck), sort_keys=True)
            if ck not in calendars or self._calendars[ck][0] != sig:
                self._calendars.pop(ck)[1].cancel()
        for ck, spec in calendars.items():
            if ck not in self._calendars:
                task = asyncio.ensure_future(self._calendar(ck[0], ck[1], spec))
                self._calendars[ck] = (json.dumps(spec, sort_keys=True), task)
        for key, problem in problems.items():
            if self._source_state.get(key, "unset") != problem:
                self._source_state[key] = problem
                await loop.run_in_executor(None, self._source_status, key, problem)

    def _source_status(self, key: Key, problem: str | None) -> None:
        es = self.store.get_template("EventSource", key[1], key[0])
        if es is not None and _condition(es.setdefault("status", {}), "Deployed", problem is None, problem or "",
                                         "" if problem is None else "DeployFailed"):
            self.store.save_template("EventSource", es)

    def _secret(self, namespace: str, ref: Any, what: str) -> str | None:
        if not ref:
            return None
        if not isinstance(ref, dict) or not ref.get("name") or not ref.get("key"):
            raise ValueError(f"{what} must name a secret and a key")
        from tiphys.secrets import SecretLookup, Vault
        value = SecretLookup(Vault(self.store, self.home), namespace).value(str(ref["name"]), str(ref["key"]))
        return value

    def _routes_of(self, es: dict) -> list[tuple[int, str, sources.Route]]:
        ns, name = _key(es)
        spec = es.get("spec") or {}
        out = []
        for type_ in ("webhook", "github"):
            for event_name, cfg in (spec.get(type_) or {}).items():
                cfg = cfg or {}
                hook = cfg.get("webhook") if type_ == "github" else cfg
                hook = hook or {}
                port, endpoint = str(hook.get("port") or ""), str(hook.get("endpoint") or "")
                if not port.isdigit() or not endpoint.startswith("/"):
                    raise ValueError(f"spec.{type_}.{event_name}: port and endpoint (starting with /) are required")
                route = sources.Route(ns, name, event_name, type_, method=str(hook.get("method") or "POST"),
                                      metadata=dict(cfg.get("metadata") or {}),
                                      max_payload=int(hook.get("maxPayloadSize") or sources.MAX_PAYLOAD))
                if type_ == "github":
                    route.secret = self._secret(ns, cfg.get("webhookSecret"), f"spec.github.{event_name}.webhookSecret")
                else:
                    route.auth_token = self._secret(ns, hook.get("authSecret"), f"spec.webhook.{event_name}.authSecret")
                out.append((int(port), endpoint, route))
        return out

    async def _listen(self, port: int) -> str | None:
        import uvicorn
        app = sources.PortApp(self.publish)
        server = uvicorn.Server(uvicorn.Config(app, host=self.host, port=port, log_level="warning",
                                               lifespan="off", access_log=False))

        async def serve() -> None:
            try:
                await server.serve()
            except (SystemExit, OSError) as exc:
                log.warning("events: cannot listen on port %s: %s", port, exc)
        task = asyncio.ensure_future(serve())
        for _ in range(200):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            task.cancel()
            return f"cannot listen on {self.host}:{port} (in use?)"
        self._ports[port] = (app, server, task)
        return None

    async def _calendar(self, key: Key, event_name: str, spec: dict) -> None:
        from tiphys.cron.schedule import go_duration, parse
        try:
            if spec.get("schedule"):
                if str(spec["schedule"]).strip().startswith("@"):
                    raise ValueError("calendar schedules take five fields, not descriptors")
                sched = parse(str(spec["schedule"]), spec.get("timezone") or None)
                step = None
            else:
                step = go_duration(str(spec.get("interval") or ""))
                if step < 1:
                    raise ValueError("interval must be at least 1s")
                sched = None
        except Exception as exc:  # noqa: BLE001
            await asyncio.get_running_loop().run_in_executor(None, self._source_status, key,
                                                             f"calendar {event_name}: {exc}")
            return
        excluded = {str(d).split(":")[-1][:8] for d in spec.get("exclusionDates") or []}
        t = dt.datetime.now(dt.timezone.utc)
        while True:
            t = sched.next(t) if sched is not None else t + dt.timedelta(seconds=step or 1)
            await asyncio.sleep(max(0.0, t.timestamp() - time.time()))
            if t.strftime("%Y%m%d") in excluded:
                continue
            data: dict[str, Any] = {"eventTime": t.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")}
            if spec.get("metadata"):
                data["metadata"] = spec["metadata"]
            self.publish(key[0], key[1], event_name, "calendar", data)


def start_events(store: Any, home: Path, controller: Any, host: str) -> EventService:
    svc = EventService(store, home, controller, host)
    svc.start()
    return svc


__all__ = ["EventService", "start_events", "triggers"]
