"""Names Tiphys generates for Workflow objects, as Kubernetes does for `generateName`: shared by
`tiphys run`, the server's create/submit and resubmit, so every path uses one alphabet."""
from __future__ import annotations

import random
from collections.abc import Callable

from tiphys.errors import InfrastructureError

# Kubernetes' generateName alphabet (no vowels, no 0/1/3: no accidental words).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def generated_name(prefix: str, taken: Callable[[str], bool]) -> str:
    """`prefix` and five random characters, not `taken` yet."""
    for _ in range(100):
        name = prefix + "".join(random.choices(NAME_ALPHABET, k=5))
        if not taken(name):
            return name
    raise InfrastructureError(f"could not find a free name for generateName {prefix!r}")
