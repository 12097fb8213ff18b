"""Artifact garbage collection (Argo's artifactGC): each output artifact's strategy is its own
`artifactGC.strategy`, else `spec.artifactGC.strategy`: `OnWorkflowCompletion` (deleted when the
workflow ends), `OnWorkflowDeletion` (when it is deleted), `Never` or unset (kept).
`status.artifactGCStatus` records what was processed (`notSpecified: true` when no artifact
has a strategy), as Argo does. An object already gone is fine; a failure is reported on the
workflow's status conditions (ArtifactGCError), never raised."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("tiphys.artifacts")
COMPLETION, DELETION = "OnWorkflowCompletion", "OnWorkflowDeletion"
STRATEGIES = (COMPLETION, DELETION, "Never", "")


def _strategy(art: dict[str, Any], spec: dict[str, Any]) -> str:
    own = (art.get("artifactGC") or {}).get("strategy") if isinstance(art.get("artifactGC"), dict) else None
    if own:
        return str(own)
    return str(((spec.get("artifactGC") or {}).get("strategy")) or "")


def _outputs(wf: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for node in ((wf.get("status") or {}).get("nodes") or {}).values():
        for art in (node.get("outputs") or {}).get("artifacts") or []:
            if isinstance(art, dict):
                yield art


def wanted(wf: dict[str, Any], event: str) -> bool:
    """Whether some output artifact of the workflow is to be deleted on `event`."""
    spec = wf.get("spec") or {}
    events = {event} | ({COMPLETION} if event == DELETION else set())
    return any(_strategy(a, spec) in events for a in _outputs(wf))


def collect(wf: dict[str, Any], repos: Any, event: str) -> None:
    """Delete the artifacts whose strategy is `event` (on deletion: those of completion too,
    as Argo does when a workflow is deleted before its completion GC ran)."""
    spec = wf.get("spec") or {}
    status = wf.setdefault("status", {})
    arts = list(_outputs(wf))
    wanted = {event} | ({COMPLETION} if event == DELETION else set())
    if not any(_strategy(a, spec) in (COMPLETION, DELETION) for a in arts):
        if arts:
            status["artifactGCStatus"] = {"notSpecified": True}
        return
    gc_status = status.setdefault("artifactGCStatus", {})
    processed = gc_status.setdefault("strategiesProcessed", {})
    errors = []
    for art in arts:
        strategy = _strategy(art, spec)
        if strategy not in wanted or processed.get(strategy):
            continue
        try:
            repos.delete(art)
            art.setdefault("deleted", True)
        except Exception as exc:  # noqa: BLE001 - reported on the workflow, never fatal
            log.warning("artifact GC of %s: %s", art.get("name"), exc)
            errors.append(f"{art.get('name')}: {exc}")
    for strategy in wanted:
        processed[strategy] = True
    if errors:
        status.setdefault("conditions", []).append(
            {"type": "ArtifactGCError", "status": "True", "message": "; ".join(errors)})
