"""Executor `kubernetes`: each step a Pod in a real cluster (the current kubeconfig context, or
the in-cluster service account), through the official `kubernetes` client (kube_client.py).

The runtime hands it each step's whole Pod (`plays_pods`: tiphys/k8s/podspec.py, the helper
wrapping main); clusterpod.py adds the `wait` container and the input gate. Then, per step:

- create the Pod; a `403 ... exceeded quota` keeps the node Pending with Kubernetes' message
  and the creation is tried again (as Argo does), other refusals end the node in Error;
- follow it through the ONE watch of its namespace (kube_client.Watches), never a poll; a
  Pending pod's reason (ImagePullBackOff, Unschedulable...) is the node's message;
- unpack the step's input artifacts into the pod (exec + tar) while the `inputs` init
  container waits for them;
- stream main's log into the step's stdout file while it runs;
- once main ended, read /var/run/argo (exit code, stdout, outputs) from the `wait` container
  (exec `tar cf -`), then let the wait container go;
- judge the pod as Argo does (clusterpod.verdict: OOMKilled, exit codes, evictions and the
  activeDeadlineSeconds message, init failures, a pod deleted under the step);
- delete it as `podGC` says (podgc.py); sidecars still running once main's outputs are read
  are ended by deleting the pod.

`attach` re-attaches after a controller restart: the journaled identity names the pod; it is
read and followed like one just created (the wait container keeps an ended pod's outputs until
they are read). A pod journaled as created that is gone is a lost step: "pod deleted".
"""
from __future__ import annotations

import asyncio
import io
import logging
import tarfile
import threading
from pathlib import Path
from typing import Any, Callable

from tiphys.errors import InfrastructureError
from tiphys.executors.base import StepResult, StepSpec
from tiphys.executors.kube_client import ApiError, Cluster, Watches, connect
from tiphys.k8s import clusterpod, helper

log = logging.getLogger("tiphys.executors.kubernetes")
SIDECAR_GRACE = 5


class KubernetesExecutor:
    name = "kubernetes"
    plays_pods = True
    cluster_admits = True        # ResourceQuota and LimitRange are the cluster's own

    def __init__(self, cluster: Cluster | None = None, *, quota_retry: float = 5.0, watch_timeout: int = 60):
        self.cluster = cluster if cluster is not None else Cluster(connect())
        self.watches = Watches(self.cluster, clusterpod.SELECTOR, timeout=watch_timeout)
        self.quota_retry = quota_retry
        self._kept: dict[tuple[str, str], list[tuple[str, str, dict[str, str]]]] = {}
        self._lock = threading.Lock()

    async def start(self, spec: StepSpec) -> "PodHandle":
        pod = getattr(spec, "pod", None)
        if not pod:
            raise InfrastructureError("executor kubernetes: the step has no Pod to create")
        handle = PodHandle(self, spec, clusterpod.for_cluster(pod))
        await handle.begin(create=True)
        return handle

    async def attach(self, spec: StepSpec, ident: dict[str, Any]) -> "PodHandle":
        """Go on with the pod of a step a Tiphys process that ended started."""
        given = getattr(spec, "pod", None) or {}
        meta = given.get("metadata") or {}
        namespace = str(ident.get("namespace") or meta.get("namespace") or "default")
        name = str(ident.get("pod") or meta.get("name") or "")
        try:
            found = await asyncio.to_thread(self.cluster.read, namespace, name) if name else None
        except InfrastructureError as exc:
            return PodHandle.failed(spec, f"cannot reach the cluster to re-attach to pod {name}: {exc}")
        if found is None:
            if ident.get("created"):
                return PodHandle.failed(spec, "pod deleted")
            return await self.start(spec)       # the controller died before creating it: it never ran
        handle = PodHandle(self, spec, found)
        handle.identity["created"] = True
        await handle.begin(create=False, seen=found)
        return handle

    def keep(self, spec: StepSpec, namespace: str, name: str, labels: dict[str, str]) -> None:
        with self._lock:
            self._kept.setdefault((spec.workflow, spec.workflow_uid), []).append((namespace, name, labels))

    def workflow_done(self, workflow: str, pod_gc: Any, phase: str, uid: str = "") -> None:
        """The workflow ended: delete the pods its podGC deletes then (blocking: a worker thread)."""
        with self._lock:
            kept = self._kept.pop((workflow, uid), [])
        for namespace, name, labels in kept:
            if pod_gc.at_workflow_end(labels, phase):
                self.delete_quietly(namespace, name)

    def delete_quietly(self, namespace: str, name: str, grace: float | None = None) -> None:
        try:
            self.cluster.delete(namespace, name, grace)
        except Exception as exc:  # noqa: BLE001 - the pod stays; its ownerReference cleans it up
            log.warning("could not delete pod %s/%s: %s", namespace, name, exc)


