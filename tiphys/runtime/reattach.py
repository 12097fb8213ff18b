"""What a restarted run does with a step the journal says was running (steps outlive Tiphys).

`decide` answers with one of:
- ("attach", identity): the step's process or container may still be there: wait for it (or
  collect it, if it ended meanwhile) through the executor;
- ("start", None): the run died before the step's process was spawned: start it now;
- ("lost", None): its process is gone without a status (a reboot), or it is a kind of step no
  executor can re-attach to yet: it ends in Error, as Argo says of a deleted pod.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tiphys.engine import actions as A
from tiphys.executors import detached
from tiphys.runtime import agent, steps


def decide(executor: Any, dry_run: bool, action: A.StartPod, folder: Path,
           ident: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
    ident = ident or left_identity(folder) or _container_of(executor, dry_run, action)
    if ident is None and _never_spawned(executor, dry_run, action, folder):
        return "start", None
    if ident is None or dry_run or not attachable(executor, action):
        return "lost", None
    return "attach", ident


def attachable(executor: Any, action: A.StartPod) -> bool:
    """Whether a step of this kind runs as one detached process an executor can re-attach to
    (agent, resource and containerSet steps, and pods with sidecars, do not yet)."""
    t = action.template
    whole = getattr(executor, "plays_pods", False)      # sidecars are then in the pod it re-attaches to
    return not (agent.is_agent_step(action) or "containerSet" in t or "resource" in t
                or (t.get("sidecars") and not whole) or getattr(executor, "attach", None) is None)


def _picked(executor: Any, action: A.StartPod) -> str | None:
    pick = getattr(executor, "pick", None)
    body = action.template.get("container") or action.template.get("script") or {}
    return pick(str(body.get("image", ""))) if pick is not None else None


def _never_spawned(executor: Any, dry_run: bool, action: A.StartPod, workdir: Path) -> bool:
    """Whether a step journaled as starting surely got no process: its status file, made
    just before a host or sandbox step's process is spawned, is not there."""
    if dry_run or not attachable(executor, action):
        return False
    if getattr(executor, "pick", None) is not None and _picked(executor, action) not in ("host", "sandbox"):
        return False
    return not any((d / detached.STATUS).exists() for d in (workdir, workdir / steps.PRIVATE))


def _container_of(executor: Any, dry_run: bool, action: A.StartPod) -> dict[str, Any] | None:
    """A docker or kubernetes step with no journaled identity (the run died while creating its
    container or pod): the executor looks for it (labels, the pod's name), and starts it if there
    is none."""
    picked = None if dry_run else _picked(executor, action)
    return {"executor": picked} if picked in ("docker", "kubernetes") else None


def left_identity(workdir: Path) -> dict[str, Any] | None:
    """The identity a step's process left in its folder (the run may have died between starting
    it and journaling it); cleared before each start, so never an older one's."""
    return detached.load_identity(workdir) or detached.load_identity(workdir / steps.PRIVATE)
