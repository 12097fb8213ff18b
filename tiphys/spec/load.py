"""Reading Argo manifests (YAML or JSON, one or many documents per file).

    load_file(path)            -> list[Manifest]   raises SpecError on the first bad document
    load_text(text, file)      -> list[Manifest]   same, from a string
    load_text_all(text, file)  -> (manifests, errors)  keeps going past bad documents
                                  (used by lint to report every problem)

`Manifest.index` is the 0-based position of the document in its file (empty documents
count, so the number matches what an editor shows); messages print it 1-based
("document 1" is the first document). `SpecError.document` is that 1-based number.

YAML timestamps are kept as strings (as Kubernetes/Argo do), so `raw` stays JSON-compatible.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tiphys.errors import SpecError

ARGO_API_VERSION = "argoproj.io/v1alpha1"
ARGO_KINDS = frozenset({"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"})

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader without the implicit timestamp type (dates stay strings)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


_STR = "tag:yaml.org,2002:str"


class _Unusual(Exception):
    """The fast reader met something it leaves to PyYAML (explicit tag, merge key...)."""


# What aliases may add to one document, in nodes (a "billion laughs" bomb adds billions): a
# document is refused while it is read, before anything expands it. Documents without
# aliases are never refused, whatever their size.
MAX_ALIAS_NODES = 1_000_000


class _TooBig(Exception):
    """A document's aliases expand past MAX_ALIAS_NODES, or an alias refers to itself."""

    def __init__(self, message: str, docs_before: int):
        super().__init__(message)
        self.docs_before = docs_before


def _too_big(expanded: int, literal: int, docs: int) -> _TooBig:
    return _TooBig(f"YAML aliases expand this document to more than {literal + MAX_ALIAS_NODES:,} nodes "
                   f"({expanded:,} so far from {literal:,} written): refused (an alias bomb?)", docs)


