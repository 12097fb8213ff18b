"""LocalExecutor with real processes (bubblewrap sandbox and unsandboxed)."""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

from tiphys.executors import local
from tiphys.executors.base import InputFile, StepResult, StepSpec
from tiphys.executors.local import LocalExecutor, _Cgroups, default_argv, parse_image, resolve_in_root

HAVE_BWRAP = shutil.which("bwrap") is not None
needs_bwrap = pytest.mark.skipif(not HAVE_BWRAP, reason="bubblewrap not installed")
MODES = [pytest.param(True, id="sandbox", marks=needs_bwrap), pytest.param(False, id="host")]


def run(coro):
    return asyncio.run(coro)


async def _go(ex: LocalExecutor, spec: StepSpec) -> StepResult:
    handle = await ex.start(spec)
    return await handle.wait()


def step(tmp_path: Path, image: str = "busybox", *, key: str | None = None, **kw) -> StepSpec:
    key = key or f"s-{uuid.uuid4().hex[:8]}"
    return StepSpec(key=key, image=image, workdir=tmp_path / key, **kw)


def sh(tmp_path: Path, script: str, **kw) -> StepSpec:
    return step(tmp_path, command=("sh", "-c"), args=(script,), **kw)


def execute(sandbox: bool, spec: StepSpec) -> StepResult:
    return run(_go(LocalExecutor(sandbox=sandbox), spec))


