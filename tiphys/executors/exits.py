"""Waiting for a step's container to exit, and reading its exit code, through a Docker-API
engine (the docker executor's `_Run` calls `wait_exit` from a thread).

The engine's wait endpoint answers once the container has exited: podman's own endpoint
(polling every `poll`; its compat one, asked right after start, may see the container
still "created" and answer -1), or Docker's. An engine that cannot give the code (podman
4.3 may answer -1 while it is still reading conmon's exit file, or fail the request
with "no such exit code"), or a wait cut short (the service restarted), is not taken as
the step's result: the container's state is read until it says exited, with its code.
Only a container that vanished meanwhile has no exit code (RuntimeError).

A step whose program could not be exec'd gets the code a shell gives (127 not found, 126
not executable: `not_runnable`, `shell_code`); any other failure to start is an Error,
tried again first when it is the engine's own hiccup (`transient`).
"""
from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

log = logging.getLogger(__name__)

EXITED = ("exited", "stopped", "dead")


def wait_exit(api: Any, cid: str, *, podman: bool, poll: str = "10ms") -> int:
    """Block until the container `cid` has exited; its exit code."""
    try:
        code = _engine_wait(api, cid, podman, poll)
    except Exception as e:  # noqa: BLE001 - any failure of the wait falls back to the state
        if getattr(e, "status_code", None) == 404:
            raise RuntimeError("the step's container was removed before it exited") from e
        log.warning("container %s: the engine's wait failed (%s); reading its state instead", cid[:12], e)
        code = -1
    if code >= 0:
        return code
    return exit_from_state(api, cid)


def _engine_wait(api: Any, cid: str, podman: bool, poll: str) -> int:
    if podman:
        res = api._post(f"{api.base_url}/v4.0.0/libpod/containers/{cid}/wait", timeout=None,
                        params=[("condition", "stopped"), ("condition", "exited"), ("interval", poll)])
        text = api._result(res, False).strip()
        if text.lstrip("-").isdigit():
            return int(text)
        raise RuntimeError(f"unexpected answer {text[:200]!r}")
    res = api._post(api._url("/containers/{0}/wait", cid), params={"interval": poll}, timeout=None)
    status = api._result(res, True)
    problem = (status.get("Error") or {}).get("Message") if isinstance(status.get("Error"), dict) else None
    code = int(status.get("StatusCode", -1))
    if problem and code < 0:
        raise RuntimeError(problem)
    return code


def exit_from_state(api: Any, cid: str, settle: float = 10.0, unreachable: float = 60.0) -> int:
    """Read the container's state until it has exited (as long as it runs) and its exit
    code is known (at most `settle` seconds after it stopped running). An engine that
    cannot be asked for `unreachable` seconds in a row is an error (RuntimeError)."""
    pause, stopped_at, failing_since = 0.02, None, None
    while True:
        try:
            state = api.inspect_container(cid).get("State") or {}
            failing_since = None
        except Exception as e:  # noqa: BLE001
            if getattr(e, "status_code", None) == 404:
                raise RuntimeError("the step's container was removed before its exit code was read") from e
            if failing_since is None:
                failing_since = time.monotonic()
                log.warning("container %s: cannot read its state (%s); trying again", cid[:12], e)
            elif time.monotonic() - failing_since > unreachable:
                raise RuntimeError(f"the container engine has not answered for {unreachable:.0f} s: {e}") from e
            state = None
        if state is not None and not state.get("Running") and str(state.get("Status", "")).lower() in EXITED:
            code = int(state.get("ExitCode", -1))
            if code >= 0:
                return code
            stopped_at = stopped_at or time.monotonic()
            if time.monotonic() - stopped_at > settle:
                log.warning("container %s: exited without an exit code (state %s)", cid[:12], state)
                return -1
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


# -- a step that never ran: the exit code a shell would give, or an engine hiccup

def transient(e: BaseException) -> bool:
    """A failure to create/start a container that another try may not meet: the engine's
    own error (HTTP 5xx) or a dropped connection, not a refusal of the request (4xx)."""
    status = getattr(e, "status_code", None)
    if status is not None:
        return status >= 500
    return isinstance(e, OSError)       # requests' connection errors are OSErrors too


def not_runnable(message: str) -> int | None:
    """127/126 when the engine could not exec the step's program (as a shell reports it);
    None for any other failure to start (an Error: the step did not run)."""
    low = message.lower()
    if "exec:" not in low and "attempted to invoke a command" not in low and "executable file" not in low:
        return None           # e.g. a cgroup or mount failure, which may also say "no such file"
    return shell_code(low)


def shell_code(reason: str) -> int | None:
    """127 for a program not found, 126 for one not executable (`reason`: why exec failed)."""
    low = reason.lower()
    if "not found" in low or "no such file or directory" in low:
        return 127
    if "permission denied" in low:
        return 126
    return None


def exec_target(message: str, fallback: str) -> str:
    m = re.search(r'exec: "?([^":]+)"?:', message)
    return m.group(1) if m else fallback


def kernel_oom(container_id: str) -> bool:
    """Did the kernel log an OOM kill in this container's memory cgroup (/dev/kmsg)?"""
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        while True:
            try:
                record = os.read(fd, 8192)
            except BlockingIOError:
                return False
            except BrokenPipeError:          # overwritten while reading: go on
                continue
            except OSError:
                return False
            if not record:
                return False
            if b"oom-kill:" in record and container_id.encode() in record:
                return True
    finally:
        os.close(fd)