def _read_fast(text: str, docs: list[Any]) -> None:
    """Append each document of `text` to `docs`, building plain dicts/lists/scalars straight
    from the libyaml event stream (about twice as fast as composing a node graph first).
    Raises yaml.YAMLError on bad syntax and _Unusual for what PyYAML must handle."""
    loader = _Loader(text)
    try:
        resolve = loader.resolve
        constructors = loader.yaml_constructors
        first_chars = loader.yaml_implicit_resolvers
        scalar_node = yaml.ScalarNode
        ev_scalar, ev_map, ev_seq = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
        ev_end = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
        ev_alias, ev_doc_end = yaml.AliasEvent, yaml.DocumentEndEvent
        anchors: dict[str, Any] = {}
        sizes: dict[str, int] = {}      # anchor -> nodes its value expands to
        stack: list[list] = []          # [container, is_map, key, have_key, nodes inside, anchor]
        root: list[Any] = [None]
        count = [0, 0]                  # nodes of the document: expanded, written

        def grow(n: int, written: int) -> None:
            count[0] += n
            count[1] += written
            if count[0] - count[1] > MAX_ALIAS_NODES:
                raise _too_big(count[0], count[1], len(docs))
            if stack:
                stack[-1][4] += n

        def add(value: Any) -> None:
            if not stack:
                root[0] = value
                return
            frame = stack[-1]
            if frame[1]:
                if frame[3]:
                    frame[0][frame[2]] = value
                    frame[3] = False
                else:
                    if isinstance(value, (dict, list)):
                        raise _Unusual("complex mapping key")
                    frame[2], frame[3] = value, True
            else:
                frame[0].append(value)

        while True:
            ev = loader.get_event()
            if ev is None:
                break
            cls = type(ev)
            if cls is ev_scalar:
                tag, v = ev.tag, ev.value
                if tag not in (None, "!"):
                    if tag != _STR:
                        raise _Unusual("explicit tag")
                elif tag is None and ev.implicit[0] and (not v or v[0] in first_chars):
                    rtag = resolve(scalar_node, v, (True, False))
                    if rtag != _STR:
                        if rtag == "tag:yaml.org,2002:merge":
                            raise _Unusual("merge key")
                        v = constructors[rtag](loader, scalar_node(rtag, v))
                if ev.anchor:
                    anchors[ev.anchor] = v
                    sizes[ev.anchor] = 1
                add(v)
                grow(1, 1)
            elif cls is ev_map or cls is ev_seq:
                if ev.tag not in (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
                    raise _Unusual("explicit tag")
                obj: Any = {} if cls is ev_map else []
                if ev.anchor:
                    anchors[ev.anchor] = obj
                add(obj)
                grow(1, 1)
                stack.append([obj, cls is ev_map, None, False, 0, ev.anchor])
            elif cls in ev_end:
                frame = stack.pop()
                if frame[5]:
                    sizes[frame[5]] = 1 + frame[4]
                if stack:
                    stack[-1][4] += frame[4]
            elif cls is ev_alias:
                if ev.anchor not in anchors:
                    raise _Unusual("unknown alias")   # PyYAML gives the proper error
                if ev.anchor not in sizes:
                    raise _TooBig(f"YAML alias *{ev.anchor} refers to a node that contains it: refused", len(docs))
                add(anchors[ev.anchor])
                grow(sizes[ev.anchor], 0)
            elif cls is ev_doc_end:
                docs.append(root[0])
                root[0] = None
                anchors.clear()
                sizes.clear()
                count[:] = [0, 0]
    finally:
        loader.dispose()


def _read_all(text: str, docs: list[Any]) -> None:
    try:
        _read_fast(text, docs)
    except _Unusual:
        docs.clear()
        loader = _Loader(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                _check_expansion(node, len(docs))
                docs.append(loader.construct_document(node))
        finally:
            loader.dispose()


def _check_expansion(root: yaml.Node, docs: int) -> None:
    """Refuse a composed document whose aliases expand past MAX_ALIAS_NODES (the node graph
    shares aliased nodes, so this counts without expanding anything)."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        kids: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            kids = [x for pair in node.value for x in pair]
        if children_done:
            open_.discard(key)
            sizes[key] = 1 + sum(sizes[id(k)] for k in kids)
            continue
        if key in open_:
            raise _TooBig("YAML alias refers to a node that contains it: refused", docs)
        open_.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in sizes)
    literal = len(sizes)
    if sizes[id(root)] - literal > MAX_ALIAS_NODES:
        raise _too_big(sizes[id(root)], literal, docs)


@dataclass(frozen=True)
class Manifest:
    kind: str
    name: str
    raw: dict = field(repr=False, hash=False)
    file: str = "<stdin>"
    index: int = 0

    @property
    def api_version(self) -> str:
        v = self.raw.get("apiVersion")
        return v if isinstance(v, str) else ""

    @property
    def spec(self) -> dict:
        s = self.raw.get("spec")
        return s if isinstance(s, dict) else {}

    def where(self) -> str:
        return f"{self.file}: document {self.index + 1} ({self.kind} {self.name or '?'})"


def _name_of(doc: dict) -> str:
    meta = doc.get("metadata")
    if isinstance(meta, dict):
        for key in ("name", "generateName"):
            v = meta.get(key)
            if isinstance(v, str) and v:
                return v
    return ""


def _mark_text(err: yaml.YAMLError) -> str:
    def at(mark: Any) -> str:
        return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""

    problem = getattr(err, "problem", None)
    if not problem:
        return str(err).splitlines()[0]
    context = getattr(err, "context", None)
    head = f"{context}{at(getattr(err, 'context_mark', None))}: " if context else ""
    return f"{head}{problem}{at(getattr(err, 'problem_mark', None))}"


def _to_manifest(doc: Any, file: str, index: int) -> Manifest | SpecError | None:
    if doc is None:
        return None
    if not isinstance(doc, dict):
        return SpecError(f"document is not a mapping (got {type(doc).__name__})", file=file, document=index + 1)
    kind, api = doc.get("kind"), doc.get("apiVersion")
    missing = [k for k, v in (("apiVersion", api), ("kind", kind)) if not v]
    if missing:
        return SpecError(f"missing {' and '.join(missing)}", file=file, document=index + 1)
    if not isinstance(kind, str) or not isinstance(api, str):
        return SpecError("apiVersion and kind must be strings", file=file, document=index + 1)
    return Manifest(kind=kind, name=_name_of(doc), raw=doc, file=file, index=index)


def _documents(text: str, file: str) -> tuple[list[Any], SpecError | None]:
    """All documents parsed before the first syntax error, and that error if any."""
    docs: list[Any] = []
    if file.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            return docs, SpecError(f"invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})",
                                   file=file, document=1)
        return ([*data] if isinstance(data, list) else [data]), None
    try:
        _read_all(text, docs)
    except _TooBig as e:
        return docs, SpecError(str(e), file=file, document=e.docs_before + 1)
    except RecursionError:
        return docs, SpecError("invalid YAML: nested too deeply", file=file, document=len(docs) + 1)
    except yaml.YAMLError as e:
        return docs, SpecError(f"invalid YAML: {_mark_text(e)}", file=file, document=len(docs) + 1)
    return docs, None


def load_text_all(text: str, file: str = "<stdin>") -> tuple[list[Manifest], list[SpecError]]:
    """Every good document and every problem (parsing stops at a YAML syntax error)."""
    docs, err = _documents(text, file)
    manifests: list[Manifest] = []
    errors: list[SpecError] = []
    for i, doc in enumerate(docs):
        m = _to_manifest(doc, file, i)
        if isinstance(m, Manifest):
            manifests.append(m)
        elif isinstance(m, SpecError):
            errors.append(m)
    if err is not None:
        errors.append(err)
    return manifests, errors


def load_text(text: str, file: str = "<stdin>") -> list[Manifest]:
    manifests, errors = load_text_all(text, file)
    if errors:
        raise errors[0]
    return manifests


def read_text(path: str | Path) -> str:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("no such file", file=str(path)) from None
    except IsADirectoryError:
        raise SpecError("is a directory", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read: {e}", file=str(path)) from None


def load_file(path: str | Path) -> list[Manifest]:
    return load_text(read_text(path), str(path))


def load_path(path: str) -> list[Manifest]:
    """Every document of a command's FILE argument ('-' reads stdin), each error naming it."""
    import sys
    if path == "-":
        return list(load_text(sys.stdin.read(), file="<stdin>"))
    file = Path(path)
    if not file.exists():
        raise SpecError("no such file or directory", file=path)
    if file.is_dir():
        raise SpecError("is a directory, not a workflow file", file=path)
    try:
        return list(load_file(file))
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", file=path) from exc
