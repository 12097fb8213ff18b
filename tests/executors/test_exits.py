"""exits.py with a fake engine: a wait that fails or answers -1 is not taken as the
step's result; the container's state is read until it has exited."""
from __future__ import annotations

import pytest

from tiphys.executors import exits


class Gone(Exception):
    status_code = 404


class FakeApi:
    base_url = "http://engine"

    def __init__(self, answers, states):
        self.answers = list(answers)      # what the wait endpoint gives, in turn (or raises)
        self.states = list(states)        # what inspect gives, in turn (the last repeats)
        self.inspected = 0

    def _post(self, url, **kw):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _url(self, path, *args):
        return path

    def _result(self, res, json):
        return res

    def inspect_container(self, cid):
        self.inspected += 1
        state = self.states[min(self.inspected - 1, len(self.states) - 1)]
        if isinstance(state, Exception):
            raise state
        return {"State": state}


RUNNING = {"Running": True, "Status": "running", "ExitCode": 0}


def test_the_engines_answer_is_taken_when_it_has_a_code():
    api = FakeApi(["3"], [])
    assert exits.wait_exit(api, "c1", podman=True) == 3
    assert api.inspected == 0
    api = FakeApi([{"StatusCode": 0}], [])
    assert exits.wait_exit(api, "c1", podman=False) == 0


def test_a_failed_wait_reads_the_state_until_the_container_exits():
    api = FakeApi([RuntimeError("connection reset")], [RUNNING, RUNNING, {"Running": False, "Status": "exited",
                                                                          "ExitCode": 0}])
    assert exits.wait_exit(api, "c1", podman=True) == 0
    assert api.inspected == 3          # it went on while the container still ran


def test_minus_one_waits_for_the_code_to_be_written():
    api = FakeApi(["-1"], [{"Running": False, "Status": "stopped", "ExitCode": -1},
                           {"Running": False, "Status": "exited", "ExitCode": 143}])
    assert exits.wait_exit(api, "c1", podman=True) == 143
    api = FakeApi([{"StatusCode": -1, "Error": {"Message": "no such exit code"}}],
                  [{"Running": False, "Status": "exited", "ExitCode": 2}])
    assert exits.wait_exit(api, "c1", podman=False) == 2


def test_a_removed_container_has_no_exit_code():
    with pytest.raises(RuntimeError, match="removed"):
        exits.wait_exit(FakeApi([Gone()], []), "c1", podman=True)
    with pytest.raises(RuntimeError, match="removed"):
        exits.wait_exit(FakeApi(["-1"], [Gone()]), "c1", podman=True)


def test_a_state_without_a_code_gives_up_after_settling():
    api = FakeApi(["-1"], [{"Running": False, "Status": "exited", "ExitCode": -1}])
    assert exits.exit_from_state(api, "c1", settle=0.1) == -1


def test_only_an_exec_failure_is_a_shell_exit_code():
    runc = ('crun: executable file `nosuch` not found in $PATH: No such file or directory: '
            'OCI runtime attempted to invoke a command that was not found')
    assert exits.not_runnable(runc) == 127
    assert exits.not_runnable('runc create failed: unable to start container process: exec: "/etc/passwd": '
                         'permission denied: OCI permission denied') == 126
    assert exits.not_runnable("runc create failed: unable to start container process: error during container "
                         "init: open /sys/fs/cgroup/pids/libpod_parent/x/pids.max: no such file or directory") is None
    assert exits.not_runnable("mount /var/lib/x: permission denied") is None


def test_only_the_engines_own_errors_are_tried_again():
    class Api(Exception):
        def __init__(self, status):
            self.status_code = status
    assert exits.transient(Api(500))
    assert not exits.transient(Api(404)) and not exits.transient(Api(409))
    assert exits.transient(ConnectionResetError())
    assert not exits.transient(ValueError("a bug of ours"))


def test_an_engine_that_never_answers_is_an_error():
    api = FakeApi(["-1"], [RuntimeError("connection refused")])
    with pytest.raises(RuntimeError, match="has not answered"):
        exits.exit_from_state(api, "c1", unreachable=0.3)