def _quota(exc: Exception) -> bool:
    return isinstance(exc, ApiError) and exc.status == 403 and "exceeded quota" in str(exc)


class PodHandle:
    """One step's pod: created (or found again), followed, read, judged, collected."""

    def __init__(self, ex: KubernetesExecutor | None, spec: StepSpec, pod: dict[str, Any]):
        self.ex, self.spec, self.pod = ex, spec, pod
        meta = pod.get("metadata") or {}
        self.name = str(meta.get("name") or "")
        self.namespace = str(meta.get("namespace") or "default")
        self.labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        self.mains = clusterpod.mains(pod)
        self.log_container = clusterpod.default_container(pod)
        self.workdir = Path(spec.workdir).absolute()
        self.stdout, self.stderr = self.workdir / "stdout", self.workdir / "stderr"
        self.identity: dict[str, Any] = {"pod": self.name, "namespace": self.namespace, "created": False}
        self.stopped = False
        self._events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._pending_cb: Callable[[str], None] | None = None
        self._pending_msg: str | None = None
        self._task: asyncio.Task[StepResult] | None = None
        self._unsubscribe: Callable[[], None] = lambda: None
        self._logs: threading.Thread | None = None
        self._inputs_done = False
        self._collected = False
        self._done: StepResult | None = None

    @classmethod
    def failed(cls, spec: StepSpec, message: str) -> "PodHandle":
        handle = cls(None, spec, dict(getattr(spec, "pod", None) or {}))
        handle._files()
        handle._done = handle._result(error=message)
        return handle

    # -- the runtime's side ------------------------------------------------------------------

    def report_pending(self, callback: Callable[[str], None]) -> None:
        """`callback(message)`: the node waits Pending with it ("" once the pod runs)."""
        self._pending_cb = callback
        if self._pending_msg is not None:
            callback(self._pending_msg)

    async def wait(self) -> StepResult:
        if self._done is not None:
            return self._done
        assert self._task is not None
        return await asyncio.shield(self._task)

    async def stop(self, grace: float = 0.0) -> None:
        if self._done is not None or self.stopped:
            return
        self.stopped = True
        self._wake.set()
        if self.identity["created"] and self.ex is not None:
            gone = not await asyncio.to_thread(self._delete, grace)
            if gone:
                self._events.put_nowait(("DELETED", {}))

    def _delete(self, grace: float | None) -> bool:
        assert self.ex is not None
        try:
            return self.ex.cluster.delete(self.namespace, self.name, grace)
        except InfrastructureError as exc:
            log.warning("could not delete pod %s/%s: %s", self.namespace, self.name, exc)
            return True

    # -- following the pod -------------------------------------------------------------------

    def _pending(self, message: str) -> None:
        if message == (self._pending_msg or ""):    # "" only ends a wait that was reported
            return
        self._pending_msg = message
        if self._pending_cb is not None:
            self._pending_cb(message)

    def _files(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for f in (self.stdout, self.stderr):
            if not f.exists():
                f.write_bytes(b"")

    async def begin(self, create: bool, seen: dict[str, Any] | None = None) -> None:
        assert self.ex is not None
        self._files()
        self._unsubscribe = self.ex.watches.subscribe(self.namespace, self.name, self._event)
        created = True
        if create:
            try:
                created = await self._create()
            except BaseException:
                self._unsubscribe()
                raise
        if seen is not None:
            self._event("MODIFIED", seen)
        self._task = asyncio.get_running_loop().create_task(self._follow(created))

    def _event(self, kind: str, pod: dict[str, Any]) -> None:
        self._events.put_nowait((kind, pod))

    async def _create(self) -> bool:
        """Create the pod: True once created (or found there), False while a quota refuses it."""
        assert self.ex is not None
        try:
            await asyncio.to_thread(self.ex.cluster.create, self.namespace, self.pod)
        except ApiError as exc:
            if _quota(exc):
                self._pending(str(exc))
                return False
            if exc.status != 409:         # 409: already there, made by a run that died meanwhile
                raise InfrastructureError(str(exc)) from None
        self.identity["created"] = True
        return True

    async def _follow(self, created: bool) -> StepResult:
        try:
            while not created:
                if self.stopped:
                    return self._finish(self._result(stopped=True))
                try:
                    await asyncio.wait_for(self._wake.wait(), self.ex.quota_retry if self.ex else 1.0)
                except asyncio.TimeoutError:
                    pass
                if not self.stopped:
                    try:
                        created = await self._create()
                    except InfrastructureError as exc:
                        return self._finish(self._result(error=str(exc)))
            while True:
                kind, pod = await self._events.get()
                result = await self._observe(kind, pod)
                if result is not None:
                    return self._finish(result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken answer of the API server: the step's Error
            log.exception("pod %s/%s", self.namespace, self.name)
            return self._finish(self._result(error=f"following pod {self.name}: {type(exc).__name__}: {exc}"))
        finally:
            self._unsubscribe()

    def _finish(self, result: StepResult) -> StepResult:
        self._done = result
        return result

    async def _observe(self, kind: str, pod: dict[str, Any]) -> StepResult | None:
        if kind == "DELETED":
            if self.stopped:
                return await self._ended(pod or None, stopped=True)
            return await self._ended(None, error="pod deleted")
        if not self.stopped and (pod.get("metadata") or {}).get("deletionTimestamp") \
                and clusterpod.phase(pod) in ("Pending", "Running"):
            return await self._ended(pod, error="pod deleted during operation")
        phase = clusterpod.phase(pod)
        if phase == "Pending" and clusterpod.pending_reason(pod):
            self._pending(clusterpod.pending_reason(pod))
        elif phase == "Running":
            self._pending("")
        gate = clusterpod.statuses(pod, init=True).get(clusterpod.INPUTS_GATE)
        if not self._inputs_done and clusterpod.running(gate):
            self._inputs_done = True
            await asyncio.to_thread(self._push_inputs)
        main = clusterpod.statuses(pod).get(self.log_container)
        if self._logs is None and (clusterpod.running(main) or clusterpod.terminated(main)):
            self._logs = threading.Thread(target=self._follow_log, daemon=True, name=f"tiphys-log-{self.name}")
            self._logs.start()
        if clusterpod.mains_ended(pod, self.mains):
            if not self._collected and clusterpod.running(clusterpod.statuses(pod).get(clusterpod.WAIT)):
                self._collected = True
                await asyncio.to_thread(self._collect)
            return await self._ended(pod)
        if phase in ("Succeeded", "Failed", "Unknown"):
            return await self._ended(pod)
        return None

    # -- files in and out of the pod (exec) ----------------------------------------------------

    def _exec(self, container: str, argv: list[str], stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
        assert self.ex is not None
        return self.ex.cluster.exec(self.namespace, self.name, container, argv, stdin)

    def _push_inputs(self) -> None:
        """Unpack the step's input artifacts into the input-artifacts volume, `.ready` last."""
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            for f in self.spec.inputs:
                tar.add(str(f.source), arcname=f.source.name)
            tar.addfile(tarfile.TarInfo(clusterpod.READY), io.BytesIO(b""))
        blob = data.getvalue()
        script = f"/bin/busybox head -c {len(blob)} | /bin/busybox tar xf - -C {clusterpod.INPUTS_DIR}"
        try:
            rc, _, err = self._exec(clusterpod.INPUTS_GATE, ["/bin/busybox", "sh", "-c", script], blob)
            if rc:
                log.warning("pod %s: unpacking input artifacts: exit %s: %s", self.name, rc, err[-500:])
        except Exception as exc:  # noqa: BLE001 - the gate then waits until the pod's deadline
            log.warning("pod %s: could not send input artifacts: %s", self.name, exc)

    def _collect(self) -> None:
        """Read /var/run/argo (ctr/*/exitcode, stdout; outputs/INDEX) from the wait container,
        then let it go."""
        dest = self.workdir / "argo"
        try:
            rc, out, err = self._exec(clusterpod.WAIT, ["/bin/busybox", "tar", "cf", "-", "-C", helper.RUN_DIR,
                                                        "ctr", "outputs"])
            if out:
                dest.mkdir(parents=True, exist_ok=True)
                with tarfile.open(fileobj=io.BytesIO(out), mode="r:") as tar:
                    tar.extractall(dest, filter="data")
            elif rc:
                log.warning("pod %s: reading %s: exit %s: %s", self.name, helper.RUN_DIR, rc, err[-500:])
        except Exception as exc:  # noqa: BLE001 - outputs then missing: the node says which
            log.warning("pod %s: could not read %s: %s", self.name, helper.RUN_DIR, exc)
        try:
            self._exec(clusterpod.WAIT, ["/bin/busybox", "touch", clusterpod.COLLECTED])
        except Exception as exc:  # noqa: BLE001 - the wait container then ends with the pod
            log.warning("pod %s: could not release the wait container: %s", self.name, exc)

    def _follow_log(self) -> None:
        assert self.ex is not None
        try:
            with open(self.stdout, "wb") as f:
                for chunk in self.ex.cluster.follow_log(self.namespace, self.name, self.log_container):
                    f.write(chunk)
                    f.flush()
        except Exception as exc:  # noqa: BLE001 - the log is then what was read
            log.debug("pod %s: log stream ended: %s", self.name, exc)

    # -- the end ----------------------------------------------------------------------------

    async def _ended(self, pod: dict[str, Any] | None, *, error: str | None = None,
                     stopped: bool = False) -> StepResult:
        if self._logs is not None:
            await asyncio.to_thread(self._logs.join, 10.0)
        verdict = clusterpod.verdict(pod, [self.log_container]) if pod and pod.get("status") else clusterpod.Verdict()
        if stopped or error:
            verdict = clusterpod.Verdict(exit_code=verdict.exit_code if stopped else None, error=error)
        sidecars = await asyncio.to_thread(self._sidecars, pod) if pod else ()
        result = self._result(exit_code=verdict.exit_code, oom_killed=verdict.oom_killed, error=verdict.error,
                              message=verdict.message, stopped=stopped, sidecars=sidecars)
        if pod is not None and self.ex is not None:
            await self._collect_garbage(pod, result)
        return result

    def _sidecars(self, pod: dict[str, Any]) -> tuple[tuple[str, StepResult], ...]:
        found = []
        states = clusterpod.statuses(pod)
        for c in (pod.get("spec") or {}).get("containers") or []:
            name = str(c.get("name"))
            if name == self.log_container or name == clusterpod.WAIT:
                continue       # (a containerSet's other containers are reported as sidecars are)
            folder = self.workdir / "sidecars" / name
            folder.mkdir(parents=True, exist_ok=True)
            try:
                text = self.ex.cluster.log(self.namespace, self.name, name) if self.ex else b""
            except Exception:  # noqa: BLE001 - no log: an empty one
                text = b""
            (folder / "stdout").write_bytes(text)
            (folder / "stderr").write_bytes(b"")
            ended = clusterpod.terminated(states.get(name))
            code = int(ended["exitCode"]) if ended and ended.get("exitCode") is not None else None
            if ended is None and name in self.mains:     # the helper's word when the status has none
                code = _exitcode(self.workdir / "argo" / "ctr" / name / "exitcode")
            found.append((name, StepResult(exit_code=code, stdout=folder / "stdout", stderr=folder / "stderr",
                                           outputs={}, stopped=ended is None and code is None,
                                           oom_killed=bool(ended and ended.get("reason") == "OOMKilled"))))
        return tuple(found)

    async def _collect_garbage(self, pod: dict[str, Any], result: StepResult) -> None:
        assert self.ex is not None
        ok = result.error is None and result.message is None and result.exit_code == 0 and not result.oom_killed
        states = clusterpod.statuses(pod)
        lingering = any(clusterpod.running(states.get(str(c.get("name"))))
                        for c in (pod.get("spec") or {}).get("containers") or []
                        if c.get("name") not in self.mains and c.get("name") != clusterpod.WAIT)
        gc = self.spec.pod_gc
        if result.stopped or result.error == "pod deleted":
            return
        if gc.at_step_end(self.labels, ok):
            if gc.delay:
                asyncio.get_running_loop().call_later(
                    gc.delay, lambda: asyncio.ensure_future(asyncio.to_thread(self.ex.delete_quietly,
                                                                              self.namespace, self.name)))
            else:
                await asyncio.to_thread(self.ex.delete_quietly, self.namespace, self.name)
        elif lingering:        # sidecars outlive main: ending the pod ends them
            await asyncio.to_thread(self.ex.delete_quietly, self.namespace, self.name, SIDECAR_GRACE)
        else:
            self.ex.keep(self.spec, self.namespace, self.name, self.labels)

    def _result(self, *, exit_code: int | None = None, oom_killed: bool = False, error: str | None = None,
                message: str | None = None, stopped: bool = False,
                sidecars: tuple[tuple[str, StepResult], ...] = ()) -> StepResult:
        argo = self.workdir / "argo"
        main = self.log_container
        said = argo / "ctr" / main / "stdout"
        if said.is_file():
            combined = self.stdout.read_bytes() if self.stdout.exists() else b""
            exact = said.read_bytes()
            self.stdout.write_bytes(exact)
            self.stderr.write_bytes(_without(combined, exact))
        if exit_code is None and not stopped and not error:
            try:
                exit_code = int((argo / "ctr" / main / "exitcode").read_text().strip())
            except (OSError, ValueError):
                pass
        outputs: dict[str, Path | None] = {}
        for i, path in enumerate(self.spec.output_paths):
            host = argo / "outputs" / str(i)
            outputs[path] = host if host.exists() else None
        return StepResult(exit_code=exit_code, stdout=self.stdout, stderr=self.stderr, outputs=outputs,
                          oom_killed=oom_killed, stopped=stopped, error=error, message=message,
                          containers=sidecars)


def _exitcode(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _without(combined: bytes, stdout: bytes) -> bytes:
    """The lines of a container's log (stdout and stderr interleaved) that are not its stdout:
    its stderr, as far as lines tell them apart (Kubernetes' log API merges the two)."""
    want = stdout.splitlines(keepends=True)
    at, rest = 0, []
    for line in combined.splitlines(keepends=True):
        if at < len(want) and (line == want[at] or line.rstrip(b"\n") == want[at].rstrip(b"\n")):
            at += 1
        else:
            rest.append(line)
    return b"".join(rest)
