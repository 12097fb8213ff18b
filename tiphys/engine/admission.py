"""A pod the cluster has not admitted yet: its node waits Pending with the refusal's message,
as Argo keeps a node Pending when Kubernetes answers `exceeded quota` (and retries the pod),
then runs once the runtime admits it (engine side of runtime/admission.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from tiphys.engine import actions as A
from tiphys.engine import phases

if TYPE_CHECKING:
    from tiphys.engine.frames import Interpreter as Engine


def pending(eng: Engine, ev: A.PodPending) -> None:
    node = eng.nodes.get(ev.node_id)
    if node is None or phases.completed(node["phase"]):
        return
    if ev.message:
        node["phase"] = phases.PENDING
        node["message"] = ev.message
    else:
        node["phase"] = phases.RUNNING
        node.pop("message", None)
