"""`http` and `data` templates: steps the shell carries out itself instead of in a process.

In Argo an `http` template is a node of type HTTP whose request the workflow's agent pod
makes, and a `data` template a pod running `argoexec data`, which lists the object keys of an
artifact location and passes them through expr-lang transformations. Here both are queued as
pods (so parallelism, deadlines, stop and retryStrategy apply as to any step); the shell only
does the I/O (the request, the listing) and answers with a PodExited whose `reply` holds what
it got. What that answer means is decided here: the default 2xx rule or `successCondition`
for a response, the transformations for the keys, the node's phase, message and result.
"""
from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from tiphys.engine import actions as A
from tiphys.engine import phases, pods
from tiphys.errors import TiphysError
from tiphys.expr import exprlang, gofmt

if TYPE_CHECKING:
    from tiphys.engine.frames import Ctx
    from tiphys.engine.frames import Interpreter as Engine


KINDS = ("http", "data")     # the template kinds this module runs


def start(eng: Engine, node: dict[str, Any], tmpl: dict[str, Any], ctx: Ctx, sc: Any, bound: dict[str, Any],
          depth: int) -> None:
    """Queue an http or data node; an http node is no pod (no workflow volumes, no progress)."""
    pods.queue(eng, node, tmpl, sc, bound, is_pod="http" not in tmpl,
               on_exit=lambda info, ev: outcome(info, ev, eng.stopping))


def outcome(info: dict[str, Any], ev: A.PodExited, stopping: str | None) -> tuple[str, str | None, dict[str, Any]]:
    """Phase, message and outputs of a finished http or data node."""
    tmpl = info["template"]
    if ev.error:
        return phases.ERROR, ev.error, {}
    if ev.deadline_exceeded:
        return phases.FAILED, (info["deadline"] or (0, "Step exceeded its deadline"))[1], {}
    if ev.stopped:
        return phases.FAILED, stopping or "Stopped", {}
    reply = ev.reply or {}
    if "http" in tmpl:
        return _http(tmpl["http"] or {}, reply)
    return _data(tmpl["data"] or {}, reply)


def _http(spec: dict[str, Any], reply: dict[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
    if "statusCode" not in reply:
        return phases.FAILED, str(reply.get("error") or "the HTTP request gave no response"), {}
    code, body = int(reply["statusCode"]), str(reply.get("body") or "")
    outs = {"result": body}
    condition = str(spec.get("successCondition") or "")
    if not condition:
        if 200 <= code < 300:
            return phases.SUCCEEDED, None, outs
        return phases.FAILED, f"received non-2xx response code: {code}", outs
    try:
        env = {"request": request_view(spec),
               "response": {"statusCode": code, "body": body, "headers": dict(reply.get("headers") or {})}}
        ok = exprlang.evaluate(condition, env)
    except TiphysError as exc:
        return phases.FAILED, str(exc), {}
    if not isinstance(ok, bool):
        return phases.FAILED, f"successCondition '{condition}': expected a boolean, got {gofmt.marshal(ok)}", {}
    if not ok:
        return phases.FAILED, f"successCondition '{condition}' evaluated false", outs
    return phases.SUCCEEDED, None, outs


def request_view(spec: dict[str, Any]) -> dict[str, Any]:
    """`request` as a successCondition sees it: the template's own fields (a header taken
    from a secret shows an empty value, as in Argo)."""
    headers: dict[str, list[str]] = {}
    for h in spec.get("headers") or []:
        if isinstance(h, dict) and h.get("name"):
            headers.setdefault(canonical_header(str(h["name"])), []).append(str(h.get("value") or ""))
    return {"method": str(spec.get("method") or ""), "url": str(spec.get("url") or ""),
            "body": str(spec.get("body") or ""), "bodyBytes": list(body_bytes(spec)), "headers": headers}


def body_bytes(spec: dict[str, Any]) -> bytes:
    """The request body: `bodyFrom.bytes` (base64, as a Go []byte in YAML) wins over `body`."""
    source = spec.get("bodyFrom")
    if isinstance(source, dict) and source.get("bytes") is not None:
        try:
            return base64.b64decode(str(source["bytes"]), validate=True)
        except (binascii.Error, ValueError):
            raise TiphysError("http.bodyFrom.bytes: not valid base64") from None
    return str(spec.get("body") or "").encode()


def canonical_header(name: str) -> str:
    """Go's canonical form of a header name (`content-type` -> `Content-Type`)."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _data(spec: dict[str, Any], reply: dict[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
    """Argo's data.ProcessData over the keys the shell listed."""
    if "keys" not in reply:
        why = reply.get("error") or "no valid source is used for data template"
        return phases.FAILED, f"unable to process data template: unable to process data source: {why}", {}
    data: Any = list(reply["keys"])
    for i, step in enumerate(spec.get("transformation") or []):
        expression = (step or {}).get("expression") if isinstance(step, dict) else None
        if not expression:
            continue
        try:
            data = exprlang.evaluate(str(expression), {"data": data})
        except TiphysError as exc:
            return phases.FAILED, ("unable to process data template: unable to process data transformation: "
                                   f"error processing data step {i}: {exc}"), {}
    return phases.SUCCEEDED, None, {"result": gofmt.marshal(data)}
