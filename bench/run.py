"""Benchmark `tiphys run` against a minimal asyncio baseline on ../shared/bench workloads.

    python -m bench [--quick] [--reps N] [--only NAME] [--json FILE] [--check]

See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):                      # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import measure                          # noqa: E402

REPO = Path(__file__).resolve().parent.parent
HERE = REPO / "bench"
DEFAULT_WORKLOADS = REPO.parent / "shared" / "bench"
MB = 1024 * 1024


@dataclass
class Variant:
    label: str
    kind: str          # "tiphys" | "sandbox" | "nosandbox" | "minimal"
    file: str          # workload file name
    dry_run: bool = False
    timeout: float = 1800.0


@dataclass
class Workload:
    name: str
    file: str
    variants: list[Variant]
    # (target name, kind, limit): kind "ratio" (tiphys / baseline-sandbox), "peak_mb",
    # "linear" (100k / 10k dry-run), "seconds" (median of the first variant)
    targets: list[tuple[str, str, float]] = field(default_factory=list)


def _standard(name: str, targets: list[tuple[str, str, float]]) -> Workload:
    f = f"{name}.yaml"
    return Workload(name, f, [Variant("tiphys", "tiphys", f), Variant("baseline-sandbox", "sandbox", f),
                              Variant("baseline-nosandbox", "nosandbox", f),
                              Variant("floor-minimal-bwrap", "minimal", f)], targets)


def workloads(dry_timeout: float) -> dict[str, Workload]:
    ws = [
        _standard("w1-hello", [("tiphys/baseline <= 4", "ratio", 4.0)]),
        _standard("w2-chain-100", [("tiphys/baseline <= 1.3", "ratio", 1.3),
                                   ("tiphys/minimal-bwrap floor <= 1.3", "floor", 1.3)]),
        _standard("w3-fanout-1000", [("tiphys/baseline <= 1.3", "ratio", 1.3),
                                     ("tiphys/minimal-bwrap floor <= 1.3", "floor", 1.3)]),
        _standard("w4-diamond-params", []),
        _standard("w5-wide-10000", [("tiphys/baseline <= 1.3", "ratio", 1.3),
                                    ("peak <= 300 MB", "peak_mb", 300)]),
        Workload("w6-wide-100000", "w6-wide-100000.yaml",
                 [Variant("tiphys --dry-run 100000", "tiphys", "w6-wide-100000.yaml", True, dry_timeout),
                  Variant("tiphys --dry-run 10000", "tiphys", "w5-wide-10000.yaml", True, dry_timeout)],
                 [("t(100k)/t(10k) <= 12", "linear", 12.0), ("100k < 60 s", "seconds", 60.0),
                  ("peak <= 2 GB", "peak_mb", 2048)]),
    ]
    return {w.name: w for w in ws}


QUICK = ["w1-hello", "w2-chain-100", "w4-diamond-params", "w3-fanout-1000"]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.src = Path(args.workloads).resolve()
        self.tiphys = args.tiphys or shutil.which("tiphys") or str(Path(sys.executable).parent / "tiphys")
        self.tmp = Path(tempfile.mkdtemp(prefix="tiphys-bench-"))
        self.contexts: dict[str, Path] = {}
        self.executors = []             # kept alive: they own the shim folders the contexts name

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def context(self, kind: str) -> Path:
        if kind == "minimal" and kind not in self.contexts:
            from bench import sandbox
            path = self.tmp / "context-minimal.json"
            path.write_text(json.dumps(sandbox.minimal_context()))
            self.contexts[kind] = path
        if kind not in self.contexts:
            from bench import sandbox
            ex = sandbox.make_executor(kind == "sandbox")
            self.executors.append(ex)
            ctx = sandbox.context(ex)
            sandbox.verify_context(ex, ctx)
            self.contexts[kind] = sandbox.write_context(ex, self.tmp / f"context-{kind}.json")
        return self.contexts[kind]

    def command(self, v: Variant) -> list[str]:
        path = str(self.src / v.file)
        if v.kind == "tiphys":
            return [self.tiphys, "run", path, "-o", "name", *(["--dry-run"] if v.dry_run else [])]
        return [sys.executable, str(HERE / "baseline.py"), path, str(self.context(v.kind))]

    def once(self, v: Variant) -> measure.Measurement:
        env = dict(os.environ)
        home = None
        if v.kind == "tiphys":
            home = Path(tempfile.mkdtemp(prefix="home-", dir=self.tmp))
            env["TIPHYS_HOME"] = str(home)
        try:
            return measure.run(self.command(v), env=env, timeout=v.timeout)
        finally:
            if home is not None:
                shutil.rmtree(home, ignore_errors=True)

    def workload(self, w: Workload, reps: int, warmup: int) -> dict:
        res = {v.label: {"command": None, "times": [], "peaks_kb": [], "error": None, "runs": 0}
               for v in w.variants}
        for v in w.variants:
            try:
                res[v.label]["command"] = self.command(v)
            except Exception as e:            # e.g. the sandbox context check failed
                res[v.label]["error"] = f"{type(e).__name__}: {e}"
        for rep in range(-warmup, reps):                 # < 0: warm-up, not recorded
            k = (rep + warmup) % len(w.variants)
            for v in w.variants[k:] + w.variants[:k]:   # rotate the order every repetition
                r = res[v.label]
                if r["error"]:
                    continue
                m = self.once(v)
                tag = "warm-up" if rep < 0 else f"rep {rep + 1}/{reps}"
                if m.error:
                    r["error"] = m.error
                    _log(f"  {w.name:20} {v.label:26} {tag:9} ERROR {m.error.splitlines()[0][:150]}")
                    continue
                _log(f"  {w.name:20} {v.label:26} {tag:9} {m.wall:8.3f} s  {m.peak_kb / 1024:7.1f} MB")
                if rep >= 0:
                    r["times"].append(m.wall)
                    r["peaks_kb"].append(m.peak_kb)
                    r["runs"] += 1
        out = {"file": str(self.src / w.file), "variants": {}}
        for label, r in res.items():
            t = r["times"]
            out["variants"][label] = {
                "command": r["command"], "error": r["error"], "runs": r["runs"], "times_s": t,
                "median_s": statistics.median(t) if t else None, "min_s": min(t) if t else None,
                "max_s": max(t) if t else None,
                "peak_mb_max": max(r["peaks_kb"]) / 1024 if r["peaks_kb"] else None,
                "peak_mb_median": statistics.median(r["peaks_kb"]) / 1024 if r["peaks_kb"] else None,
            }
        out["ratios"] = ratios(w, out["variants"])
        out["targets"] = targets(w, out["variants"], out["ratios"])
        return out

    def run(self) -> dict:
        ws = workloads(self.args.dry_run_timeout)
        names = []
        for want in self.args.only or (QUICK if self.args.quick else list(ws)):
            match = [n for n in ws if n == want or n.startswith(want + "-")]
            if not match:
                raise SystemExit(f"unknown workload {want!r}; known: {', '.join(ws)}")
            names += match
        reps = self.args.reps if self.args.reps is not None else (2 if self.args.quick else 5)
        warmup = self.args.warmup if self.args.warmup is not None else (0 if self.args.quick else 1)
        report = {"meta": {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(),
                           "python": sys.version.split()[0], "cpus": os.cpu_count(), "reps": reps,
                           "warmup": warmup, "quick": self.args.quick, "tiphys": self.tiphys,
                           "workloads_dir": str(self.src), "peak_memory": measure.METHOD,
                           "argv": sys.argv},
                  "workloads": {}}
        t0 = time.perf_counter()
        for n in names:
            w = ws[n]
            if not (self.src / w.file).exists():
                report["workloads"][n] = {"error": f"{self.src / w.file} not found"}
                continue
            _log(f"{n}: {warmup} warm-up + {reps} repetitions")
            report["workloads"][n] = self.workload(w, reps, warmup)
            if self.args.check and any(v.kind == "sandbox" for v in w.variants):
                from bench import check
                try:
                    report["workloads"][n]["check"] = check.check(self.src / w.file, self.context("sandbox"))
                except Exception as e:
                    report["workloads"][n]["check"] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                _log(f"  check: {report['workloads'][n]['check']}")
        report["meta"]["elapsed_s"] = time.perf_counter() - t0
        return report


def ratios(w: Workload, vs: dict) -> dict:
    def med(label):
        v = vs.get(label)
        return v["median_s"] if v and not v["error"] and v["median_s"] else None

    out = {}
    t, sb, nsb = med("tiphys"), med("baseline-sandbox"), med("baseline-nosandbox")
    if "tiphys" in vs:
        out["tiphys/baseline-sandbox"] = t / sb if t and sb else None
        out["tiphys/baseline-nosandbox"] = t / nsb if t and nsb else None
        floor = med("floor-minimal-bwrap")
        out["tiphys/floor-minimal-bwrap"] = t / floor if t and floor else None
    big, small = med("tiphys --dry-run 100000"), med("tiphys --dry-run 10000")
    if "tiphys --dry-run 100000" in vs:
        out["dry-run 100k/10k"] = big / small if big and small else None
    return out


def targets(w: Workload, vs: dict, rs: dict) -> list[dict]:
    first = vs[w.variants[0].label]
    out = []
    for name, kind, limit in w.targets:
        if kind == "ratio":
            value = rs.get("tiphys/baseline-sandbox")
        elif kind == "floor":
            value = rs.get("tiphys/floor-minimal-bwrap")
        elif kind == "linear":
            value = rs.get("dry-run 100k/10k")
        elif kind == "seconds":
            value = first["median_s"]
        else:
            value = first["peak_mb_max"]
        met = None if value is None else value <= limit if kind != "seconds" else value < limit
        note = None
        if value is None:
            err = first["error"] or next((v["error"] for v in vs.values() if v["error"]), None)
            note = err.splitlines()[0][:200] if err else "no measurement"
            if err and err.startswith("timeout") and kind in ("seconds", "linear"):
                met = False               # a run killed at the timeout cannot have met it
        out.append({"target": name, "value": value, "limit": limit, "met": met, "note": note})
    return out


# ------------------------------------------------------------------------------- output

def _f(x, fmt="{:.3f}"):
    return "-" if x is None else fmt.format(x)


def table(report: dict) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:                                     # plain text fallback
        Console = None
    rows = []
    for n, w in report["workloads"].items():
        if "variants" not in w:
            rows.append([n, "-", "-", "-", "-", "-", "-", "ERROR " + w.get("error", "")])
            continue
        tg = "; ".join(f"{t['target']}: " + ("met" if t["met"] else "NOT MET" if t["met"] is False else "n/a")
                       + (f" ({t['note']})" if t["note"] else "") for t in w["targets"])
        if "check" in w:
            tg = (tg + "; " if tg else "") + f"same argv as tiphys: {'yes' if w['check'].get('ok') else 'NO'}"
        first = True
        for label, v in w["variants"].items():
            if label == "tiphys":
                ratio = (f"{_f(w['ratios'].get('tiphys/baseline-sandbox'), '{:.2f}')} (sandbox) / "
                         f"{_f(w['ratios'].get('tiphys/baseline-nosandbox'), '{:.2f}')} (no sandbox) / "
                         f"{_f(w['ratios'].get('tiphys/floor-minimal-bwrap'), '{:.2f}')} (floor)")
            elif label == "tiphys --dry-run 100000":
                ratio = f"{_f(w['ratios'].get('dry-run 100k/10k'), '{:.2f}')} (100k/10k)"
            else:
                ratio = ""
            if v["error"] and not v["times_s"]:
                cells = ["ERROR: " + v["error"].splitlines()[0][:60], "", "", ""]
            else:
                cells = [_f(v["median_s"]), _f(v["min_s"]), _f(v["max_s"]), _f(v["peak_mb_max"], "{:.1f}")]
            rows.append([n if first else "", label, *cells, ratio, tg if first else ""])
            first = False
    head = ["workload", "variant", "median s", "min s", "max s", "peak MB", "ratio", "targets"]
    title = (f"Tiphys vs baseline: {report['meta']['reps']} reps after {report['meta']['warmup']} warm-up, "
             f"peak = max RSS of the measured process ({report['meta']['peak_memory']})")
    if Console is None:
        widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
        print(title)
        for r in [head, *rows]:
            print("  ".join(str(c).ljust(wd) for c, wd in zip(r, widths)))
        return
    t = Table(title=title, show_lines=False)
    for h in head:
        t.add_column(h, overflow="fold", justify="right" if h in ("median s", "min s", "max s", "peak MB") else "left")
    for r in rows:
        t.add_row(*[str(c) for c in r])
    Console(width=max(160, shutil.get_terminal_size().columns)).print(t)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description="Benchmark tiphys run against a "
                                "minimal asyncio baseline (same processes, concurrency and sandbox).")
    p.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}, 2 reps, no warm-up: < 60 s, proves the harness works")
    p.add_argument("--reps", type=int, default=None, help="repetitions after the warm-up (default 5, 2 with --quick)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up rounds, not recorded (default 1, 0 with --quick)")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only this workload, e.g. w3-fanout-1000 or w3 (repeatable)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument("--check", action="store_true",
                   help="also check that the baseline runs exactly the argv tiphys gives its executor")
    p.add_argument("--workloads", default=str(DEFAULT_WORKLOADS), help="folder of w*.yaml (default ../shared/bench)")
    p.add_argument("--tiphys", help="tiphys executable (default: the one next to this python)")
    p.add_argument("--dry-run-timeout", type=float, default=120.0,
                   help="seconds before a --dry-run measurement is killed (default 120)")
    args = p.parse_args(argv)
    if args.reps is not None and args.reps < 1:
        p.error("--reps must be >= 1")
    if args.tiphys is None:
        local_tiphys = Path(sys.executable).parent / "tiphys"
        args.tiphys = str(local_tiphys) if local_tiphys.exists() else None
    bench = Bench(args)
    try:
        report = bench.run()
    finally:
        bench.close()
    table(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
        _log(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
