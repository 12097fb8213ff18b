"""What every command shares: where state lives, opening the store, finding a workflow,
printing an object as JSON/YAML, and whether to colour output.

Configuration is read here (the composition root), never deeper in the engine.
"""
from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

from tiphys.errors import NotFoundError
from tiphys.home import home_dir, open_store
from tiphys.store.sqlite import Store

__all__ = ["dump", "find_workflow", "home_dir", "open_store", "out", "use_color"]


def find_workflow(store: Store, name: str, namespace: str | None = None) -> dict:
    """A stored workflow by name or '@latest'; NotFoundError otherwise."""
    if name == "@latest":
        wf = store.latest(namespace)
        if wf is None:
            raise NotFoundError("no workflows yet: @latest names nothing")
        return wf
    wf = store.get_workflow(name, namespace) if namespace else store.get_workflow(name, None)
    if wf is None:
        where = f" in namespace {namespace!r}" if namespace else ""
        raise NotFoundError(f'workflow "{name}" not found{where}')
    return wf


def use_color(stream: IO[str]) -> bool:
    """Colour only on a terminal, never with NO_COLOR set (https://no-color.org)."""
    if "NO_COLOR" in os.environ:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def dump(obj: Any, output: str) -> str:
    if output == "json":
        return json.dumps(obj, indent=2, ensure_ascii=False)
    import yaml
    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, default_flow_style=False).rstrip("\n")


def out(text: str) -> None:
    if text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
