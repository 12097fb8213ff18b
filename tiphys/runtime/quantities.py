"""Kubernetes resource quantities ("512Mi", "1G", "500m") as numbers."""
from __future__ import annotations

import re

from tiphys.errors import SpecError

_SUFFIX = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18, "m": 1e-3,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_QTY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(e[0-9]+)?([a-zA-Z]*)$")


def parse(value: object, field: str = "quantity") -> float:
    text = str(value).strip()
    m = _QTY.match(text)
    if not m or m.group(3) not in _SUFFIX:
        raise SpecError(f"invalid quantity {text!r}", path=field)
    number = float(m.group(1) + (m.group(2) or ""))
    return number * _SUFFIX[m.group(3)]
