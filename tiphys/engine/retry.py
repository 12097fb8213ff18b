"""retryStrategy: a Retry node whose children `name(0)`, `name(1)`... are the attempts.

Which failures are retried follows `retryPolicy` (OnFailure by default, Always when only an
`expression` is given), `limit` counts retries after the first attempt (no limit: forever),
and `backoff` waits duration * factor^attempt, capped, within maxDuration.
"""
from __future__ import annotations

from collections import ChainMap
from typing import TYPE_CHECKING, Any

from tiphys.engine import durations, names, phases, scope
from tiphys.errors import TiphysError
from tiphys.expr import exprlang
from tiphys.expr import template as tpl

if TYPE_CHECKING:
    from tiphys.engine.frames import Ctx, Frame
    from tiphys.engine.frames import Interpreter as Engine


def start(eng: Engine, name: str, display: str, tmpl: dict[str, Any], ctx: Ctx, bound: dict[str, Any],
          strategy: dict[str, Any], boundary: str | None, parent: str | None, waiter: Frame, depth: int) -> str:
    node = eng.new_node(name, display, "Retry", template=tmpl.get("name"), boundary=boundary, parent=parent, ctx=ctx)
    eng.tree.waiters[node["id"]] = waiter
    try:
        # as Argo, the template's inputs and the globals are substituted before the strategy is read
        strategy = tpl.render_obj(strategy or {}, ChainMap(scope.template_locals(bound, tmpl, name), eng.globals))
        _check(strategy)
    except TiphysError as exc:
        eng.complete(node["id"], phases.ERROR, str(exc))
        return node["id"]
    RetryFrame(eng, node, tmpl, ctx, bound, strategy, boundary, depth).attempt(0)
    return node["id"]


def _count(value: Any, field: str) -> int | None:
    """An IntOrString count (limit, factor); None when absent."""
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not (isinstance(value, int) or str(value).strip().lstrip("-").isdigit()):
        raise TiphysError(f"retryStrategy.{field}: {value!r} is not an integer")
    return int(str(value).strip())


def _check(strategy: dict[str, Any]) -> None:
    """Fail early and clearly on a strategy whose numbers or durations cannot be read."""
    _count(strategy.get("limit"), "limit")
    backoff = strategy.get("backoff") or {}
    _count(backoff.get("factor"), "backoff.factor")
    for key in ("duration", "cap", "maxDuration"):
        if backoff.get(key) not in (None, ""):
            durations.seconds(backoff[key], f"retryStrategy.backoff.{key}")


def attempt_inputs(bound: dict[str, Any], i: int) -> dict[str, Any]:
    """The inputs of attempt `i`: Argo substitutes `{{retries}}` into the template once its inputs
    are in, so an argument passed as `{{retries}}` (left alone by the caller, as it is not known
    there) becomes the attempt's number."""
    params = bound.get("parameters") or {}
    if not any(isinstance(v, str) and "retries" in v for v in params.values()):
        return bound
    sc = {"retries": str(i)}
    return {**bound, "parameters": {k: tpl.render(v, sc) if isinstance(v, str) else v for k, v in params.items()}}


