"""Artifact locations the engine passes through without touching them: input artifacts
stored elsewhere (an `s3` location with its own bucket/endpoint, `http`, `git`; the runtime
loads them; a key-only `s3` is repositories.py's) and output artifacts a step produced
without declaring them (`main-logs` of archiveLogs)."""
from __future__ import annotations

from typing import Any

FETCHED = ("s3", "http", "git")


def location(art: dict[str, Any]) -> dict[str, Any] | None:
    """An input artifact's source when it names one the runtime can load, else None."""
    for kind in FETCHED:
        spec = art.get(kind)
        if not isinstance(spec, dict):
            continue
        if kind == "s3" and not {k for k, v in spec.items() if v not in (None, "", {}, [])} - {"key"}:
            return None     # key-only: the default repository's object (repositories.py)
        found: dict[str, Any] = {kind: spec, "subPath": art.get("subPath"), "mode": art.get("mode")}
        if art.get("archive"):
            found["archive"] = art["archive"]
        if art.get("optional"):
            found["optional"] = True
        return found
    return None


def undeclared(tmpl: dict[str, Any], saved: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Artifacts the shell saved beyond the template's outputs (e.g. `main-logs`), in Argo's record shape."""
    declared = {a.get("name") for a in (tmpl.get("outputs") or {}).get("artifacts") or [] if isinstance(a, dict)}
    return [{"name": name, **loc} for name, loc in saved.items() if name not in declared and loc]
