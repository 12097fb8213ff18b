"""`tiphys lint` and `tiphys template|cluster-template create|get|list|delete|lint`."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from tiphys.cli import home as state
from tiphys.cli import render
from tiphys.errors import NotFoundError, SpecError


def cmd_lint(args: argparse.Namespace) -> int:
    from tiphys.spec import lint
    for path in args.paths:
        if path != "-" and not Path(path).exists():
            raise SpecError("no such file or directory", file=path)
    with state.open_store() as store:
        issues = list(lint.lint_paths([Path(p) for p in args.paths], store.registry))
    for issue in issues:
        print(str(issue))
    if issues:
        print(f"✖ {len(issues)} linting error{'s' if len(issues) != 1 else ''} found!")
        return 1
    print("✔ no linting errors found!")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    from tiphys.cli import run
    kind = args.kind
    manifests = [m for path in args.files for m in run.load_manifests(path)]
    with state.open_store() as store:
        if not run.lint_or_report(manifests, store):
            return 1
        created = []
        for m in manifests:
            if m.kind == kind:
                created.append(store.save_template(kind, m.raw))
            else:
                print(f"tiphys: {m.file}: skipping {m.kind} {m.name!r} (not a {kind})", file=sys.stderr)
    if not created:
        raise SpecError(f"no {kind} found", file=", ".join(args.files))
    _show(created, args.output)
    return 0


def _show(templates: list[dict], output: str | None) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    for tpl in templates:
        if output in ("json", "yaml"):
            state.out(state.dump(tpl, output))
        elif output == "name":
            state.out(tpl["metadata"]["name"])
        else:
            state.out(render.template_summary(tpl, now))


def cmd_get(args: argparse.Namespace) -> int:
    with state.open_store() as store:
        tpl = store.get_template(args.kind, args.name)
    if tpl is None:
        raise NotFoundError(f'{args.kind} "{args.name}" not found')
    _show([tpl], args.output)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with state.open_store() as store:
        tpls = store.list_templates(args.kind)
    if args.output in ("json", "yaml"):
        state.out(state.dump(tpls, args.output))
    elif args.output == "name":
        state.out("\n".join(t["metadata"]["name"] for t in tpls))
    else:
        state.out(render.template_table(tpls, headers=not args.no_headers))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    if not args.names and not args.all:
        raise SpecError(f"name the {args.kind}s to delete, or use --all")
    missing = 0
    with state.open_store() as store:
        names = [t["metadata"]["name"] for t in store.list_templates(args.kind)] if args.all else args.names
        for name in names:
            if store.delete_template(args.kind, name):
                print(f"{args.kind} '{name}' deleted")
            else:
                print(f'tiphys: {args.kind} "{name}" not found', file=sys.stderr)
                missing += 1
    return 1 if missing else 0