class RetryFrame:
    def __init__(self, eng: Engine, node: dict[str, Any], tmpl: dict[str, Any], ctx: Ctx, bound: dict[str, Any],
                 strategy: dict[str, Any], boundary: str | None, depth: int):
        self.eng, self.node, self.tmpl, self.ctx, self.bound = eng, node, tmpl, ctx, bound
        self.strategy, self.boundary, self.depth = strategy, boundary, depth
        self.count = 0
        self.first: str | None = None

    def attempt(self, i: int) -> None:
        self.count = i + 1
        nid = self.eng.run_template(f"{self.node['name']}({i})", f"{self.node['displayName']}({i})", self.tmpl,
                              self.ctx, attempt_inputs(self.bound, i), self.boundary, self.node["id"], self, depth=self.depth,
                              retries=i)
        child = self.eng.nodes.get(nid)
        if child is not None:   # Argo flags every attempt `retried` (with the Retry node's own flags)
            child["nodeFlag"] = {**(self.node.get("nodeFlag") or {}), **(child.get("nodeFlag") or {}), "retried": True}
        self.first = self.first or nid

    def child_done(self, eng: Engine, child_id: str) -> None:
        child = eng.nodes[child_id]
        if child.get("outputs"):
            self.node["outputs"] = child["outputs"]
        if child["phase"] == phases.SUCCEEDED:
            eng.complete(self.node["id"], phases.SUCCEEDED)
            return
        self._decide(child, waited=False)

    def child_daemoned(self, eng: Engine, child_id: str) -> None:
        """The current attempt of a daemon is up: this Retry node is daemoned too (daemons.py)."""
        if "podIP" in eng.nodes[child_id]:
            self.node["podIP"] = eng.nodes[child_id]["podIP"]
        if not self.node.get("daemoned"):
            from tiphys.engine import daemons
            daemons.mark(eng, self.node["id"])

    def _decide(self, child: dict[str, Any], *, waited: bool) -> None:
        """Argo's processNodeRetries order: maxDuration, backoff, policy, limit, expression."""
        eng, phase = self.eng, child["phase"]
        if eng.stopping:
            eng.complete(self.node["id"], phase, child.get("message"))
            return
        try:
            if not waited:
                stop, delay = self._backoff()
                if stop:
                    eng.complete(self.node["id"], phase, stop)
                    return
                if delay > 0 and self._under_limit():
                    eng.set_timer(f"retry:{self.node['id']}", eng.now + delay, lambda: self._decide(child, waited=True))
                    return
            message = self._refusal(child)
        except TiphysError as exc:
            eng.complete(self.node["id"], phases.ERROR, str(exc))
            return
        if message is not None:
            eng.complete(self.node["id"], phase, message)
        else:
            self.attempt(self.count)

    def _under_limit(self) -> bool:
        limit = _count(self.strategy.get("limit"), "limit")
        return limit is not None and self.count <= limit

    def _refusal(self, child: dict[str, Any]) -> str | None:
        """Why the failed attempt is not retried (None: retry it)."""
        s, phase = self.strategy, child["phase"]
        policy = s.get("retryPolicy") or ("Always" if s.get("expression") else "OnFailure")
        allowed = {"Always": (phases.FAILED, phases.ERROR), "OnFailure": (phases.FAILED,),
                   "OnError": (phases.ERROR,), "OnTransientError": ()}.get(policy, (phases.FAILED,))
        if phase not in allowed:
            return child.get("message", "")
        limit = _count(s.get("limit"), "limit")
        if limit is not None and self.count > limit:
            return "No more retries left"
        if s.get("expression"):
            started = child.get("startedAt")
            last = {"exitCode": (child.get("outputs") or {}).get("exitCode", "-1"), "status": phase,
                    "duration": str(int(self.eng.now - names.parse_timestamp(started))) if started else "0",
                    "message": child.get("message", "")}
            ok = exprlang.evaluate(str(s["expression"]), {"lastRetry": last})
            if not isinstance(ok, bool):
                raise TiphysError(f"retryStrategy.expression {s['expression']!r} did not give a boolean")
            if not ok:
                return "retryStrategy.expression evaluated to false"
        return None

    def _backoff(self) -> tuple[str | None, float]:
        """(reason to stop, seconds to wait before the next attempt)."""
        b = self.strategy.get("backoff") or {}
        if not b:
            return None, 0.0
        eng = self.eng
        first = eng.nodes[self.first].get("startedAt") if self.first else None
        max_end = None
        if b.get("maxDuration") and first:
            max_end = names.parse_timestamp(first) + durations.seconds(b["maxDuration"], "retryStrategy.backoff.maxDuration")
            if eng.now > max_end:
                return "Max duration limit exceeded", 0.0
        if not b.get("duration"):
            raise TiphysError("no base duration specified for retryStrategy")
        delay = durations.seconds(b["duration"], "retryStrategy.backoff.duration")
        factor = _count(b.get("factor"), "backoff.factor")
        if factor is not None and factor > 0:
            delay *= factor ** (self.count - 1)
        if b.get("cap"):
            delay = min(delay, durations.seconds(b["cap"], "retryStrategy.backoff.cap"))
        if max_end is not None and eng.now + delay > max_end:
            return "Backoff would exceed max duration limit", 0.0
        return None, delay
