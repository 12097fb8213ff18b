"""Argo duration strings (`30s`, `1m30s`, `2h`, `1d`, plain seconds) to seconds."""
from __future__ import annotations

import re

from tiphys.errors import SpecError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value: object, field: str = "duration") -> float:
    """Parse a Go-style duration (Argo also accepts days and bare numbers of seconds)."""
    if isinstance(value, bool):
        raise SpecError(f"invalid duration {value!r}", path=field)
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise SpecError(f"invalid duration {text!r}", path=field)
    return total
