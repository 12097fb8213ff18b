"""What the API asks of a controller: submit, retry, resubmit, suspend, resume, set, stop and
delete. `async`, awaited by the HTTP handlers: store calls run in worker threads and requests
for a running workflow hop to the controller's loop as awaited futures, so nothing blocks the
server's loop. Another thread (the cron scheduler, sensors) runs one with `asyncio.run`.

A workflow another controller holds is reached through the store (a command, adoption.py).
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from typing import Any

from tiphys.engine import actions as A
from tiphys.engine import rerun
from tiphys.errors import NotFoundError, SpecError
from tiphys.naming import generated_name
from tiphys.server.controller.queue import Job
from tiphys.server.leases import SUBMITTED_BY, Key, key_of, runs_elsewhere
from tiphys.store.sql import COMPLETED_PHASES

log = logging.getLogger("tiphys.server")

DELETE_WAIT = 30.0      # seconds a delete waits for a running workflow to stop and go
SETTLE_WAIT = 5.0       # seconds a request waits for a finished run to wrap up


class NotRunning(SpecError):
    """The workflow is not running (nor queued) in this controller."""


def _copy(wf: dict) -> dict:
    return json.loads(json.dumps(wf))


class Api:
    """The request methods of `Controller` (a mixin: the state is the controller's)."""

    # provided by Controller
    store: Any
    hub: Any
    owner: str
    lease_ttl: float
    runs_workflows: bool
    adoption: Any
    runs: Any
    queue: Any

    def call(self, fn: Any, *args: Any) -> None: ...   # pragma: no cover - Controller's

    async def on_loop(self, coro: Coroutine[Any, Any, Any]) -> Any: ...   # pragma: no cover - Controller's

    async def submit(self, wf: dict, *, keep: dict | None = None, keep_outputs: dict | None = None,
                     event: str = "ADDED") -> dict:
        """Record the workflow Pending and queue it; returns the stored record. `keep`: nodes of
        an earlier run to take over (retry, resubmit --memoized), recorded as its status.nodes."""
        wf = _copy(wf)
        meta = wf["metadata"]
        meta.setdefault("annotations", {})[SUBMITTED_BY] = "server"
        wf["status"] = {"phase": "Pending"}
        if keep:
            wf["status"]["nodes"] = keep
        if keep_outputs:
            wf["status"]["outputs"] = keep_outputs
        if not self.runs_workflows:       # a `tiphys controller` elsewhere takes it from the store
            await asyncio.to_thread(self._record_for_others, wf)
            self.hub.publish(event, _copy(wf))
            return wf
        self.adoption.take(key_of(wf))
        await asyncio.to_thread(self._record_mine, wf)
        self.hub.publish(event, _copy(wf))
        self.call(self.queue.enqueue, Job(_copy(wf)))
        return wf

    def _record_for_others(self, wf: dict) -> None:
        self.store.save_workflow(wf)
        self.store.notify("new")

    def _record_mine(self, wf: dict) -> None:
        meta = wf["metadata"]
        self.store.claim(meta.get("namespace") or "default", meta["name"], self.owner, self.lease_ttl)
        self.store.save_workflow(wf)

    async def retry(self, namespace: str, name: str, *, restart_successful: bool = False,
                    node_field_selector: str = "", parameters: list[str] | tuple[str, ...] = ()) -> dict:
        """`argo retry`: run a Failed/Error workflow again, keeping its Succeeded nodes."""
        wf = await self._settled(namespace, name)
        if self.adoption.live((namespace, name)):
            raise SpecError(f"workflow {name!r} is still running")
        new, keep, outputs = rerun.retry(wf, restart_successful=restart_successful,
                                         node_field_selector=node_field_selector, parameters=parameters)
        await asyncio.to_thread(self.store.clear_journal, namespace, name)
        return await self.submit(new, keep=keep, keep_outputs=outputs, event="MODIFIED")

    async def resubmit(self, namespace: str, name: str, *, memoized: bool = False,
                       parameters: list[str] | tuple[str, ...] = ()) -> dict:
        """`argo resubmit`: a new workflow from this one's spec (`<name>-xxxxx`)."""
        wf = await self._stored(namespace, name)
        new_name = await asyncio.to_thread(
            generated_name, f"{name}-", lambda n: self.store.workflow_phase(n, namespace) is not None)
        new, keep = rerun.resubmit(wf, new_name, memoized=memoized, parameters=parameters)
        return await self.submit(new, keep=keep)

    async def suspend(self, namespace: str, name: str) -> None:
        """`argo suspend`: start no new step until resumed (running steps go on)."""
        await self._send(namespace, name, [A.SuspendRequested(True)], suspend=True)

    async def resume(self, namespace: str, name: str, node_field_selector: str = "") -> None:
        """`argo resume`: without a selector, un-suspend the workflow and every suspend node;
        with one, only the matching suspend nodes."""
        if node_field_selector:
            await self._check_suspended(namespace, name, node_field_selector)
            await self._send(namespace, name, [A.NodesResumed(node_field_selector)])
        else:
            await self._send(namespace, name, [A.SuspendRequested(False), A.NodesResumed("")], suspend=False)

    async def set_nodes(self, namespace: str, name: str, node_field_selector: str, *, phase: str | None = None,
                        message: str | None = None, output_parameters: dict[str, str] | None = None) -> None:
        """`argo node set`: phase, message and output parameters of matching suspend nodes."""
        if phase not in (None, "", "Succeeded", "Failed", "Error"):
            raise SpecError(f"phase {phase!r}: a node can be set to Succeeded, Failed or Error")
        await self._check_suspended(namespace, name, node_field_selector)
        params = tuple((str(k), str(v)) for k, v in (output_parameters or {}).items())
        await self._send(namespace, name, [A.NodesSet(node_field_selector, phase or None, message or None, params)])

    async def stop(self, namespace: str, name: str, message: str, *, terminate: bool) -> bool:
        """Ask a running or queued workflow to stop (here, or through the store when another
        controller runs it); False when it is neither. Returns once its engine took the stop in."""
        key = (namespace, name)
        if not self.adoption.live(key):
            if await asyncio.to_thread(runs_elsewhere, self.store, namespace, name):
                await self._remote(key, {"op": "stop", "message": message, "terminate": terminate})
                return True
            return False
        await self.on_loop(self.runs.stop(key, message, terminate))
        return True

    async def delete(self, namespace: str, name: str) -> None:
        """Forget a workflow: stop it first if it runs, then delete its record and logs."""
        key = (namespace, name)
        if not self.adoption.live(key) and await asyncio.to_thread(runs_elsewhere, self.store, namespace, name):
            await self._remote(key, {"op": "delete"})   # its controller stops it, then forgets it
            return
        gone = self.runs.mark_deleted(key)
        if not await self.stop(namespace, name, "Stopped: the workflow was deleted", terminate=True):
            self.runs.unmark_deleted(key)
            await asyncio.to_thread(self.runs.forget, key)
        # as a Workflow object is gone once Kubernetes answers the delete: the record is
        # deleted when this returns (the runner ends first: its saves come before)
        try:
            await asyncio.wait_for(asyncio.wrap_future(gone), DELETE_WAIT)
        except asyncio.TimeoutError:
            log.warning("%s/%s: still being stopped %.0f s after its deletion", namespace, name, DELETE_WAIT)

    # -- helpers ----------------------------------------------------------------------------

    async def _stored(self, namespace: str, name: str) -> dict:
        wf = self.runs.snapshot((namespace, name)) or await asyncio.to_thread(self.store.get_workflow, name, namespace)
        if wf is None:
            raise NotFoundError(f'workflows.argoproj.io "{name}" not found')
        return wf

    async def _settled(self, namespace: str, name: str) -> dict:
        """The record, once a workflow that already shows a final phase is done wrapping up
        (its runner saves the end a moment before the controller lets go of it)."""
        key = (namespace, name)
        wf = await self._stored(namespace, name)
        if self.adoption.live(key) and (wf.get("status") or {}).get("phase") in COMPLETED_PHASES:
            await self.on_loop(self.runs.ended(key, SETTLE_WAIT))
            wf = await self._stored(namespace, name)
        return wf

    async def _check_suspended(self, namespace: str, name: str, selector: str) -> None:
        wf = await self._stored(namespace, name)
        if not rerun.suspended_nodes(wf, selector):
            raise SpecError(f"workflow {name!r}: no suspended node matches {selector!r}" if selector
                            else f"workflow {name!r} has no suspended node")

    async def _send(self, namespace: str, name: str, events: list, *, suspend: bool | None = None) -> None:
        key = (namespace, name)
        phase = ((await self._settled(namespace, name)).get("status") or {}).get("phase")
        live = self.adoption.live(key)
        if phase in COMPLETED_PHASES or not (live or await asyncio.to_thread(runs_elsewhere, self.store,
                                                                            namespace, name)):
            raise NotRunning(f"workflow {name!r} is not running" + (f" (it is {phase})" if phase else ""))
        if not live:
            from tiphys.runtime import journal
            await self._remote(key, {"op": "events", "events": journal.encode(events), "suspend": suspend})
            return
        await self.on_loop(self.runs.deliver(key, events, suspend))

    async def _remote(self, key: Key, cmd: dict) -> None:
        await asyncio.to_thread(self.store.send_command, key[0], key[1], json.dumps(cmd))
