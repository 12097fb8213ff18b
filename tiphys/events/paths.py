"""The two path languages Argo Events uses on an event: gjson to read (`body.commits.#.id`,
`header.Content-Type.0`, `a\\.b`) and sjson to write a trigger parameter's `dest`
(`spec.arguments.parameters.0.value`, `-1` appends). The subset here is what Sensors use:
keys, escaped dots, array indexes, `#` (length) and `#.key` (a key of every element),
multipaths joined by `,`; gjson queries (`#(...)`) and modifiers are not read."""
from __future__ import annotations

import json
from typing import Any

MISSING = object()


def split(path: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(path):
        ch = path[i]
        if ch == "\\" and i + 1 < len(path):
            cur.append(path[i + 1])
            i += 2
            continue
        if ch == ".":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _get(value: Any, parts: list[str]) -> Any:
    for n, part in enumerate(parts):
        if isinstance(value, list):
            if part == "#":
                rest = parts[n + 1:]
                if not rest:
                    return len(value)
                found = [_get(v, rest) for v in value]
                return [v for v in found if v is not MISSING]
            if part.isdigit() and int(part) < len(value):
                value = value[int(part)]
                continue
            return MISSING
        if isinstance(value, dict) and part in value:
            value = value[part]
            continue
        return MISSING
    return value


def get(document: Any, path: str) -> Any:
    """The value at a gjson path, or MISSING. A path with top-level commas is a multipath:
    the values found, as a list."""
    if "," in path and not path.startswith("{"):
        found = [get(document, p) for p in _split_commas(path)]
        return [v for v in found if v is not MISSING]
    return _get(document, split(path))


def _split_commas(path: str) -> list[str]:
    out, cur, esc = [], [], False
    for ch in path:
        if esc:
            cur.append("\\" + ch)
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == ",":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def text(value: Any) -> str:
    """A gjson result as a string: strings unquoted, the rest as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def put(document: Any, path: str, value: Any) -> Any:
    """sjson set: write `value` at `path` (creating maps; an index one past the end or -1
    appends); returns the document."""
    parts = split(path)
    node = document
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        nxt = None if last else parts[n + 1]
        if isinstance(node, list):
            idx = len(node) if part == "-1" else int(part) if part.isdigit() else None
            if idx is None:
                raise KeyError(f"{path}: {part!r} is not an index of a list")
            while len(node) < idx:
                node.append(None)
            if last:
                if idx == len(node):
                    node.append(value)
                else:
                    node[idx] = value
                return document
            if idx == len(node):
                node.append([] if nxt and (nxt.isdigit() or nxt == "-1") else {})
            if not isinstance(node[idx], (dict, list)):
                node[idx] = [] if nxt and (nxt.isdigit() or nxt == "-1") else {}
            node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[part] = value
                return document
            if not isinstance(node.get(part), (dict, list)):
                node[part] = [] if nxt and (nxt.isdigit() or nxt == "-1") else {}
            node = node[part]
        else:
            raise KeyError(f"{path}: cannot set below a {type(node).__name__}")
    return document
