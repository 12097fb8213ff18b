"""When a step's container is removed: the workflow's `podGC`, decided as Argo decides it.

Pure: the docker executor asks these questions and acts on the answers.

    OnPodCompletion        each container as soon as its step ends
    OnPodSuccess           each container whose step succeeded, as soon as it ends; the others
                           stay until the workflow is deleted
    OnWorkflowCompletion   all of them when the workflow ends
    OnWorkflowSuccess      all of them when the workflow ends Succeeded; otherwise they stay
                           until the workflow is deleted
    (no podGC)             Argo keeps pods until the workflow is deleted. Tiphys removes them
                           when the workflow ends, as OnWorkflowCompletion: their logs and
                           outputs are in its store already, and nothing would ever delete a
                           workflow that `tiphys run` ran once. Say OnWorkflowSuccess to keep
                           the containers of a failed workflow.

`labelSelector` (matchLabels, matchExpressions) limits the removal to the containers whose
pod labels match; the others stay until the workflow is deleted. `deleteDelayDuration`
delays each removal.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tiphys.engine.durations import seconds
from tiphys.errors import SpecError

STRATEGIES = ("OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess")
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True)
class PodGC:
    strategy: str = ""                                 # "" when the workflow sets none
    delay: float = 0.0                                 # deleteDelayDuration, seconds
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()   # (key, operator, values)

    def selects(self, labels: Mapping[str, str]) -> bool:
        """Whether a container with these pod labels is one podGC removes."""
        if any(labels.get(k) != v for k, v in self.match_labels):
            return False
        for key, op, values in self.match_expressions:
            present = key in labels
            if op == "In" and not (present and labels[key] in values):
                return False
            if op == "NotIn" and present and labels[key] in values:
                return False
            if op == "Exists" and not present:
                return False
            if op == "DoesNotExist" and present:
                return False
        return True

    def at_step_end(self, labels: Mapping[str, str], succeeded: bool) -> bool:
        """Remove the container as soon as its step has ended?"""
        if not self.selects(labels):
            return False
        return self.strategy == "OnPodCompletion" or (self.strategy == "OnPodSuccess" and succeeded)

    def at_workflow_end(self, labels: Mapping[str, str], phase: str) -> bool:
        """Remove a container still there when the workflow ends in `phase`?"""
        if not self.selects(labels):
            return False
        if self.strategy in ("", "OnWorkflowCompletion", "OnPodCompletion"):
            return True
        return self.strategy == "OnWorkflowSuccess" and phase == "Succeeded"

    def orphan(self, labels: Mapping[str, str], exit_code: int | None) -> bool:
        """Remove a container left by a Tiphys process that died? Its workflow is resumed
        elsewhere (where the step is lost and runs again) or already over; kept only where
        the strategy keeps a failed step's container or waits for the workflow's outcome."""
        if not self.selects(labels):
            return False
        if self.strategy == "OnPodSuccess":
            return exit_code == 0
        return self.strategy != "OnWorkflowSuccess"


def parse(value: Any, where: str = "spec.podGC") -> PodGC:
    """A workflow's `podGC` (None or a mapping); SpecError naming the field when it is wrong."""
    if value is None:
        return PodGC()
    if not isinstance(value, Mapping):
        raise SpecError("must be a mapping", path=where)
    strategy = value.get("strategy") or ""
    if strategy and strategy not in STRATEGIES:
        raise SpecError(f"{strategy!r} is not one of {', '.join(STRATEGIES)}", path=f"{where}.strategy")
    delay = 0.0
    if value.get("deleteDelayDuration") not in (None, ""):
        delay = seconds(value["deleteDelayDuration"], f"{where}.deleteDelayDuration")
    selector = value.get("labelSelector") or {}
    if not isinstance(selector, Mapping):
        raise SpecError("must be a mapping", path=f"{where}.labelSelector")
    labels = selector.get("matchLabels") or {}
    if not isinstance(labels, Mapping):
        raise SpecError("must be a mapping", path=f"{where}.labelSelector.matchLabels")
    expressions = []
    for i, e in enumerate(selector.get("matchExpressions") or []):
        at = f"{where}.labelSelector.matchExpressions[{i}]"
        if not isinstance(e, Mapping) or not e.get("key"):
            raise SpecError("needs a key", path=at)
        op = e.get("operator")
        if op not in _OPERATORS:
            raise SpecError(f"{op!r} is not one of {', '.join(_OPERATORS)}", path=f"{at}.operator")
        values = tuple(str(v) for v in e.get("values") or [])
        if op in ("In", "NotIn") and not values:
            raise SpecError(f"{op} needs values", path=f"{at}.values")
        expressions.append((str(e["key"]), op, values))
    return PodGC(strategy, delay, tuple((str(k), str(v)) for k, v in labels.items()), tuple(expressions))


def to_label(gc: PodGC) -> str:
    """`gc` as a container label value (read back by `from_label`)."""
    return json.dumps([gc.strategy, gc.delay, gc.match_labels, gc.match_expressions], separators=(",", ":"))


def from_label(text: str | None) -> PodGC | None:
    """The PodGC a container was made under; None when it carries none (or a broken one)."""
    if not text:
        return None
    try:
        strategy, delay, labels, expressions = json.loads(text)
        return PodGC(str(strategy), float(delay), tuple((str(k), str(v)) for k, v in labels),
                     tuple((str(k), str(op), tuple(str(v) for v in vs)) for k, op, vs in expressions))
    except (ValueError, TypeError):
        return None
