"""`tiphys secret create|list|delete`: secrets that steps read through
`env[].valueFrom.secretKeyRef` / `envFrom[].secretRef`, encrypted at rest (tiphys.secrets).

Commands write the store of $TIPHYS_HOME directly (also when a server uses that store).
Values are never printed; `list` shows key names only.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from tiphys.cli import home as state
from tiphys.cli.auth import store_of as _store
from tiphys.errors import SpecError
from tiphys.secrets import Vault


def _data(literals: list[str], files: list[str]) -> dict[str, str]:
    data: dict[str, str] = {}

    def put(key: str, value: str, flag: str) -> None:
        if key in data:
            raise SpecError(f"{flag}: key {key!r} given twice")
        data[key] = value

    for item in literals:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpecError(f"--from-literal {item.split('=')[0]!r}...: expected KEY=VALUE")
        put(key, value, "--from-literal")
    for item in files:
        key, sep, path = item.partition("=")
        if not sep:
            key, path = Path(item).name, item
        try:
            put(key, Path(path).read_text(), "--from-file")
        except OSError as exc:
            raise SpecError(f"--from-file {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise SpecError(f"--from-file {path}: not UTF-8 text (binary values are not supported)") from None
    return data


def cmd_create(args: argparse.Namespace) -> int:
    data = _data(args.literals, args.files)
    home = state.home_dir()
    with _store(args, home) as store:
        Vault(store, home).create(args.namespace, args.name, data)
    print(f"secret/{args.name} created in namespace {args.namespace} ({len(data)} "
          f"key{'s' if len(data) != 1 else ''})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    home = state.home_dir()
    with _store(args, home) as store:
        vault = Vault(store, home)
        found = [(ns, name, vault.keys(ns, name) or []) for ns, name in vault.names(args.namespace)]
    if args.output:
        state.out(state.dump([{"namespace": ns, "name": name, "keys": keys} for ns, name, keys in found],
                             args.output))
        return 0
    rows = [(ns, name, ",".join(keys)) for ns, name, keys in found]
    if not args.no_headers:
        rows.insert(0, ("NAMESPACE", "NAME", "KEYS"))
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(2)]
    for r in rows:
        state.out("   ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2]]).rstrip())
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    home = state.home_dir()
    with _store(args, home) as store:
        vault = Vault(store, home)
        for name in args.names:
            vault.delete(args.namespace, name)
            print(f'secret "{name}" deleted from namespace {args.namespace}')
    return 0

