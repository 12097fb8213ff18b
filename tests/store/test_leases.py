"""Leases contended by real controllers: separate connections, separate processes, both backends."""
from __future__ import annotations

import os
import select
import subprocess
import sys
import textwrap
import threading
import time

from tiphys.store import open_store

TTL = 1.5

# A contender: waits for "go", claims, says "won"/"lost". The winner renews every 0.2 s until it
# reads "stop" (then it goes quiet but stays alive, like a hung controller) and answers "renewed N"
# to "renew". The loser retries every 0.1 s and says "won" when the lease becomes its own.
CONTENDER = textwrap.dedent("""
    import select, sys, time
    from tiphys.store import open_store
    url, owner, ttl = sys.argv[1], sys.argv[2], float(sys.argv[3])
    store = open_store(url)
    def line(timeout):
        if select.select([sys.stdin], [], [], timeout)[0]:
            return sys.stdin.readline().strip()
        return None
    print("ready", flush=True)
    line(60)
    won = store.claim("argo", "wf", owner, ttl)
    print("won" if won else "lost", flush=True)
    renewing = won
    while True:
        command = line(0.2 if won else 0.1)
        if command == "stop":
            renewing = False
        elif command == "renew":
            print(f"renewed {store.renew(owner, ttl)}", flush=True)
        elif command == "exit" or command == "":
            break
        if renewing:
            store.renew(owner, ttl)
        elif not won and store.claim("argo", "wf", owner, ttl):
            won = True
            print("won", flush=True)
""")


def _read_line(proc: subprocess.Popen, timeout: float = 30.0) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no answer from contender {proc.args[-2]} within {timeout}s"
    return proc.stdout.readline().strip()


def _send(proc: subprocess.Popen, command: str) -> None:
    proc.stdin.write(command + "\n")
    proc.stdin.flush()


def test_two_processes_one_lease(store_url, store):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = {owner: subprocess.Popen([sys.executable, "-c", CONTENDER, store_url, owner, str(TTL)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for owner in ("ctl-a", "ctl-b")}
    try:
        for proc in procs.values():
            assert _read_line(proc) == "ready"
        for proc in procs.values():
            _send(proc, "go")
        answers = {owner: _read_line(proc) for owner, proc in procs.items()}
        assert sorted(answers.values()) == ["lost", "won"], answers
        winner = next(o for o, a in answers.items() if a == "won")
        loser = next(o for o, a in answers.items() if a == "lost")
        assert store.lease_owner("argo", "wf") == winner
        # the winner renews: well past the ttl the lease is still its own, the loser keeps losing
        time.sleep(2 * TTL)
        assert store.lease_owner("argo", "wf") == winner
        assert not select.select([procs[loser].stdout], [], [], 0)[0], "loser claimed a renewed lease"
        # the winner stops renewing: once the ttl runs out the loser takes over
        _send(procs[winner], "stop")
        assert _read_line(procs[loser], timeout=10 * TTL) == "won"
        assert store.lease_owner("argo", "wf") == loser
        _send(procs[winner], "renew")
        assert _read_line(procs[winner]) == "renewed 0"
        assert store.lease_owner("argo", "wf") == loser
    finally:
        for proc in procs.values():
            try:
                _send(proc, "exit")
            except OSError:
                pass
        for proc in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_simultaneous_claims_on_separate_connections_have_one_winner(store_url):
    stores = [open_store(store_url) for _ in range(6)]
    try:
        for round_ in range(5):
            barrier = threading.Barrier(len(stores))
            results: dict[int, bool] = {}

            def contend(i: int) -> None:
                barrier.wait()
                results[i] = stores[i].claim("argo", f"wf{round_}", f"ctl-{i}", 30)

            threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(stores))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            winners = [i for i, won in results.items() if won]
            assert len(results) == len(stores) and len(winners) == 1, results
            assert stores[0].lease_owner("argo", f"wf{round_}") == f"ctl-{winners[0]}"
    finally:
        for s in stores:
            s.close()
