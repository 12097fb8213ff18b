"""Whether a pod's stdout becomes its node's `outputs.result`, as Argo decides it.

Argo captures `result` only when the template that called the step (the pod's boundary: the
steps or DAG template around it) names it: `steps.NAME.outputs.result` or
`tasks.NAME.outputs.result` somewhere in that template (arguments, `when`, `depends`,
outputs, hooks). A pod with no boundary (the entrypoint or an exit handler run on its own)
keeps no result. NAME is the step or task name, without the `(0:item)`/`(1)` suffixes of loop
items and retries. References in expressions (`steps['NAME'].outputs.result`) count too.
"""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiphys.engine.frames import Interpreter as Engine

_KEY = "results"          # eng.extras: boundary node id -> its template's text
_PAIRS = {")": "(", "]": "["}


def remember(eng: Engine, node: dict[str, Any], tmpl: dict[str, Any]) -> None:
    """A steps or DAG node starts: keep its template's text for the pods it will call."""
    if "steps" in tmpl or "dag" in tmpl:
        eng.extras.setdefault(_KEY, {})[node["id"]] = json.dumps(tmpl)


def wanted(eng: Engine, node: dict[str, Any]) -> bool:
    """Whether the pod of `node` keeps its stdout as `outputs.result`."""
    boundary = node.get("boundaryID")
    if not boundary:
        return False
    text = eng.extras.get(_KEY, {}).get(boundary)
    if text is None:        # its boundary ran before this engine (kept from an earlier run)
        return True
    return names_outputs(text, step_name(str(node.get("displayName") or "")), ".result")


def names_outputs(text: str, step: str, field: str = "") -> bool:
    """Whether `text` (a template as JSON) refers to `steps.STEP.outputs` (or tasks., or
    `steps['STEP']` in an expression), followed by `field` (e.g. `.result`)."""
    name = re.escape(step)
    pattern = rf"(?:steps|tasks)(?:\.{name}|\[\\*['\"]{name}\\*['\"]\])\.outputs{re.escape(field)}"
    return re.search(pattern, text) is not None


def step_name(display: str) -> str:
    """The step or task name of a node: its display name less the `(0:item)` / `(1)` / `[0]`
    groups loops and retries append, items holding brackets of their own included."""
    while display and display[-1] in _PAIRS:
        closer, depth = display[-1], 0
        for i in range(len(display) - 1, -1, -1):
            if display[i] == closer:
                depth += 1
            elif display[i] == _PAIRS[closer]:
                depth -= 1
                if depth == 0:
                    display = display[:i]
                    break
        else:
            return display          # unbalanced: keep the name as it is
    return display
