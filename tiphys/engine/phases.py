"""Node and workflow phases, and their pure predicates."""
from __future__ import annotations

PENDING, RUNNING, SUCCEEDED, SKIPPED, FAILED, ERROR, OMITTED = (
    "Pending", "Running", "Succeeded", "Skipped", "Failed", "Error", "Omitted")

COMPLETED = frozenset({SUCCEEDED, SKIPPED, FAILED, ERROR, OMITTED})
UNSUCCESSFUL = frozenset({FAILED, ERROR})


def completed(phase: str) -> bool:
    return phase in COMPLETED


def failed_or_error(phase: str) -> bool:
    return phase in UNSUCCESSFUL


def continues_on(step: dict, phase: str) -> bool:
    """Whether a step/task's `continueOn` lets its parent go on despite `phase`."""
    cont = step.get("continueOn") or {}
    return (phase == FAILED and bool(cont.get("failed"))) or (phase == ERROR and bool(cont.get("error")))
