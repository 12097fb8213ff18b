"""Where an artifact's own location field (`s3:`, `gcs:`, ...) sends it, given Tiphys's one
repository: the local one under TIPHYS_HOME.

Argo lets an input or output artifact name a location. One that gives only the object's key
(`s3: {key: runs/x/data.tgz}`, Argo's "key-only artifacts") means "this key in the default
artifact repository": Tiphys's default repository is the local one, so the key is used there
(an output saved under a key is found by an input naming the same key, as in Argo).

An S3 location of its own (endpoint, bucket), `http` and `git` inputs are the runtime's
(engine/artifacts.py, tiphys/artifacts/). Any other location that names a repository of its
own (a GCS bucket, Azure...) cannot be reached: Tiphys has no client for it. That is a clear error, as Argo's own failed upload or download would be, never
a silent local copy: an output fails its step only when the step produced the file (an
absent optional output uploads nothing in Argo either); an input fails before the step runs.
"""
from __future__ import annotations

from typing import Any

# the repositories an artifact may name, and the field that holds an object's key in each
KEYED = {"s3": "key", "gcs": "key", "oss": "key", "azure": "blob"}
OTHERS = ("hdfs", "artifactory", "git", "http", "plugin")


def location(art: dict[str, Any]) -> tuple[str | None, str | None]:
    """(key, problem) for an artifact declaration, rendered: `key` is the object key to use in
    the local repository (None: Tiphys picks one); `problem` says why the artifact's location
    cannot be used (None: it can)."""
    for kind in (*KEYED, *OTHERS):
        spec = art.get(kind)
        if spec is None:
            continue
        if not isinstance(spec, dict):
            return None, f"artifact {art.get('name')!r}: {kind} must be an object, got {spec!r}"
        given = {k: v for k, v in spec.items() if v not in (None, "", {}, [])}
        field = KEYED.get(kind)
        if field and set(given) <= {field}:
            key = given.get(field)
            return (str(key).strip("/") or None) if key is not None else None, None
        return None, _unreachable(art.get("name"), kind, spec)
    return None, None


def _unreachable(name: Any, kind: str, spec: dict[str, Any]) -> str:
    where = " ".join(f"{f}={spec[f]}" for f in ("endpoint", "bucket", "container", "url", "repo", "addresses")
                     if spec.get(f) not in (None, "", []))
    field = KEYED.get(kind)
    hint = (f"; a location with only `{field}` uses the local repository" if field else "")
    return (f"artifact {name!r}: its {kind} repository ({where or 'given in the template'}) cannot be reached: "
            f"Tiphys stores artifacts only in its local repository, {kind} is not supported yet{hint}")
