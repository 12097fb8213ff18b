"""The thin shell around the engine: one asyncio loop that feeds events in and acts on the
engine's actions (start and stop steps, timers), persisting the workflow as it goes.

Whoever runs a `Runner` drives it only through its control surface: `send` (events for the
engine), `stop`, `interrupt`, `drain` and `snapshot`. Process-wide policy is the caller's: the
runner installs no signal handler (`tiphys run`, the composition root, maps SIGINT/SIGTERM
to `interrupt`). The runner owns the workflow's last write: its forced save when the run ends.

Reacts to a process exit at once (no polling on the hot path); batches every event that
is ready into one engine call and saves the workflow to the store at most a few times a
second.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tiphys.artifacts.repos import Repositories
from tiphys.engine import actions as A
from tiphys.engine import podspecpatch, stuck
from tiphys.engine.core import Engine
from tiphys.errors import TiphysError
from tiphys.executors import detached, podgc
from tiphys.executors.base import Executor
from tiphys.spec import models
from tiphys.runtime import (admission, agent, artifacts, containerset, daemons, dryrun, journal, reattach,
                            resources, sidecars, steps, wholepod)
from tiphys.runtime.runjournal import RunJournal
from tiphys.runtime.shared import Shared

log = logging.getLogger("tiphys.runtime")
SAVE_EVERY = 0.5
SETUP_TRIES = 3
STOP_GRACE = 5.0     # seconds a stopped workflow has to finish before the run ends anyway
INTERRUPTED = "Stopped by user: interrupted (Ctrl-C)"
LOST = "step process lost: the Tiphys controller stopped while it ran"


def run(wf: models.Workflow, *, store: Any, home: Path, on_update: Callable[[dict[str, Any]], None] | None = None,
        dry_run: bool = False, executor: Executor | None = None, mocks: dict[str, dict[str, Any]] | None = None,
        plan: Callable[[str, list[str]], None] | None = None, preset: dict[str, Any] | None = None,
        preset_outputs: dict[str, Any] | None = None,
        on_pod: Callable[[A.StartPod, dict[str, Any], dict[str, Any]], None] | None = None,
        on_start: Callable[[Runner], None] | None = None, journal: bool = False,
        resume: bool = False) -> models.Workflow:
    """Run a Workflow to its end; returns the final Workflow dict (also saved in `store`).

    With `dry_run`, no process starts: each step "succeeds" at once with the outputs that
    `mocks[template]` gives (stdout, parameters, exit_code), and `plan(pod, argv)` is told
    the command it would have run. `preset`/`preset_outputs`: an earlier run's nodes to keep
    (retry, see engine/rerun.py). `on_pod(action, node, spec)` is told of each step a dry run
    pretends to run, with its node and the workflow's effective spec (`tiphys pods`); when it
    answers true and an `executor` is given, that step runs for real instead.
    `on_start(runner)`: called on the run's loop before it begins (`tiphys run` installs its
    signal handlers there). `journal`/`resume`: as for `Runner` (crash-safe; continue from the
    journal)."""
    if executor is None and not dry_run:
        from tiphys.executors.local import LocalExecutor
        executor = LocalExecutor()
    runner = Runner(wf, store=store, home=Path(home), on_update=on_update, dry_run=dry_run, executor=executor,
                    preset=preset, preset_outputs=preset_outputs, journal=journal, resume=resume)
    runner.mocks, runner.plan, runner.on_pod = mocks or {}, plan, on_pod
    runner.inline_io = True

    async def main() -> models.Workflow:
        if on_start is not None:
            on_start(runner)
        return await runner.main()
    return asyncio.run(main())


class Runner:
    def __init__(self, wf: models.Workflow, *, store: Any, home: Path,
                 on_update: Callable[[dict[str, Any]], None] | None, dry_run: bool, executor: Executor | None,
                 preset: dict[str, Any] | None = None, preset_outputs: dict[str, Any] | None = None,
                 journal: bool = False, resume: bool = False):
        """`journal`: write every engine input to the store first (crash-safe, see journal.py);
        `resume`: rebuild the state from that journal instead of starting afresh."""
        self.wf, self.store, self.home, self.on_update = wf, store, home, on_update
        self.preset, self.preset_outputs = preset, preset_outputs
        self.journal, self.resume = journal or resume, resume
        self.observe: Callable[[float], None] | None = None   # told how long each engine call took
        self.hold = False          # draining: start no new step (the journal has it; whoever resumes starts it)
        self.dry_run, self.executor = dry_run, executor
        self.repo = Repositories(home, None, wf["metadata"])   # resolved when the run begins (main)
        meta = wf["metadata"]
        self.prefix = f"{meta.get('namespace') or 'default'}/{meta['name']}"
        self.events: asyncio.Queue[A.Event] = asyncio.Queue()
        self.handles: dict[str, Any] = {}
        self.deadlines: set[str] = set()
        self.stop_on_start: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.last_save = 0.0
        self.save_cost = 0.0
        self.pending_logs: list[tuple[str, str, str, str, str]] = []
        self.pending_cleanup: list[Path] = []
        self.cleaning: list[Any] = []       # step folders being removed in the background
        self.ended: dict[str, tuple[tuple[str, str, str, str, str], Path]] = {}   # step ends not yet journaled
        self.mocks: dict[str, dict[str, Any]] = {}
        self.plan: Callable[[str, list[str]], None] | None = None
        self.on_pod: Callable[[A.StartPod, dict[str, Any], dict[str, Any]], None] | None = None
        self.spec: dict[str, Any] = {}          # the workflow's effective spec, once it began
        self.pod_gc = podgc.PodGC()
        self.pod_labels: dict[str, str] = {}
        self.stop_by: float | None = None      # loop time by which a stopped run ends, finished or not
        self.stop_message = ""
        self.dry_daemons: set[str] = set()
        self.acks: list[asyncio.Future[None]] = []   # `send`s waiting for their events to be handled
        self.inline_io = False     # journal writes and artifact-free step I/O on the loop (`run`: one workflow)
        self.journaled = RunJournal(store, meta, lambda: self.inline_io)   # this run's journal writes
        # memoize caches and locks, shared with other runs (a controller sets `shared.locks`)
        self.shared = Shared(store, self.prefix, self.events.put_nowait, self._spawn, dry_run)
        self.starting: dict[str, asyncio.Task[None]] = {}   # node id -> the task running its step
        self.unadmitted: set[str] = set()      # steps waiting for room in their namespace's quota

    # ------------------------------------------------------------- control surface
    # (all of them on the run's own loop)
    def interrupt(self, message: str = INTERRUPTED) -> None:
        """Ctrl-C / SIGTERM: stop the workflow; the run ends within STOP_GRACE seconds even if
        the engine does not finish (a second interrupt ends it at once)."""
        loop = asyncio.get_running_loop()
        if self.stop_by is None:
            self.stop_by = loop.time() + STOP_GRACE
            self.stop_message = message
            self.events.put_nowait(A.StopRequested(message, terminate=True))
        else:
            self.stop_by = loop.time()

    def send(self, events: Sequence[A.Event]) -> asyncio.Future[None]:
        """Hand events to the engine (suspend, resume, node set, stop...), handled in the next
        batch; the future is done once they are (and `on_update` has seen the result), or the
        run ended."""
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for ev in events:
            self.events.put_nowait(ev)
        self.acks.append(ack)
        return ack

    def stop(self, message: str, *, terminate: bool) -> asyncio.Future[None]:
        """`argo stop` / `argo terminate`: the engine stops the workflow's steps."""
        return self.send([A.StopRequested(message, terminate=terminate)])

    def snapshot(self) -> dict[str, Any]:
        """A copy of the workflow as it stands."""
        return json.loads(json.dumps(self.wf))

    async def drain(self, timeout: float = STOP_GRACE) -> None:
        """Hand the workflow over (a controller shutting down): start no new step, let go of the
        running ones (they run on, detached; whoever resumes the journal re-attaches to them)
        and save the workflow as it stands. The caller then cancels `main`."""
        self.hold = True
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout)
        self._save(force=True)
        self._acknowledge()

    def _acknowledge(self, acks: list[asyncio.Future[None]] | None = None) -> None:
        if acks is None:
            acks, self.acks = self.acks, []
        for ack in acks:
            if not ack.done():
                ack.set_result(None)

    async def main(self) -> dict[str, Any]:
        try:
            return await self._main()
        finally:
            self._acknowledge()     # the run is over: nobody waits for it any more

    async def _main(self) -> dict[str, Any]:
        meta = self.wf["metadata"]
        meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        meta.setdefault("namespace", "default")
        try:
            if not self.dry_run:
                self.repo = artifacts.for_workflow(self.wf, self.store, self.home)
            engine = self._resume() if self.resume else self._begin()
            if self.repo.ref is not None:
                self.wf.setdefault("status", {})["artifactRepositoryRef"] = self.repo.ref
            self.spec = engine.spec
            self.pod_gc = podgc.parse(engine.spec.get("podGC"))
            self.pod_labels = _labels((engine.spec.get("podMetadata") or {}).get("labels"))
        except TiphysError as exc:
            self.wf["status"] = {"phase": "Error", "message": str(exc), "nodes": {},
                                 "startedAt": meta["creationTimestamp"], "finishedAt": meta["creationTimestamp"]}
            self._save(force=True)
            return self.wf
        self._save(force=True)
        while not engine.finished:
            if self.events.empty() and not self.busy() and not self.hold:
                why = stuck.diagnose(engine)   # nothing will ever send an event: end it
                if why is not None:
                    self.events.put_nowait(A.GiveUp(why))
            batch = await self._next_batch()
            if batch is None:
                await self._abandon(engine)
                break
            acks, self.acks = self.acks, []    # sent before this batch was taken: in it
            now = time.time()
            if self.journal:   # write-ahead; in a worker thread (unless inline_io), so other runs go on meanwhile
                await self.journaled.append({"t": now, "ev": journal.encode(batch)})
            began = time.perf_counter()
            actions = engine.handle(batch, now)
            for ev in batch:
                done = self.ended.pop(ev.node_id, None) if isinstance(ev, A.PodExited) else None
                if done is not None:
                    self.pending_logs.append(done[0])
                    self.pending_cleanup.append(done[1])
            if self.observe is not None:
                self.observe(time.perf_counter() - began)
            self._apply(actions)
            self._save(force=engine.finished)
            self._acknowledge(acks)
        for t in self.timers.values():
            t.cancel()
        await self.shared.release_all(keep=self.hold)
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=None if self.stop_by is None else STOP_GRACE)
        if not self.dry_run:    # volumeClaimTemplates folders, as Argo's volumeClaimGC deletes the PVCs
            await asyncio.to_thread(steps.release_volumes, self.home, self.wf, engine.spec)
            if engine.finished and artifacts.gc.wanted(self.wf, artifacts.gc.COMPLETION):
                await asyncio.to_thread(artifacts.gc.collect, self.wf, self.repo, artifacts.gc.COMPLETION)
                self._save(force=True)
            phase = (self.wf.get("status") or {}).get("phase")
            done = getattr(self.executor, "workflow_done", None)
            if done is not None and engine.finished and phase in ("Succeeded", "Failed", "Error"):
                try:     # the containers podGC removes when the workflow ends
                    await asyncio.to_thread(done, meta["name"], self.pod_gc, phase, str(meta.get("uid") or ""))
                except Exception:  # noqa: BLE001 - a container left behind must not fail the run
                    log.exception("removing the containers of %s", meta["name"])
        if self.cleaning:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in self.cleaning))
            self.cleaning.clear()
        return self.wf

    async def _next_batch(self) -> list[A.Event] | None:
        """Every event that is ready (waiting for one first); None once a stop's grace is over."""
        loop = asyncio.get_running_loop()
        while True:
            if self.stop_by is None:
                batch = [await self.events.get()]
                break
            left = self.stop_by - loop.time()
            if left <= 0:
                return None
            try:   # wake now and then: a second interrupt shortens the grace
                batch = [await asyncio.wait_for(self.events.get(), min(left, 0.2))]
                break
            except asyncio.TimeoutError:
                continue
        while not self.events.empty():
            batch.append(self.events.get_nowait())
        return batch

    async def _abandon(self, engine: Engine) -> None:
        """The engine did not finish in time after a stop: kill every step, record the
        workflow Failed as it stands, and let the run end."""
        log.warning("workflow %s did not finish within %s s of being stopped; ending it", self.prefix, STOP_GRACE)
        stops = [asyncio.ensure_future(h.stop(grace=0.0)) for h in list(self.handles.values())]
        if stops:
            await asyncio.wait(stops, timeout=STOP_GRACE)
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=STOP_GRACE)
        message = self.stop_message or INTERRUPTED
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status = self.wf.setdefault("status", {})
        for node in (status.get("nodes") or {}).values():
            if node.get("phase") in ("Pending", "Running"):
                node.update(phase="Failed", message=message, finishedAt=stamp)
                node["startedAt"] = node.get("startedAt") or stamp
        status.update(phase="Failed", message=message, finishedAt=stamp)
        engine.finished = True
        for entry, workdir in self.ended.values():
            self.pending_logs.append(entry)
            self.pending_cleanup.append(workdir)
        self.ended.clear()
        self._save(force=True)

    def _registry(self, kind: str, name: str) -> dict[str, Any] | None:
        """What the engine may look up: registered templates, and the ConfigMaps of the
        workflow's namespace (parameters' configMapKeyRef)."""
        if kind == "ConfigMap":
            return self.store.get_configmap(self.wf["metadata"].get("namespace") or "default", name)
        return self.store.registry(kind, name)

    def _begin(self) -> Engine:
        now = time.time()
        engine = Engine(self.wf, now=now, registry=self._registry, preset=self.preset,
                        preset_outputs=self.preset_outputs)
        if self.journal:
            self.journaled.begin(journal.start_entry(now, suspend=engine.suspended, preset=self.preset,
                                                     preset_outputs=self.preset_outputs))
        self._apply(engine.start(now))
        return engine

    def _resume(self) -> Engine:
        """Rebuild the engine from the journal; steps whose process was lost end in Error (and
        are retried where their retryStrategy allows), steps never started are started now."""
        meta = self.wf["metadata"]
        self.wf.pop("status", None)

        def make(t0: float, start: dict[str, Any]) -> Engine:
            engine = Engine(self.wf, now=t0, registry=self._registry, preset=start.get("preset"),
                            preset_outputs=start.get("presetOutputs"))
            engine.suspended = bool(start.get("suspend"))
            return engine

        state = journal.replay(self.store.journal(meta["namespace"], meta["name"]), make)
        self._apply(list(state.to_start) + list(state.timers.values()) + list(state.asked))
        for nid, (action, ident) in state.running.items():
            folder = state.folders.get(nid) or self._workdir(nid)
            what, ident = reattach.decide(self.executor, self.dry_run, action, folder, ident)
            if what == "start":
                self._apply([action])      # the controller died before its process was started
                continue
            if what == "lost":
                self.events.put_nowait(A.PodLost(nid, LOST))
                continue
            self._spawn(self._pod_or_error(action, ident))   # re-attach: the step outlived us
        return state.engine

    def _light(self, action: A.StartPod) -> bool:
        """Whether a step's setup and collection are quick enough for the loop itself (inline_io,
        and no artifact to download or upload)."""
        return self.inline_io and not action.inputs and not action.artifacts \
            and not self.repo.archive_logs(action.template)

    def _workdir(self, node_id: str) -> Path:
        return self.home / "logs" / self.wf["metadata"]["name"] / node_id

    # ------------------------------------------------------------- actions
    def _apply(self, actions: list[A.Action]) -> None:
        loop = asyncio.get_running_loop()
        for action in actions:
            if isinstance(action, A.StartPod):
                if self.hold:
                    continue
                if self.dry_run:
                    if action.template.get("daemon"):     # serves until released (StopPod)
                        self.dry_daemons.add(action.node_id)
                        self.events.put_nowait(A.PodStarted(action.node_id, daemons.LOCAL_IP))
                        continue
                    if self.on_pod is not None and self.on_pod(
                            action, self.wf["status"]["nodes"].get(action.node_id) or {}, self.spec) and self.executor:
                        self._spawn(self._pod_or_error(action))      # its outputs decide what follows
                        continue
                    self.events.put_nowait(dryrun.pretend(action, self.mocks, self.plan))
                    continue
                task = self._spawn(self._pod_or_error(action))
                self.starting[action.node_id] = task
                task.add_done_callback(lambda _t, nid=action.node_id: self.starting.pop(nid, None))
            elif isinstance(action, A.StopPod):
                if action.node_id in self.dry_daemons:
                    self.dry_daemons.discard(action.node_id)
                    self.events.put_nowait(A.PodExited(action.node_id, 143, stopped=True))
                    continue
                handle = self.handles.get(action.node_id)
                if handle is None and action.node_id in self.unadmitted:   # waiting for quota room
                    self.starting[action.node_id].cancel()
                elif handle is None:
                    self.stop_on_start.add(action.node_id)  # still starting: stop it once started
                else:
                    self._spawn(handle.stop(grace=0.0))
            elif isinstance(action, (A.LookupCache, A.SaveCache, A.AcquireLock, A.ReleaseLock)):
                self.shared.apply(action)
            elif isinstance(action, A.SetTimer):
                delay = max(0.0, action.at - time.time())
                old = self.timers.pop(action.key, None)
                if old:
                    old.cancel()
                self.timers[action.key] = loop.call_later(delay, self.events.put_nowait, A.TimerFired(action.key))

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run `coro` as one of this run's tasks (waited for, or cancelled, at its end)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _pod_or_error(self, action: A.StartPod, ident: dict[str, Any] | None = None) -> None:
        """Run a step (or, with `ident`, re-attach to its process); a fault of Tiphys itself ends
        the node in Error (the workflow goes on)."""
        namespace = self.wf["metadata"].get("namespace") or "default"
        try:
            if "resource" in action.template:
                self.events.put_nowait(await resources.run(action, self.store, self.wf, self._start_workflow))
            elif agent.is_agent_step(action):
                await agent.step(self, action)
            elif ident is not None:      # its quota share, kept in the store, goes when it ends
                await self._pod(action, ident)
                await admission.for_store(self.store).released(namespace, action.pod_name)
            elif getattr(self.executor, "cluster_admits", False):
                await self._pod(action)             # a cluster admits its pods itself (its own quota)
            else:

                def waiting(message: str) -> None:
                    (self.unadmitted.add if message else self.unadmitted.discard)(action.node_id)
                    self.events.put_nowait(A.PodPending(action.node_id, message))
                try:
                    async with admission.for_store(self.store).admitted(action, namespace, waiting, self.wf["metadata"]["name"],
                                                                   handed_over=lambda: self.hold) as admitted:
                        await self._pod(admitted)
                except admission.Refused as exc:
                    self.events.put_nowait(A.PodExited(action.node_id, None, error=str(exc), unstarted=True))
                except asyncio.CancelledError:
                    if action.node_id not in self.unadmitted:
                        raise
                    self.unadmitted.discard(action.node_id)     # stopped while waiting for quota
                    self.events.put_nowait(A.PodExited(action.node_id, None, stopped=True, unstarted=True))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported on the node, logged with its trace
            log.exception("step %s", action.pod_name)
            self.handles.pop(action.node_id, None)
            self.events.put_nowait(A.PodExited(action.node_id, None,
                                               error=f"internal error running the step: {type(exc).__name__}: {exc}"))

    async def _pod(self, action: A.StartPod, ident: dict[str, Any] | None = None) -> None:
        assert self.executor is not None
        workdir = self._workdir(action.node_id)
        ignored = podspecpatch.ignored(self.wf.get("spec") or {}, action.template)
        if ignored and ident is None:
            log.warning("step %s: podSpecPatch field(s) %s have no effect on one machine (Tiphys applies the "
                        "main container's resources, env, image, command, args, workingDir, securityContext "
                        "and activeDeadlineSeconds)", action.pod_name, ", ".join(ignored))
        if ident is None:
            for folder in (workdir, workdir / steps.PRIVATE):
                (folder / detached.IDENTITY).unlink(missing_ok=True)
                (folder / detached.STATUS).unlink(missing_ok=True)
            await self._journal_started(action.node_id, workdir)
        if "containerSet" in action.template:
            await containerset.run(self, action, workdir)
            return

        whole = wholepod.plays_pods(self.executor)   # the pod plays its sidecars itself

        def build(act: A.StartPod, folder: Path) -> Any:
            spec = steps.build_spec(act, folder, self.repo, steps.secret_lookup(
                self.store, self.home, self.wf["metadata"].get("namespace") or "default"),
                pod_labels=self.pod_labels, pod_gc=self.pod_gc,
                workflow_uid=str(self.wf["metadata"].get("uid") or ""))
            return wholepod.with_pod(self, act, spec) if whole else spec

        side = sidecars.Sidecars([], 0.0)
        for attempt in range(SETUP_TRIES):
            try:
                # input artifacts may be large downloads: in a thread
                spec = build(action, workdir) if self._light(action) else await asyncio.to_thread(build, action, workdir)
                if action.template.get("sidecars") and not side.handles and not whole:
                    side = sidecars.Sidecars.of(action, workdir, build)
                    await side.start(self.executor)
                if ident is not None:
                    handle = await self.executor.attach(spec, ident)   # type: ignore[attr-defined]
                else:
                    handle = await self.executor.start(spec)
                    if self.journal:
                        await asyncio.to_thread(self._journal_identity, action.node_id, handle)
                if hasattr(handle, "report_pending"):   # a cluster's pod waits (quota, image): node Pending, why
                    handle.report_pending(lambda message: self.events.put_nowait(A.PodPending(action.node_id, message)))
            except (TiphysError, OSError) as exc:
                await side.stop()
                message = str(exc) if isinstance(exc, TiphysError) else f"could not start step: {exc}"
                self.events.put_nowait(A.PodExited(action.node_id, None, error=message, unstarted=True))
                return
            self.handles[action.node_id] = handle
            if action.node_id in self.stop_on_start:
                self.stop_on_start.discard(action.node_id)
                await handle.stop(grace=0.0)
            timer = None
            if action.deadline is not None:
                timer = asyncio.get_running_loop().call_later(action.deadline, self._deadline, action.node_id)
            ready = asyncio.get_running_loop().create_task(daemons.announce(action, handle, self.events.put_nowait)) \
                if action.template.get("daemon") else None
            try:
                result = await handle.wait()
            finally:
                if timer:
                    timer.cancel()
                if ready:
                    ready.cancel()
                self.handles.pop(action.node_id, None)
            # the sandbox could not be set up because a host mount changed under it (a
            # container engine mounting and unmounting below /var): the step never ran, so
            # starting it again is safe
            if attempt + 1 < SETUP_TRIES and steps.setup_race(result) and action.node_id not in self.deadlines:
                log.warning("step %s: %s; starting it again", action.pod_name, result.error)
                steps.cleanup(workdir)
                ident = None
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            break
        failure = await side.stop() or sidecars.judge(result.containers)
        out, err = steps.read_logs(result)
        collect_args = (action, result, self.repo, self.prefix, action.node_id in self.deadlines, out, err)
        event = steps.collect(*collect_args) if self._light(action) \
            else await asyncio.to_thread(steps.collect, *collect_args)   # uploads
        if failure:
            event = dataclasses.replace(event, container_failure=failure)
        for name, side_result in [*side.results, *result.containers]:
            side_out, side_err = steps.read_logs(side_result)
            self.pending_logs.append((self.wf["metadata"]["name"], sidecars.log_key(action.node_id, name),
                                      action.pod_name, side_out, side_err))
        # the step's live log files stay until its logs are in the store (readers never see a
        # gap) and its end is journaled (a controller dying meanwhile re-attaches to it there)
        self.ended[action.node_id] = ((self.wf["metadata"]["name"], action.node_id, action.pod_name, out, err), workdir)
        self.events.put_nowait(event)

    async def _journal_started(self, node_id: str, workdir: Path | None = None) -> None:
        if self.journal:
            await self.journaled.started(node_id, workdir)

    def _journal_identity(self, node_id: str, handle: Any) -> None:
        self.journaled.identity(node_id, handle)

    async def _start_workflow(self, wf: dict[str, Any]) -> None:
        """Run a Workflow a resource template created, beside this one (same store, executor)."""
        child = Runner(wf, store=self.store, home=self.home, on_update=None, dry_run=self.dry_run,
                       executor=self.executor)
        await asyncio.to_thread(self.store.save_workflow, wf)
        self._spawn(child.main())

    def busy(self) -> bool:
        """Whether a step of this run is starting, running or being stopped."""
        return any(not t.done() for t in self.tasks)

    def _deadline(self, node_id: str) -> None:
        handle = self.handles.get(node_id)
        if handle is None:
            return
        self.deadlines.add(node_id)
        task = asyncio.get_running_loop().create_task(handle.stop(grace=0.0))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # ------------------------------------------------------------- persistence
    def _save(self, force: bool = False) -> None:
        """Persist at most every SAVE_EVERY seconds, and never spend more than about a tenth
        of the run saving: a big workflow is saved less often, as its save costs more."""
        now = time.monotonic()
        if self.on_update:
            self.on_update(self.wf)
        if not force and now - self.last_save < max(SAVE_EVERY, 10 * self.save_cost):
            return
        for entry in self.pending_logs:
            self.store.save_logs(*entry)
        self.pending_logs.clear()
        if self.pending_cleanup:
            self.cleaning = [f for f in self.cleaning if not f.done()]
        for workdir in self.pending_cleanup:
            self.cleaning.append(steps.cleanup_later(workdir))
        self.pending_cleanup.clear()
        self.store.save_workflow(self.wf)
        self.last_save = time.monotonic()
        self.save_cost = self.last_save - now


def _labels(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
