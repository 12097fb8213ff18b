"""Wall time (measured from outside) and peak RSS of one command.

Peak memory is the measured process's own maximum resident set size, read with
`/usr/bin/time -f %M` when installed, else from `os.wait4`'s rusage. Both come from the
kernel's wait4 accounting: the maximum over the process and the descendants it waited for,
so the many small step processes (bwrap, echo: a few MB each) do not add up - the figure is
Tiphys' own peak unless a single step outgrew it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

TIME = "/usr/bin/time"
METHOD = "/usr/bin/time -f %M" if os.access(TIME, os.X_OK) else "os.wait4 ru_maxrss"


@dataclass
class Measurement:
    wall: float
    peak_kb: int
    rc: int
    error: str | None = None


def run(cmd: list[str], *, env: dict[str, str], timeout: float) -> Measurement:
    with tempfile.TemporaryDirectory(prefix="tiphys-bench-m-") as tmp:
        rss_file = os.path.join(tmp, "rss")
        out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        full = [TIME, "-f", "%M", "-o", rss_file, *cmd] if METHOD.startswith(TIME) else cmd
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                    start_new_session=True)
            deadline = t0 + timeout
            rc, rusage, timed_out = None, None, False
            while rc is None:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    wall = time.perf_counter() - t0
                    rc, rusage = os.waitstatus_to_exitcode(status), ru
                    proc.returncode = rc
                    break
                if time.perf_counter() > deadline:
                    timed_out = True
                    os.killpg(proc.pid, signal.SIGKILL)
                    _, status, ru = os.wait4(proc.pid, 0)
                    wall = time.perf_counter() - t0
                    rc, rusage = os.waitstatus_to_exitcode(status), ru
                    proc.returncode = rc
                    break
                time.sleep(0.002 if time.perf_counter() - t0 < 1 else 0.02)
        if timed_out:
            return Measurement(wall, 0, rc, f"timeout: killed after {timeout:.0f} s")
        peak = rusage.ru_maxrss
        if METHOD.startswith(TIME):
            try:
                peak = int(open(rss_file).read().split()[-1])
            except (OSError, ValueError, IndexError):
                pass
        if rc != 0:
            tail = open(err_path, "rb").read()[-3000:].decode(errors="replace").strip()
            return Measurement(wall, peak, rc, f"exit code {rc}: {tail or '(no stderr)'}")
        return Measurement(wall, peak, rc)
