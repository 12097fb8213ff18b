"""Cron schedules read as Argo reads them (robfig/cron v3's standard parser), computed with
croniter where the two agree and by this module where they do not.

Where croniter differs from robfig, and what is done here instead:
- `@every <Go duration>` (croniter has no such form): robfig's ConstantDelaySchedule, the
  next time is the previous one truncated to the second plus the delay (whole seconds, at
  least one);
- descriptors (`@hourly`...) are rewritten into their five fields, as robfig defines them;
- `CRON_TZ=Zone ` / `TZ=Zone ` prefixes choose the zone the fields are read in;
- day-of-month / day-of-week: robfig ORs them only when neither field starts with `*` or
  `?` (so `*/2` in one of them means AND); croniter ORs unless a field is exactly `*`;
- a local time skipped by a spring-forward change does not fire (croniter fires it an hour
  later); a repeated one fires twice in both;
- `?` means `*`; fields are validated by tiphys.spec.cron first (no seconds, no `L`/`#`/`H`,
  weekday 0-6), so croniter's extensions are never reached.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from tiphys.errors import SpecError
from tiphys.spec.cron import cron_error

DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def go_duration(text: str) -> float:
    """Seconds of a Go duration such as `1h30m` or `500ms` (time.ParseDuration)."""
    s = text.strip().lstrip("+")
    if s == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(s):
        m = _GO_PART.match(s, pos)
        if not m:
            raise ValueError(f"invalid duration {text!r}")
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    if not s:
        raise ValueError(f"invalid duration {text!r}")
    return total


def zone(name: str | None) -> dt.tzinfo:
    """A time zone by IANA name; "" / None / "Local" = this machine's zone, "UTC" = UTC."""
    if not name or name == "Local":
        return dt.datetime.now().astimezone().tzinfo or dt.timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SpecError(f"invalid timezone {name!r}") from None


@dataclass(frozen=True)
class Schedule:
    """One parsed schedule: `next(t)` is the first activation strictly after `t`."""
    text: str
    tz: dt.tzinfo
    fields: str | None = None       # five fields, or None for @every
    every: float = 0.0              # seconds, for @every
    day_or: bool = True

    def next(self, t: dt.datetime) -> dt.datetime:
        if t.tzinfo is None:
            raise ValueError("an aware datetime is needed")
        if self.fields is None:
            base = t.replace(microsecond=0)
            return (base + dt.timedelta(seconds=self.every)).astimezone(self.tz)
        it = croniter(self.fields, t.astimezone(self.tz), day_or=self.day_or)
        while True:
            found = it.get_next(dt.datetime)
            if self._on_the_clock(found):
                return found

    @cached_property
    def _hours_minutes(self) -> tuple[set[int], set[int]]:
        expanded = croniter(self.fields or "* * * * *").expanded
        every = lambda values, top: set(range(top)) if values == ["*"] else {int(v) for v in values}  # noqa: E731
        return every(expanded[1], 24), every(expanded[0], 60)

    def _on_the_clock(self, t: dt.datetime) -> bool:
        """robfig walks the local wall clock: a time the spring-forward gap skips does not fire
        (croniter moves it to the next existing hour instead)."""
        local = t.astimezone(self.tz)
        hours, minutes = self._hours_minutes
        return local.hour in hours and local.minute in minutes

    def prev_before(self, t: dt.datetime) -> dt.datetime | None:
        """The last activation at or before `t` (None for @every, which has no fixed grid)."""
        if self.fields is None:
            return None
        it = croniter(self.fields, t.astimezone(self.tz) + dt.timedelta(seconds=1), day_or=self.day_or)
        return it.get_prev(dt.datetime)


def parse(text: str, default_tz: str | None = None) -> Schedule:
    """A schedule (with optional `CRON_TZ=`/`TZ=` prefix); SpecError when robfig would refuse it."""
    if not isinstance(text, str):
        raise SpecError(f"cron schedule must be a string, not {type(text).__name__}")
    s = text.strip()
    tz_name = default_tz
    if s.startswith(("TZ=", "CRON_TZ=")):
        head, _, s = s.partition(" ")
        tz_name = head.partition("=")[2]
        s = s.strip()
    problem = cron_error(s)
    if problem:
        raise SpecError(f"cron schedule {text!r} is malformed: {problem}")
    tz = zone(tz_name)
    if s.startswith("@every"):
        seconds = go_duration(s[len("@every"):])
        return Schedule(text, tz, None, every=max(1.0, float(int(seconds))))
    fields = DESCRIPTORS.get(s, s).replace("?", "*").split()
    dom, dow = fields[2], fields[4]
    day_or = not (dom.startswith("*") or dow.startswith("*"))
    return Schedule(text, tz, " ".join(fields), day_or=day_or)


def with_timezone(schedules: list[str], timezone: str | None) -> list[str]:
    """The schedules as Argo's controller registers them: `CRON_TZ=<tz> ` prefixed when a
    timezone is set (the last-used-schedule annotation shows these)."""
    if not timezone:
        return list(schedules)
    return [f"CRON_TZ={timezone} {s}" for s in schedules]
