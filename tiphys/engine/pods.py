"""The pod a container or script node runs: its template substituted in the node's scope,
with what the workflow gives every pod (volumes, securityContext), its deadline, and the
StartPod action that asks the shell to run it.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tiphys.engine import actions as A
from tiphys.engine import durations, names, phases, podspecpatch, repositories, results
from tiphys.engine.inputs import KEYED
from tiphys.errors import TiphysError
from tiphys.expr import template as tpl

if TYPE_CHECKING:
    from tiphys.engine.frames import Ctx
    from tiphys.engine.frames import Interpreter as Engine


class _Shared:
    """What every pod of one workflow shares: its volumes, and which templates have no tags."""

    def __init__(self) -> None:
        self.volumes: list[dict[str, Any]] | None = None
        self.static: dict[int, tuple[dict[str, Any], bool]] = {}   # id -> (template, tagless)


def _shared(eng: Engine) -> _Shared:
    found = eng.extras.get("pods")
    if found is None:
        found = eng.extras["pods"] = _Shared()
    return found


def start(eng: Engine, node: dict[str, Any], tmpl: dict[str, Any], ctx: Ctx, sc: Any, bound: dict[str, Any],
          depth: int) -> None:
    queue(eng, node, tmpl, sc, bound)


def queue(eng: Engine, node: dict[str, Any], tmpl: dict[str, Any], sc: Any, bound: dict[str, Any], *,
          is_pod: bool = True, **extra: Any) -> None:
    """Queue the pod of `node` (`extra`: more of its info, such as a kind's `on_start`/`on_exit`);
    a template that cannot be substituted ends the node in Error. `is_pod` False: a step that is
    no pod in Argo (an http node): the workflow's volumes do not apply and it does not count in
    the workflow's progress."""
    nid = node["id"]
    pod = names.pod_name(eng.name, node["name"], tmpl.get("name", ""))
    sc["pod.name"] = pod
    try:
        rendered = _render(eng, tmpl, sc)
        rendered = _pod_level(eng, podspecpatch.apply(eng.spec, rendered)) if is_pod else rendered
        deadline = _deadline(rendered)
    except TiphysError as exc:
        eng.complete(nid, phases.ERROR, str(exc))
        return
    info = {"template": rendered, "pod": pod, "bound": bound, "deadline": deadline, "scope": sc, "is_pod": is_pod,
            "result": results.wanted(eng, node), **extra}
    info["action"] = start_action(nid, info)
    eng.pods.enqueue(nid, info)
    eng.admit()


def start_action(nid: str, info: dict[str, Any]) -> A.StartPod:
    """The StartPod for a pod (`info`: its rendered template, pod name, bound inputs, deadline)."""
    tmpl = info["template"]
    return A.StartPod(
        node_id=nid, pod_name=info["pod"], template=tmpl,
        inputs=_input_artifacts(tmpl, info["bound"]),
        parameter_paths=tuple((p["name"], p["valueFrom"]["path"])
                              for p in (tmpl.get("outputs") or {}).get("parameters") or []
                              if (p.get("valueFrom") or {}).get("path")),
        artifacts=tuple(_output_artifact(a) for a in (tmpl.get("outputs") or {}).get("artifacts") or [] if a.get("path")),
        deadline=info["deadline"][0] if info["deadline"] else None,
        containers=tuple((info.get("containers") or {}).items()))


def _output_artifact(a: dict[str, Any]) -> A.OutputArtifact:
    key, problem = repositories.location(a)
    if isinstance(a.get("s3"), dict):
        problem = None      # an S3 location of its own: the runtime's S3 client reaches it
    return A.OutputArtifact(a["name"], a["path"], "none" if "none" in (a.get("archive") or {}) else "tgz",
                            bool(a.get("optional")), key, problem, declared=a)


def _render(eng: Engine, tmpl: dict[str, Any], sc: Any) -> dict[str, Any]:
    """Substitute a pod template; one without any tag is shared as is (it is never mutated)."""
    static = _shared(eng).static
    found = static.get(id(tmpl))
    if found is None:
        found = static[id(tmpl)] = (tmpl, "{{" not in json.dumps(tmpl))
    return tmpl if found[1] else tpl.render_obj(tmpl, sc, strict=("inputs.",))


def _pod_level(eng: Engine, tmpl: dict[str, Any]) -> dict[str, Any]:
    """What Argo gives every pod of the workflow: `spec.volumes`, a volume per
    `spec.volumeClaimTemplates` claim, and `spec.securityContext` (a template's own win)."""
    extra = _workflow_volumes(eng)
    security = eng.spec.get("securityContext")
    if not extra and not security:
        return tmpl
    out = dict(tmpl)
    if extra:
        own = {v.get("name") for v in tmpl.get("volumes") or [] if isinstance(v, dict)}
        out["volumes"] = [*(tmpl.get("volumes") or []), *(v for v in extra if v.get("name") not in own)]
    if security and "securityContext" not in tmpl:
        out["securityContext"] = security
    return out


def _workflow_volumes(eng: Engine) -> list[dict[str, Any]]:
    shared = _shared(eng)
    found = shared.volumes
    if found is None:
        found = [v for v in eng.spec.get("volumes") or [] if isinstance(v, dict)]
        for claim in eng.spec.get("volumeClaimTemplates") or []:
            name = ((claim or {}).get("metadata") or {}).get("name")
            if name:
                found.append({"name": name, "persistentVolumeClaim": {"claimName": f"{eng.name}-{name}"}})
        shared.volumes = found
    return found


def _deadline(tmpl: dict[str, Any]) -> tuple[float, str] | None:
    found: list[tuple[float, str]] = []
    if tmpl.get("activeDeadlineSeconds") not in (None, ""):
        found.append((durations.seconds(tmpl["activeDeadlineSeconds"], "activeDeadlineSeconds"),
                      "Pod was active on the node longer than the specified deadline"))
    if tmpl.get("timeout") not in (None, ""):
        found.append((durations.seconds(tmpl["timeout"], "timeout"), "Step exceeded its deadline"))
    return min(found) if found else None


def _input_artifacts(tmpl: dict[str, Any], bound: dict[str, Any]) -> tuple[A.InputArtifact, ...]:
    found = []
    for decl in (tmpl.get("inputs") or {}).get("artifacts") or []:
        art = bound["artifacts"].get(decl["name"])
        if art is None or not decl.get("path"):
            continue
        source = {k: v for k, v in art.items() if k not in ("raw", "subPath", "mode", KEYED)} if "raw" not in art else None
        key = repositories.location(decl)[0] if art.get(KEYED) else None
        if key:   # the key as the template gives it once its inputs are substituted
            source = {**(source or {}), "local": {"key": key}}
        found.append(A.InputArtifact(
            name=decl["name"], path=decl["path"], source=source,
            raw=art.get("raw"), sub_path=art.get("subPath") or decl.get("subPath"),
            mode=art.get("mode") or decl.get("mode")))
    return tuple(found)
