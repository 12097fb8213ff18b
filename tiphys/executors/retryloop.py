"""A containerSet's `retryStrategy` re-runs a container's command inside the same container
(Argo's emissary retries the process, not the pod): files the first attempt left, in its
working directory or anywhere in its filesystem, are there for the next. Every executor
runs such a step as `sh -c LOOP sh ARGV...`, so it needs a shell in its image (the host's
for the host and sandbox executors).

As the emissary: a program that cannot be found is not retried (127 with
`exec: NAME: not found`, the executors' convention), otherwise the command runs until it
exits 0 or `attempts` runs are spent, `delay` seconds apart; the last exit code is the step's.
"""
from __future__ import annotations

_LOOP = ('command -v "$1" >/dev/null 2>&1 || {{ echo "exec: $1: not found" >&2; exit 127; }}; '
         'n=1; while :; do "$@"; rc=$?; '
         'if [ "$rc" -eq 0 ] || [ "$n" -ge {attempts} ]; then exit "$rc"; fi; '
         'n=$((n+1)){pause}; done')


def wrap(argv: list[str], attempts: int, delay: float = 0.0) -> list[str]:
    """`argv` run up to `attempts` times until it succeeds; `argv` itself for one attempt."""
    if attempts <= 1 or not argv:
        return argv
    pause = f"; sleep {delay:g}" if delay > 0 else ""
    return ["sh", "-c", _LOOP.format(attempts=int(attempts), pause=pause), "sh", *argv]
