"""`tiphys cron create|list|get|delete|suspend|resume|lint`, as `argo cron`.

With a server (--server / TIPHYS_SERVER) every verb goes through its REST API; without one
the CronWorkflows are kept in TIPHYS_HOME's store, where a `tiphys server` on the same home
schedules them (it looks at the store every second)."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from tiphys.errors import SpecError

KIND = "CronWorkflow"
OUTPUTS = ("json", "yaml", "name", "wide")


def add_parsers(sub: argparse._SubParsersAction, client_options: Any) -> None:
    p = sub.add_parser("cron", help="manage CronWorkflows (scheduled by `tiphys server`)")
    csub = p.add_subparsers(dest="cron_command", metavar="COMMAND", required=True)
    c = csub.add_parser("create", help="create every CronWorkflow of the files")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("--schedule", help="replace the schedules with this one")
    c.add_argument("--name", help="name of the CronWorkflow")
    c.add_argument("--generate-name", help="prefix of a generated name")
    c.add_argument("--entrypoint")
    c.add_argument("-l", "--labels", action="append", default=[], metavar="KEY=VALUE[,...]")
    c.add_argument("-p", "--parameter", dest="parameters", action="append", default=[], metavar="NAME=VALUE")
    c.add_argument("--serviceaccount")
    c.add_argument("-o", "--output", choices=OUTPUTS)
    g = csub.add_parser("get", help="show CronWorkflows")
    g.add_argument("names", nargs="+", metavar="NAME")
    g.add_argument("-o", "--output", choices=OUTPUTS)
    ls = csub.add_parser("list", help="list CronWorkflows")
    ls.add_argument("-A", "--all-namespaces", action="store_true")
    ls.add_argument("-o", "--output", choices=OUTPUTS)
    ls.add_argument("-l", "--selector")
    d = csub.add_parser("delete", help="delete CronWorkflows (and their runs)")
    d.add_argument("names", nargs="*", metavar="NAME")
    d.add_argument("--all", action="store_true")
    for verb in ("suspend", "resume"):
        v = csub.add_parser(verb, help=f"{verb} CronWorkflows")
        v.add_argument("names", nargs="+", metavar="NAME")
    lt = csub.add_parser("lint", help="validate CronWorkflow files")
    lt.add_argument("paths", nargs="+", metavar="FILE|DIR")
    for cp in csub.choices.values():
        cp.add_argument("-n", "--namespace", help="namespace (default 'default')")
        client_options(cp)
        cp.set_defaults(handler="cron:cmd_cron")


# -- backends: a server, or the local store ---------------------------------------------------

class _Remote:
    def __init__(self, c: Any, ns: str):
        self.c, self.ns = c, ns

    def _path(self, name: str = "", verb: str = "") -> str:
        return f"/api/v1/cron-workflows/{self.ns}" + (f"/{name}" if name else "") + (f"/{verb}" if verb else "")

    def create(self, cron: dict) -> dict:
        return self.c.request("POST", self._path(), body={"namespace": self.ns, "cronWorkflow": cron})

    def get(self, name: str) -> dict | None:
        from tiphys.client.errors import ServerNotFound
        try:
            return self.c.request("GET", self._path(name))
        except ServerNotFound:
            return None

    def list(self, all_ns: bool) -> list[dict]:
        path = "/api/v1/cron-workflows/" if all_ns else self._path()
        return self.c.request("GET", path).get("items") or []

    def delete(self, name: str) -> bool:
        if self.get(name) is None:
            return False
        self.c.request("DELETE", self._path(name))
        return True

    def suspend(self, name: str, value: bool) -> dict | None:
        if self.get(name) is None:
            return None
        return self.c.request("PUT", self._path(name, "suspend" if value else "resume"),
                              body={"namespace": self.ns, "name": name})


class _Local:
    def __init__(self, store: Any, ns: str):
        self.store, self.ns = store, ns

    def create(self, cron: dict) -> dict:
        import uuid

        from tiphys.cron import runs
        from tiphys.server.common import check_name
        from tiphys.server.errors import ApiError
        meta = cron.setdefault("metadata", {})
        meta["namespace"] = self.ns
        if not meta.get("name"):
            from tiphys.naming import generated_name
            meta["name"] = generated_name(meta.get("generateName") or "cron-",
                                          lambda n: self.store.get_template(KIND, n, self.ns) is not None)
        try:
            check_name(meta["name"])
        except ApiError as exc:
            raise SpecError(exc.message) from None
        runs.validate(cron)
        if self.store.get_template(KIND, meta["name"], self.ns) is not None:
            raise SpecError(f'cronworkflows.argoproj.io "{meta["name"]}" already exists')
        meta["uid"] = str(uuid.uuid4())
        return self.store.save_template(KIND, cron)

    def get(self, name: str) -> dict | None:
        return self.store.get_template(KIND, name, self.ns)

    def list(self, all_ns: bool) -> list[dict]:
        return self.store.list_templates(KIND, None if all_ns else self.ns)

    def delete(self, name: str) -> bool:
        from tiphys.cron.runs import CRON_LABEL
        if not self.store.delete_template(KIND, name, self.ns):
            return False
        page, _ = self.store.list_page(namespace=self.ns, labels={CRON_LABEL: name}, limit=10000)
        for wf in page:
            self.store.delete_workflow(wf["metadata"]["name"], self.ns)
        return True

    def suspend(self, name: str, value: bool) -> dict | None:
        cron = self.get(name)
        if cron is None:
            return None
        cron.setdefault("spec", {})["suspend"] = value
        return self.store.save_template(KIND, cron)


# -- the command ------------------------------------------------------------------------------

def cmd_cron(args: argparse.Namespace) -> int:
    from tiphys.cli import home as state
    from tiphys.client.config import resolve
    ns = args.namespace or "default"
    if args.cron_command == "lint":
        return _lint(args)
    if resolve(args) is not None:
        from tiphys.cli.remote import client
        with client(args) as c:
            return _verb(args, _Remote(c, ns))
    with state.open_store() as store:
        return _verb(args, _Local(store, ns))


def _verb(args: argparse.Namespace, backend: Any) -> int:
    from tiphys.cli import home as state
    cmd = args.cron_command
    if cmd == "create":
        return _create(args, backend)
    if cmd == "get":
        missing = 0
        for name in args.names:
            cron = backend.get(name)
            if cron is None:
                print(f'tiphys: "{name}" not found', file=sys.stderr)
                missing += 1
            else:
                _show(cron, args.output)
        return 1 if missing else 0
    if cmd == "list":
        items = [c for c in backend.list(args.all_namespaces) if _selected(c, args.selector)]
        if args.output in ("json", "yaml"):
            state.out(state.dump(items, args.output))
        elif args.output == "name":
            state.out("\n".join(c["metadata"]["name"] for c in items))
        else:
            state.out(table(items, args.all_namespaces))
        return 0
    if cmd == "delete":
        if not args.names and not args.all:
            raise SpecError("name the CronWorkflows to delete, or use --all")
        names = [c["metadata"]["name"] for c in backend.list(False)] if args.all else args.names
        missing = 0
        for name in names:
            if backend.delete(name):
                print(f"CronWorkflow '{name}' deleted")
            else:
                print(f'tiphys: "{name}" not found', file=sys.stderr)
                missing += 1
        return 1 if missing else 0
    missing = 0
    for name in args.names:   # suspend / resume
        if backend.suspend(name, cmd == "suspend") is None:
            print(f'tiphys: "{name}" not found', file=sys.stderr)
            missing += 1
        else:
            print(f"CronWorkflow '{name}' {cmd}ed".replace("resumeed", "resumed"))
    return 1 if missing else 0


def _selected(cron: dict, selector: str | None) -> bool:
    if not selector:
        return True
    labels = (cron.get("metadata") or {}).get("labels") or {}
    for term in selector.split(","):
        k, _, v = term.partition("=")
        if labels.get(k.strip()) != v.strip():
            return False
    return True


def _create(args: argparse.Namespace, backend: Any) -> int:
    from tiphys.cli import run
    manifests = [m for path in args.files for m in run.load_manifests(path)]
    crons = [m for m in manifests if m.kind == KIND]
    if not crons:
        raise SpecError("no CronWorkflow found", file=", ".join(args.files))
    for m in crons:
        cron = _apply_flags(dict(m.raw), args)
        try:
            created = backend.create(cron)
        except SpecError as exc:
            raise SpecError(str(exc), file=m.file, document=m.index) from None
        _show(created, args.output)
    return 0


def _apply_flags(cron: dict, args: argparse.Namespace) -> dict:
    import copy
    cron = copy.deepcopy(cron)
    meta, spec = cron.setdefault("metadata", {}), cron.setdefault("spec", {})
    if args.name:
        meta["name"] = args.name
    if args.generate_name:
        meta.pop("name", None)
        meta["generateName"] = args.generate_name
    if args.schedule:
        spec["schedules"] = [args.schedule]
        spec.pop("schedule", None)
    wf = spec.setdefault("workflowSpec", {})
    if args.entrypoint:
        wf["entrypoint"] = args.entrypoint
    if args.serviceaccount:
        wf["serviceAccountName"] = args.serviceaccount
    for group in args.labels:
        for part in group.split(","):
            k, sep, v = part.partition("=")
            if not sep:
                raise SpecError(f"-l {part!r}: expected KEY=VALUE")
            meta.setdefault("labels", {})[k] = v
    for item in args.parameters:
        k, sep, v = item.partition("=")
        if not sep:
            raise SpecError(f"-p {item!r}: expected NAME=VALUE")
        params = wf.setdefault("arguments", {}).setdefault("parameters", [])
        for p in params:
            if p.get("name") == k:
                p["value"] = v
                break
        else:
            params.append({"name": k, "value": v})
    return cron


def _lint(args: argparse.Namespace) -> int:
    from tiphys.cli.templates import cmd_lint
    return cmd_lint(args)


def _next_time(cron: dict) -> str:
    from tiphys.cron import runs
    if (cron.get("spec") or {}).get("suspend"):
        return "N/A"
    try:
        now = dt.datetime.now(dt.timezone.utc)
        return runs.rfc3339(min(s.next(now) for s in runs.schedules(cron)).astimezone(dt.timezone.utc))
    except Exception:  # noqa: BLE001 - a bad schedule shows no next time
        return "N/A"


def _show(cron: dict, output: str | None) -> None:
    from tiphys.cli import home as state
    from tiphys.cli import render
    if output in ("json", "yaml"):
        state.out(state.dump(cron, output))
        return
    if output == "name":
        state.out(cron["metadata"]["name"])
        return
    from tiphys.cron import runs
    meta, spec, status = cron.get("metadata") or {}, cron.get("spec") or {}, cron.get("status") or {}
    now = dt.datetime.now(dt.timezone.utc)
    rows = [("Name:", meta.get("name", "")), ("Namespace:", meta.get("namespace", "default")),
            ("Created:", render.timestamp(meta["creationTimestamp"], now) if meta.get("creationTimestamp") else ""),
            ("Schedules:", ",".join(runs.schedule_texts(cron))), ("Suspended:", str(bool(spec.get("suspend"))).lower())]
    if spec.get("timezone"):
        rows.append(("Timezone:", spec["timezone"]))
    if spec.get("startingDeadlineSeconds") is not None:
        rows.append(("StartingDeadlineSeconds:", str(spec["startingDeadlineSeconds"])))
    if spec.get("concurrencyPolicy"):
        rows.append(("ConcurrencyPolicy:", spec["concurrencyPolicy"]))
    if status.get("lastScheduledTime"):
        rows.append(("LastScheduledTime:", status["lastScheduledTime"]))
    rows.append(("NextScheduledTime:", _next_time(cron)))
    if status.get("active"):
        rows.append(("Active Workflows:", ", ".join(a.get("name", "") for a in status["active"])))
    for c in status.get("conditions") or []:
        rows.append((f"{c.get('type')}:", c.get("message", "")))
    params = ((spec.get("workflowSpec") or {}).get("arguments") or {}).get("parameters") or []
    if params:
        rows.append(("Workflow Parameters:", ""))
        rows += [(f"  {p.get('name')}:", str(p.get("value", ""))) for p in params]
    state.out("\n".join("%-30s %s" % row for row in rows))


def table(items: list[dict], all_ns: bool) -> str:
    from tiphys.cli import render
    from tiphys.cron import runs
    now = dt.datetime.now(dt.timezone.utc)
    head = (["NAMESPACE"] if all_ns else []) + ["NAME", "AGE", "LAST RUN", "NEXT RUN", "SCHEDULES", "TIMEZONE",
                                                "SUSPENDED"]
    rows = []
    for c in items:
        meta, spec, status = c.get("metadata") or {}, c.get("spec") or {}, c.get("status") or {}
        created = runs.parse_time(meta.get("creationTimestamp"))
        last = runs.parse_time(status.get("lastScheduledTime"))
        row = [meta.get("namespace", "default")] if all_ns else []
        row += [meta.get("name", ""), render.short_duration((now - created).total_seconds()) if created else "",
                render.short_duration((now - last).total_seconds()) if last else "N/A", _next_time(c),
                ",".join(runs.schedule_texts(c)), spec.get("timezone") or "", str(bool(spec.get("suspend"))).lower()]
        rows.append(row)
    return render.table(head, rows)
