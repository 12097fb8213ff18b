"""A small validator for cron schedules as Argo's CronWorkflow accepts them.

Argo parses schedules with robfig/cron's standard parser: five fields
(minute hour day-of-month month day-of-week), `*`/`?`, lists `a,b`, ranges `a-b`,
steps `*/n`, `a-b/n`, `a/n`; month and weekday names (JAN, mon...); the
descriptors @yearly @annually @monthly @weekly @daily @midnight @hourly and
`@every <duration>`; an optional `TZ=Zone ` / `CRON_TZ=Zone ` prefix.
"""
from __future__ import annotations

import re

_MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}

_FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)
_DESCRIPTORS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
# Go time.ParseDuration units (no days)
_GO_DURATION = re.compile(r"^\+?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")


def _value(text: str, lo: int, hi: int, names: dict[str, int] | None, what: str) -> int:
    if names and text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"{what}: \"{text}\" is not a number" + (" or a name" if names else ""))
    v = int(text)
    if not lo <= v <= hi:
        raise ValueError(f"{what}: {v} is out of range {lo}-{hi}")
    return v


def _check_field(text: str, lo: int, hi: int, names: dict[str, int] | None, what: str) -> None:
    if not text:
        raise ValueError(f"{what}: empty")
    for part in text.split(","):
        rng, slash, step = part.partition("/")
        if slash:
            if not step.isdigit() or int(step) == 0:
                raise ValueError(f"{what}: step \"{step}\" must be a positive number")
        if rng in ("*", "?"):
            continue
        start, dash, end = rng.partition("-")
        a = _value(start, lo, hi, names, what)
        if dash:
            b = _value(end, lo, hi, names, what)
            if a > b:
                raise ValueError(f"{what}: range \"{rng}\" starts after it ends")


def cron_error(schedule: object) -> str | None:
    """None if `schedule` is a valid schedule, else a plain message."""
    if not isinstance(schedule, str):
        return f"schedule must be a string, not {type(schedule).__name__}"
    s = schedule.strip()
    if s.startswith(("TZ=", "CRON_TZ=")):
        _, _, s = s.partition(" ")
        s = s.strip()
    if not s:
        return "empty schedule"
    if s.startswith("@"):
        if s in _DESCRIPTORS:
            return None
        if s.startswith("@every "):
            d = s[len("@every "):].strip()
            return None if _GO_DURATION.match(d) and re.search(r"[1-9]", d) else f"bad duration \"{d}\" in @every"
        return f"unknown descriptor \"{s.split()[0]}\""
    fields = s.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: \"{s}\""
    try:
        for text, (what, lo, hi, names) in zip(fields, _FIELDS):
            _check_field(text, lo, hi, names, what)
    except ValueError as e:
        return str(e)
    return None
