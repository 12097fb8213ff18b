"""Go time layouts ("2006-01-02 15:04:05"), Go durations ("1h30m") and date parsing.

Argo users write `sprig.date('2006-01-02', t)`, `date(s, layout)` and `duration('1h')`
with Go's reference-time layouts and duration syntax; Python's strftime and timedelta
know neither, so this module translates them (English names, no locale dependence).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Callable

from tiphys.errors import ExpressionError

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

_Fmt = Callable[[datetime], str]


def _zone(moment: datetime, colon: bool, seconds: bool, z: bool, hours_only: bool = False) -> str:
    offset = int((moment.utcoffset() or timedelta(0)).total_seconds())
    if z and offset == 0:
        return "Z"
    sign, offset = ("-" if offset < 0 else "+"), abs(offset)
    hh, mm, ss = offset // 3600, offset // 60 % 60, offset % 60
    if hours_only:
        return f"{sign}{hh:02d}"
    sep = ":" if colon else ""
    return f"{sign}{hh:02d}{sep}{mm:02d}" + (f"{sep}{ss:02d}" if seconds else "")


def _hour12(moment: datetime) -> int:
    return moment.hour % 12 or 12


def _zone_name(moment: datetime) -> str:
    if not moment.utcoffset():
        return "UTC"
    return moment.tzname() or _zone(moment, False, False, False)


# (layout chunk, formatter, strptime directive); longer chunks first where prefixes clash.
_CHUNKS: list[tuple[str, _Fmt, str]] = [
    ("January", lambda t: MONTHS[t.month - 1], "%B"),
    ("Jan", lambda t: MONTHS[t.month - 1][:3], "%b"),
    ("Monday", lambda t: DAYS[t.weekday()], "%A"),
    ("Mon", lambda t: DAYS[t.weekday()][:3], "%a"),
    ("MST", _zone_name, "%Z"),
    ("2006", lambda t: f"{t.year:04d}", "%Y"),
    ("002", lambda t: f"{t.timetuple().tm_yday:03d}", "%j"),
    ("__2", lambda t: f"{t.timetuple().tm_yday:3d}", "%j"),
    ("_2", lambda t: f"{t.day:2d}", "%d"),
    ("01", lambda t: f"{t.month:02d}", "%m"),
    ("02", lambda t: f"{t.day:02d}", "%d"),
    ("03", lambda t: f"{_hour12(t):02d}", "%I"),
    ("04", lambda t: f"{t.minute:02d}", "%M"),
    ("05", lambda t: f"{t.second:02d}", "%S"),
    ("06", lambda t: f"{t.year % 100:02d}", "%y"),
    ("15", lambda t: f"{t.hour:02d}", "%H"),
    ("1", lambda t: str(t.month), "%m"),
    ("2", lambda t: str(t.day), "%d"),
    ("3", lambda t: str(_hour12(t)), "%I"),
    ("4", lambda t: str(t.minute), "%M"),
    ("5", lambda t: str(t.second), "%S"),
    ("PM", lambda t: "PM" if t.hour >= 12 else "AM", "%p"),
    ("pm", lambda t: "pm" if t.hour >= 12 else "am", "%p"),
    ("-07:00:00", lambda t: _zone(t, True, True, False), "%z"),
    ("-070000", lambda t: _zone(t, False, True, False), "%z"),
    ("-07:00", lambda t: _zone(t, True, False, False), "%z"),
    ("-0700", lambda t: _zone(t, False, False, False), "%z"),
    ("-07", lambda t: _zone(t, False, False, False, True), "%z"),
    ("Z07:00:00", lambda t: _zone(t, True, True, True), "%z"),
    ("Z070000", lambda t: _zone(t, False, True, True), "%z"),
    ("Z07:00", lambda t: _zone(t, True, False, True), "%z"),
    ("Z0700", lambda t: _zone(t, False, False, True), "%z"),
    ("Z07", lambda t: _zone(t, False, False, True, True), "%z"),
]
_FRACTION = re.compile(r"[.,](0+|9+)(?![0-9])")


def _fraction(moment: datetime, spec: str) -> str:
    digits = f"{moment.microsecond:06d}000"[:len(spec) - 1]
    if spec[1] == "0":
        return spec[0] + digits
    digits = digits.rstrip("0")
    return spec[0] + digits if digits else ""


def _chunks(layout: str) -> list[tuple[str, _Fmt | None, str]]:
    """Split a Go layout into (text, formatter or None for a literal, strptime part)."""
    out: list[tuple[str, _Fmt | None, str]] = []
    i = 0
    while i < len(layout):
        frac = _FRACTION.match(layout, i)
        if frac:
            spec = frac.group(0)
            out.append((spec, lambda t, s=spec: _fraction(t, s), spec[0] + "%f"))
            i = frac.end()
            continue
        for text, fmt, directive in _CHUNKS:
            if layout.startswith(text, i) and not _blocked(layout, i, text):
                out.append((text, fmt, directive))
                i += len(text)
                break
        else:
            out.append((layout[i], None, layout[i].replace("%", "%%")))
            i += 1
    return out


def _blocked(layout: str, i: int, text: str) -> bool:
    """Go reads "Jan"/"Mon" only when not followed by a lower-case letter."""
    after = layout[i + len(text):i + len(text) + 1]
    return text in ("Jan", "Mon") and after.islower()


def format_time(moment: datetime, layout: str) -> str:
    """time.Time.Format(layout)."""
    return "".join(text if fmt is None else fmt(moment) for text, fmt, _ in _chunks(layout))


def parse_time(text: str, layout: str) -> datetime:
    """time.Parse(layout, text) for the common layout elements; UTC when no zone is given."""
    pattern = "".join(directive for _, _, directive in _chunks(layout))
    try:
        moment = datetime.strptime(text, pattern)
    except ValueError as exc:
        raise ExpressionError(f"cannot parse {text!r} as {layout!r}: {exc}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


_DEFAULT_LAYOUTS = ["2006-01-02", "2006-01-02 15:04:05", "2006-01-02T15:04:05",
                    "Mon Jan _2 15:04:05 2006", "Mon Jan _2 15:04:05 MST 2006",
                    "02 Jan 06 15:04 MST", "Mon, 02 Jan 2006 15:04:05 MST",
                    "Mon, 02 Jan 2006 15:04:05 -0700", "Jan _2 15:04:05"]


def parse_date(text: str) -> datetime:
    """expr's date(str): RFC 3339 / ISO 8601 first, then a few Go standard layouts."""
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        for layout in _DEFAULT_LAYOUTS:
            try:
                return parse_time(text, layout)
            except ExpressionError:
                continue
        raise ExpressionError(f"cannot parse date {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
          "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_MAX_NS = 2 ** 63 - 1


def parse_duration(text: str) -> timedelta:
    """time.ParseDuration: "1h30m", "-1.5h", "300ms", "0"."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return timedelta(0)
    total, pos = 0.0, 0
    while pos < len(body):
        part = _DURATION_PART.match(body, pos)
        if not part or part.group(1) in ("", "."):
            raise ExpressionError(f"time: invalid duration {text!r}")
        total += float(part.group(1)) * _UNITS[part.group(2)]
        pos = part.end()
    if not body or total > _MAX_NS:
        raise ExpressionError(f"time: invalid duration {text!r}")
    sign = -1 if text.startswith("-") else 1
    return timedelta(microseconds=sign * total / 1000)
