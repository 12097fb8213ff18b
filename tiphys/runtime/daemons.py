"""Telling the engine that a daemon step is up (`PodStarted`), as the kubelet tells Argo.

A daemon node turns daemoned once its pod is Ready: at once without a `readinessProbe`, else
when the probe first succeeds. `httpGet` (any status from 200 to 399) and `tcpSocket` probes are
run against the step's address; an `exec` probe cannot be run inside the step's sandbox from
here, so it counts as passed after `initialDelaySeconds` (logged once). Probes are tried every
`periodSeconds`, at most every second (Kubernetes' default is 10 s; sooner does not change the
outcome, only when dependents start).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any


from tiphys.engine import actions as A

log = logging.getLogger("tiphys.runtime")
LOCAL_IP = "127.0.0.1"   # host, sandbox and host-network containers share the host's network


def address(handle: Any) -> str:
    """Where other steps reach the step (`{{steps.x.ip}}`)."""
    return str(getattr(handle, "ip", None) or LOCAL_IP)


async def announce(action: A.StartPod, handle: Any, put: Callable[[A.Event], None]) -> None:
    """Wait until the daemon step is ready, then report it; cancelled when the step ends first."""
    ip = address(handle)
    body = action.template.get("container") or action.template.get("script") or {}
    probe = body.get("readinessProbe") if isinstance(body.get("readinessProbe"), dict) else None
    if probe:
        await _probe_until_ready(probe, body, ip, action.pod_name)
    put(A.PodStarted(action.node_id, ip))


async def _probe_until_ready(probe: dict[str, Any], body: dict[str, Any], ip: str, pod: str) -> None:
    await asyncio.sleep(_number(probe.get("initialDelaySeconds"), 0.0))
    period = min(_number(probe.get("periodSeconds"), 10.0), 1.0)
    timeout = _number(probe.get("timeoutSeconds"), 1.0)
    if "exec" in probe and not ("httpGet" in probe or "tcpSocket" in probe):
        log.warning("step %s: readinessProbe.exec is not run by Tiphys; the daemon counts as ready", pod)
        return
    while not await _check(probe, body, ip, timeout):
        await asyncio.sleep(period)


async def _check(probe: dict[str, Any], body: dict[str, Any], ip: str, timeout: float) -> bool:
    if isinstance(probe.get("httpGet"), dict):
        get = probe["httpGet"]
        port = _port(get.get("port"), body)
        scheme = str(get.get("scheme") or "HTTP").lower()
        host = str(get.get("host") or ip)
        path = str(get.get("path") or "/")
        headers = {str(h.get("name")): str(h.get("value")) for h in get.get("httpHeaders") or [] if isinstance(h, dict)}
        import httpx   # here: a tenth of a second of start-up that runs without daemons do not pay
        try:
            async with httpx.AsyncClient(verify=False, timeout=timeout) as client:
                response = await client.get(f"{scheme}://{host}:{port}{path}", headers=headers)
            return 200 <= response.status_code < 400
        except (httpx.HTTPError, OSError):
            return False
    if isinstance(probe.get("tcpSocket"), dict):
        sock = probe["tcpSocket"]
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(str(sock.get("host") or ip), _port(sock.get("port"), body)), timeout)
        except (OSError, asyncio.TimeoutError):
            return False
        writer.close()
        return True
    return True


def _port(value: Any, body: dict[str, Any]) -> int:
    """A probe's port: a number, or the name of one of the container's `ports`."""
    if isinstance(value, str) and not value.isdigit():
        for p in body.get("ports") or []:
            if isinstance(p, dict) and p.get("name") == value:
                return int(p.get("containerPort") or 0)
        return 0
    return int(value or 0)


def _number(value: Any, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default