def live_processes(marker: str) -> list[tuple[int, str]]:
    """(pid, state) of every process whose command line contains marker."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in cmd:
            found.append((int(entry), state))
    return found


# ------------------------------------------------------------------ pure helpers

def test_parse_image():
    assert parse_image("argoproj/argosay:v2") == ("argoproj/argosay", "v2")
    assert parse_image("docker.io/library/python:3.11-slim") == ("python", "3.11-slim")
    assert parse_image("busybox") == ("busybox", "")
    assert parse_image("localhost:5000/foo/bar:1@sha256:abc") == ("foo/bar", "1")


def test_default_argv():
    assert default_argv("argoproj/argosay:v2", (), "/argosay") == ["/argosay"]
    assert default_argv("argoproj/argosay:v2", ("echo", "x"), "/argosay") == ["/argosay", "echo", "x"]
    assert default_argv("argoproj/argosay:v1", (), "/argosay") == ["cowsay"]
    assert default_argv("docker/whalesay:latest", ("hi",), "/a") == ["cowsay", "hi"]
    assert default_argv("busybox", (), "/a") == ["sh"]
    assert default_argv("alpine:3", ("echo", "x"), "/a") == ["echo", "x"]
    assert default_argv("bash:5", ("-c", "echo"), "/a") == ["bash", "-c", "echo"]
    assert default_argv("example.com/unknown", (), "/a") is None


def test_resolve_in_root_never_escapes(tmp_path):
    root = tmp_path / "root"
    (root / "out").mkdir(parents=True)
    (root / "out" / "f").write_text("x")
    (tmp_path / "secret").write_text("s")
    os.symlink("/etc/passwd", root / "out" / "abs")
    os.symlink("../../../../secret", root / "out" / "up")
    os.symlink("f", root / "out" / "rel")
    os.symlink("/out", root / "link-to-out")
    assert resolve_in_root(root, "/out/f") == root / "out" / "f"
    assert resolve_in_root(root, "/out/rel") == root / "out" / "f"
    assert resolve_in_root(root, "/link-to-out/f") == root / "out" / "f"
    assert resolve_in_root(root, "/out/abs") is None          # would be <root>/etc/passwd
    assert resolve_in_root(root, "/out/up") is None           # clamped at /: <root>/secret
    assert resolve_in_root(root, "f", cwd="/out") == root / "out" / "f"
    assert resolve_in_root(root, "/missing") is None


# ------------------------------------------------------------------ basics

@pytest.mark.integration
@pytest.mark.parametrize("sandbox", MODES)
def test_stdout_stderr_exit_code(tmp_path, sandbox):
    r = execute(sandbox, sh(tmp_path, "echo out; echo err >&2; exit 3"))
    assert (r.exit_code, r.error, r.stopped, r.oom_killed) == (3, None, False, False)
    assert r.stdout.read_text() == "out\n"
    assert r.stderr.read_text() == "err\n"
    assert r.stdout == r.stdout.parent / "stdout"


@pytest.mark.integration
@pytest.mark.parametrize("sandbox", MODES)
def test_exit_zero_and_signal(tmp_path, sandbox):
    assert execute(sandbox, step(tmp_path, command=("true",))).exit_code == 0
    assert execute(sandbox, sh(tmp_path, "kill -9 $$")).exit_code == 137


@pytest.mark.integration
@pytest.mark.parametrize("sandbox", MODES)
def test_command_not_found_is_127(tmp_path, sandbox):
    r = execute(sandbox, step(tmp_path, command=("no-such-command-xyz",)))
    assert (r.exit_code, r.error) == (127, None)
    assert "exec: no-such-command-xyz: not found" in r.stderr.read_text()


@pytest.mark.integration
@pytest.mark.parametrize("sandbox", MODES)
def test_env_and_working_dir(tmp_path, sandbox):
    wd = "/work/dir" if sandbox else str(tmp_path)
    r = execute(sandbox, sh(tmp_path, 'echo "$FOO|$BAR|$(pwd)"', env=(("FOO", "1"), ("BAR", "a b")),
                            working_dir=wd))
    assert r.stdout.read_text() == f"1|a b|{wd}\n"


@pytest.mark.integration
@pytest.mark.parametrize("sandbox", MODES)
def test_scripts(tmp_path, sandbox):
    r = execute(sandbox, step(tmp_path, "python:3.11", command=("python",),
                              script="import sys\nprint('py', sys.argv[0].endswith('script'))"))
    assert (r.exit_code, r.stdout.read_text()) == (0, "py True\n")
    r = execute(sandbox, step(tmp_path, "debian", command=("bash",),
                              script="x=(a b c)\necho ${#x[@]}\n"))
    assert (r.exit_code, r.stdout.read_text()) == (0, "3\n")


# ------------------------------------------------------------------ sandbox filesystem

@pytest.mark.integration
@needs_bwrap
def test_parallel_steps_are_isolated(tmp_path):
    host_file = Path("/tmp/out.txt")
    before = host_file.read_bytes() if host_file.exists() else None
    ex = LocalExecutor(sandbox=True)

    async def both():
        specs = [sh(tmp_path, f"echo {n} > /tmp/out.txt; mkdir -p /output; echo {n} > /output/v; sleep 0.2",
                    output_paths=("/tmp/out.txt", "/output")) for n in ("one", "two")]
        handles = [await ex.start(s) for s in specs]
        return [await h.wait() for h in handles]

    r1, r2 = run(both())
    assert r1.outputs["/tmp/out.txt"].read_text() == "one\n"
    assert r2.outputs["/tmp/out.txt"].read_text() == "two\n"
    assert (r1.outputs["/output"] / "v").read_text() == "one\n"
    assert (r2.outputs["/output"] / "v").read_text() == "two\n"
    assert r1.outputs["/tmp/out.txt"].is_relative_to(r1.stdout.parent / "root")
    after = host_file.read_bytes() if host_file.exists() else None
    assert before == after


@pytest.mark.integration
@needs_bwrap
def test_outputs_missing_folder_and_escape(tmp_path):
    r = execute(True, sh(tmp_path, "mkdir -p /mnt/out/sub && echo a > /mnt/out/sub/f && "
                                   "ln -s /etc/hostname /mnt/esc && ln -s /mnt/out /mnt/alias",
                         output_paths=("/mnt/out", "/nope", "/mnt/esc", "/mnt/alias/sub/f")))
    root = r.stdout.parent / "root"
    assert r.outputs["/mnt/out"] == root / "mnt/out"
    assert (r.outputs["/mnt/out"] / "sub" / "f").read_text() == "a\n"
    assert r.outputs["/nope"] is None
    assert r.outputs["/mnt/esc"] is None            # /etc is the host's, not collectable
    assert r.outputs["/mnt/alias/sub/f"] == root / "mnt/out/sub/f"


@pytest.mark.integration
@needs_bwrap
def test_output_in_a_read_only_system_folder_is_the_one_the_step_saw(tmp_path):
    # functional/dag-argument-passing.yaml: an output parameter read from /etc/hosts
    r = execute(True, sh(tmp_path, "cat /etc/hosts > /tmp/seen", output_paths=("/etc/hosts", "/tmp/seen", "/etc/nope")))
    assert r.outputs["/etc/hosts"].read_text() == r.outputs["/tmp/seen"].read_text()
    assert r.outputs["/etc/nope"] is None


@pytest.mark.integration
@needs_bwrap
def test_host_is_read_only_and_private(tmp_path):
    r = execute(True, sh(tmp_path, "touch /usr/x 2>/dev/null && echo bad; ls /work /home 2>&1 | head -1; "
                                   "echo $$; cat /proc/1/comm"))
    lines = r.stdout.read_text().splitlines()
    assert "bad" not in lines
    assert "No such file" in lines[0]
    assert lines[1] == "2"          # pid namespace: bwrap's init is 1, the step is 2


@pytest.mark.integration
@pytest.mark.parametrize("sandbox", MODES)
def test_inputs_file_and_folder(tmp_path, sandbox):
    src = tmp_path / "src"
    (src / "dir" / "deep").mkdir(parents=True)
    (src / "file.txt").write_text("F")
    (src / "dir" / "deep" / "g").write_text("G")
    base = "/in" if sandbox else str(tmp_path / "placed")
    r = execute(sandbox, sh(tmp_path, f"cat {base}/a/file.txt {base}/b/deep/g; echo >> {base}/a/file.txt",
                            inputs=(InputFile(src / "file.txt", f"{base}/a/file.txt"),
                                    InputFile(src / "dir", f"{base}/b"))))
    assert (r.exit_code, r.stdout.read_text()) == (0, "FG")
    assert (src / "file.txt").read_text() == "F"      # the step got a writable copy


@pytest.mark.integration
@pytest.mark.parametrize("sandbox", MODES)
def test_missing_input_is_an_error(tmp_path, sandbox):
    r = execute(sandbox, sh(tmp_path, "true", inputs=(InputFile(tmp_path / "nope", "/in/x"),)))
    assert r.exit_code is None and "does not exist" in r.error


@pytest.mark.integration
def test_unwritable_workdir_is_an_error(tmp_path):
    (tmp_path / "file").write_text("")
    spec = StepSpec(key="k", image="busybox", command=("true",), workdir=tmp_path / "file" / "sub")
    r = execute(HAVE_BWRAP, spec)
    assert r.exit_code is None and r.error


@pytest.mark.integration
@needs_bwrap
def test_working_dir_in_readonly_system_folder_is_an_error(tmp_path):
    r = execute(True, sh(tmp_path, "true", working_dir="/usr/src/app-does-not-exist"))
    assert r.exit_code is None and "read-only" in r.error


@pytest.mark.integration
@needs_bwrap
def test_volume_mounts_in_system_folders_must_exist_there(tmp_path):
    from tiphys.executors.base import Mount
    data = tmp_path / "data"
    data.mkdir()
    r = execute(True, sh(tmp_path, "true", mounts=(Mount("/usr/share/no-such-folder-xyz", data),)))
    assert r.exit_code is None and "read-only system folder /usr" in r.error
    (data / "f").write_text("over\n")
    r = execute(True, sh(tmp_path, "cat /opt/f", mounts=(Mount("/opt", data, read_only=True),)))
    assert (r.exit_code, r.stdout.read_text()) == (0, "over\n")     # bound over the host's /opt


@pytest.mark.integration
def test_volume_mounts_need_the_sandbox(tmp_path):
    from tiphys.executors.base import Mount
    r = execute(False, sh(tmp_path, "true", mounts=(Mount("/data", tmp_path),)))
    assert r.exit_code is None and "volumeMounts need the bubblewrap sandbox" in r.error


# ------------------------------------------------------------------ images

@pytest.mark.integration
@pytest.mark.parametrize("sandbox", MODES)
def test_argosay(tmp_path, sandbox):
    out = "/tmp/a/b/msg" if sandbox else str(tmp_path / "a/b/msg")
    img = "argoproj/argosay:v2"
    r = execute(sandbox, step(tmp_path, img))
    assert r.stdout.read_text() == "hello argo\n"
    r = execute(sandbox, step(tmp_path, img, args=("echo", "hi there")))
    assert r.stdout.read_text() == "hi there\n"
    r = execute(sandbox, step(tmp_path, img, args=("echo", "payload", out), output_paths=(out,)))
    assert r.exit_code == 0 and r.outputs[out].read_text() == "payload"
    r = execute(sandbox, step(tmp_path, img, args=("exit", "7")))
    assert r.exit_code == 7
    r = execute(sandbox, step(tmp_path, img, args=("bogus",)))
    assert r.exit_code == 1
    src = tmp_path / "in.txt"
    src.write_text("needle in a haystack")
    inp = "/in.txt" if sandbox else str(tmp_path / "placed.txt")
    r = execute(sandbox, step(tmp_path, img, args=("cat", inp), inputs=(InputFile(src, inp),)))
    assert r.stdout.read_text() == "needle in a haystack"
    for text, code in (("needle", 0), ("pin", 1)):
        r = execute(sandbox, step(tmp_path, img, args=("assert_contains", inp, text), inputs=(InputFile(src, inp),)))
        assert r.exit_code == code


@pytest.mark.integration
@needs_bwrap
def test_argosay_by_path_and_cowsay(tmp_path):
    r = execute(True, step(tmp_path, "argoproj/argosay:v2", command=("sh", "-c"),
                           args=("/argosay echo hi && argosay echo there && cowsay moo",)))
    text = r.stdout.read_text()
    assert r.exit_code == 0 and text.startswith("hi\nthere\n") and "< moo >" in text
    r = execute(True, step(tmp_path, "docker/whalesay", command=("cowsay",), args=("hello",)))
    assert "< hello >" in r.stdout.read_text()
    r = execute(True, step(tmp_path, "argoproj/argosay:v1"))
    assert r.exit_code == 0


@pytest.mark.integration
@pytest.mark.parametrize("sandbox", MODES)
def test_unknown_image_warns_once(tmp_path, sandbox, caplog):
    image = f"example.com/team/tool-{uuid.uuid4().hex[:6]}:1"
    with caplog.at_level(logging.WARNING, logger="tiphys.executors.local"):
        r1 = execute(sandbox, step(tmp_path, image, command=("echo", "ok")))
        r2 = execute(sandbox, step(tmp_path, image, command=("echo", "ok")))
        r3 = execute(sandbox, step(tmp_path, image))
    assert r1.stdout.read_text() == r2.stdout.read_text() == "ok\n"
    assert r3.exit_code is None and "entrypoint" in r3.error
    assert sum(image in rec.getMessage() for rec in caplog.records) == 1


# ------------------------------------------------------------------ stop

@pytest.mark.integration
@pytest.mark.parametrize("sandbox", MODES)
def test_stop_kills_the_whole_tree(tmp_path, sandbox):
    marker = f"{1000 + int(uuid.uuid4().int % 8000)}.{os.getpid() % 1000}"  # unique sleep duration
    ex = LocalExecutor(sandbox=sandbox)

    async def go():
        h = await ex.start(sh(tmp_path, f"sleep {marker} & sleep {marker}"))
        for _ in range(200):
            if len(live_processes(f"sleep {marker}")) >= 2:
                break
            await asyncio.sleep(0.01)
        assert len(live_processes(f"sleep {marker}")) >= 2
        t = time.monotonic()
        await h.stop()
        r = await h.wait()
        return r, time.monotonic() - t

    r, took = run(go())
    assert r.stopped and r.exit_code == 137 and r.error is None
    assert took < 2
    deadline = time.monotonic() + 2
    while True:
        left = live_processes(f"sleep {marker}")
        if sandbox:
            # the pid namespace's teardown reaps everything: not even a zombie remains
            alive = left
        else:
            # unsandboxed, the orphaned grandchild's zombie belongs to PID 1 to reap
            alive = [p for p in left if p[1] != "Z"]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert alive == []


@pytest.mark.integration
@pytest.mark.parametrize("sandbox", MODES)
def test_stop_with_grace_sends_sigterm(tmp_path, sandbox):
    ex = LocalExecutor(sandbox=sandbox)

    async def go():
        h = await ex.start(sh(tmp_path, "trap 'echo term; exit 5' TERM; echo ready; "
                                        "while :; do sleep 0.05; done"))
        await asyncio.sleep(0.3)
        await h.stop(grace=5)
        return await h.wait()

    r = run(go())
    assert (r.stopped, r.exit_code) == (True, 5)
    assert r.stdout.read_text() == "ready\nterm\n"


@pytest.mark.integration
def test_stop_after_exit_is_harmless(tmp_path):
    ex = LocalExecutor(sandbox=HAVE_BWRAP)

    async def go():
        h = await ex.start(step(tmp_path, command=("true",)))
        r = await h.wait()
        await h.stop(1)
        return r, await h.wait()

    r1, r2 = run(go())
    assert r1 is r2 and not r1.stopped and r1.exit_code == 0


# ------------------------------------------------------------------ limits

def _cgroups_or_skip() -> None:
    if _Cgroups().kind == "rlimit":
        pytest.skip("cgroups are not writable here (only the RLIMIT_AS fallback is available)")


@pytest.mark.integration
@pytest.mark.parametrize("sandbox", MODES)
def test_memory_limit_oom_killed(tmp_path, sandbox):
    _cgroups_or_skip()
    r = execute(sandbox, step(tmp_path, "python:3", command=("python", "-c"),
                              args=("x = bytearray(300 * 1024 * 1024)\nprint('survived')",),
                              memory_limit=64 * 1024 * 1024))
    assert (r.oom_killed, r.exit_code, r.error) == (True, 137, None)
    assert "survived" not in r.stdout.read_text()
    parent = local._Cgroups().mem_parent or local._Cgroups().v2_parent
    key = r.stdout.parent.name
    assert [d for d in parent.iterdir() if d.name.startswith(f"tiphys-{key}-")] == []


@pytest.mark.integration
@needs_bwrap
def test_limits_that_fit_do_not_oom(tmp_path):
    _cgroups_or_skip()
    r = execute(True, step(tmp_path, "python:3", command=("python", "-c"),
                           args=("x = bytearray(10 * 1024 * 1024); print('ok')",),
                           memory_limit=256 * 1024 * 1024, cpu_limit=0.5))
    assert (r.oom_killed, r.exit_code, r.stdout.read_text()) == (False, 0, "ok\n")


def test_no_bwrap_falls_back_with_one_warning(monkeypatch, caplog):
    monkeypatch.setattr(local.shutil, "which", lambda name, *a, **k: None)
    monkeypatch.setattr(local, "_warned_no_bwrap", False)
    with caplog.at_level(logging.WARNING, logger="tiphys.executors.local"):
        assert LocalExecutor().sandbox is False
        assert LocalExecutor().sandbox is False
    assert sum("share the host filesystem" in r.getMessage() for r in caplog.records) == 1
    with pytest.raises(local.InfrastructureError):
        LocalExecutor(sandbox=True)


@pytest.mark.integration
@needs_bwrap
def test_sandbox_tmp_and_home(tmp_path):
    r = execute(True, sh(tmp_path, "stat -c %a /tmp; echo $HOME; touch /root/x /tmp/y && echo ok"))
    assert r.stdout.read_text() == "1777\n/root\nok\n"


@pytest.mark.integration
@pytest.mark.parametrize("sandbox", MODES)
def test_memory_limit_rlimit_fallback(tmp_path, sandbox, monkeypatch):
    def no_cgroups(self):
        raise PermissionError("cgroups not writable (simulated)")

    monkeypatch.setattr(local._Cgroups, "_detect", no_cgroups)
    r = execute(sandbox, step(tmp_path, "python:3", command=("python", "-c"),
                              args=("x = bytearray(300 * 1024 * 1024)\nprint('survived')",),
                              memory_limit=128 * 1024 * 1024))
    assert r.exit_code not in (0, None) and not r.oom_killed
    assert "MemoryError" in r.stderr.read_text()


@pytest.mark.integration
@needs_bwrap
def test_steps_nothing_is_read_back_from_get_an_in_memory_root(tmp_path):
    # issue 11: no root folder on disk to build and remove, the same private writable places
    ex = LocalExecutor(sandbox=True)
    script = ("import os\nfor d in ('/tmp', '/root', '/mnt', '/home', '/argo/staging', os.getcwd()):\n"
              "    open(d + '/mine', 'w').write(d)\nprint(os.getcwd(), sorted(os.listdir('/tmp')), "
              "oct(os.stat('/tmp').st_mode & 0o7777), os.access('/usr', os.W_OK), os.access('/etc', os.W_OK))\n")

    async def both():
        specs = [step(tmp_path, "python:3.11", command=("python",), script=script, working_dir="/work/dir"),
                 sh(tmp_path, "sleep 0.3; ls -A /tmp; touch /usr/x 2>/dev/null && echo bad; echo $(pwd)")]
        handles = [await ex.start(s) for s in specs]
        return specs, [await h.wait() for h in handles]

    specs, (r1, r2) = run(both())
    assert all(local.in_memory_root(s) for s in specs)
    assert (r1.exit_code, r1.stdout.read_text()) == (0, "/work/dir ['mine'] 0o1777 False False\n"), r1.stderr.read_text()
    assert (r2.exit_code, r2.stdout.read_text()) == (0, "/\n")   # the other step's /tmp is not there
    assert not (r1.stdout.parent / "root").exists() and not (r2.stdout.parent / "root").exists()
    assert not local.in_memory_root(sh(tmp_path, "true", output_paths=("/tmp/x",)))
    assert not local.in_memory_root(sh(tmp_path, "true", memory_limit=64 << 20))
