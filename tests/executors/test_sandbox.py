"""SandboxExecutor with real processes on a real image (a busybox rootfs built here, imported
into a temporary store), and the executor choice (tiphys.executors.choose)."""
from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import pytest

from tiphys.errors import SpecError
from tiphys.executors import choose
from tiphys.executors.base import InputFile, StepResult, StepSpec
from tiphys.images import build
from tiphys.images.archive import import_archive
from tiphys.images.store import ImageStore

CAN_RUN = shutil.which("bwrap") is not None and os.access(build.BUSYBOX, os.X_OK) and os.geteuid() == 0
needs_sandbox = pytest.mark.skipif(not CAN_RUN, reason="needs root, bubblewrap and busybox-static")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A store with `tiny:1` (root, CMD prints a greeting) and `tiny:user` (USER user)."""
    if not CAN_RUN:
        pytest.skip("needs root, bubblewrap and busybox-static")
    tmp = tmp_path_factory.mktemp("images")
    rootfs = build.busybox_rootfs(tmp / "rootfs")
    base = build.layer_tar(rootfs)
    extra = build.layer_tar({"etc/greeting": "hello from the image\n", "srv/": None, "srv/data.txt": "data\n"})
    st = ImageStore(tmp / "store")
    cfg = build.image_config(entrypoint=["sh", "-c"], cmd=['cat /etc/greeting; echo "$GREETING in $(pwd)"'],
                             env=["PATH=/bin", "GREETING=image-env"], working_dir="/srv", layers=[base, extra])
    import_archive(st, "tiny:1", build.docker_archive(tmp / "tiny.tar", [base, extra], cfg, []))
    ucfg = build.image_config(cmd=["sh"], env=["PATH=/bin"], user="user", layers=[base])
    import_archive(st, "tiny:user", build.docker_archive(tmp / "user.tar", [base], ucfg, []))
    return st


@pytest.fixture
def executor(images, monkeypatch, tmp_path):
    from tiphys.executors.sandbox import SandboxExecutor
    monkeypatch.setenv("TIPHYS_IMAGES", str(images.root))
    monkeypatch.setenv("TIPHYS_SYSTEM_IMAGES", str(tmp_path / "no-system-store"))
    return SandboxExecutor()


def step(tmp_path: Path, image: str = "tiny:1", **kw) -> StepSpec:
    key = f"s-{uuid.uuid4().hex[:8]}"
    return StepSpec(key=key, image=image, workdir=tmp_path / key, **kw)


def sh(tmp_path: Path, script: str, image: str = "tiny:1", **kw) -> StepSpec:
    return step(tmp_path, image, command=("sh", "-c"), args=(script,), **kw)


async def _go(ex, spec: StepSpec) -> StepResult:
    return await (await ex.start(spec)).wait()


def execute(ex, spec: StepSpec) -> StepResult:
    return asyncio.run(_go(ex, spec))


def out(r: StepResult) -> str:
    return r.stdout.read_text()


def overlay_mounts() -> list[str]:
    """Step overlays mounted by this process (others, e.g. a conformance run, may mount theirs now)."""
    mine = f"/run/tiphys/sandbox/{os.getpid()}-"
    return [line for line in Path("/proc/self/mounts").read_text().splitlines() if mine in line]


@needs_sandbox
def test_image_entrypoint_cmd_env_and_workdir_are_honoured(executor, tmp_path):
    r = execute(executor, step(tmp_path))
    assert (r.exit_code, r.error) == (0, None)
    assert out(r) == "hello from the image\nimage-env in /srv\n"


@needs_sandbox
def test_command_replaces_entrypoint_and_args_replace_cmd(executor, tmp_path):
    r = execute(executor, step(tmp_path, args=("echo only args",)))
    assert out(r) == "only args\n"                       # ENTRYPOINT sh -c kept, CMD replaced
    r = execute(executor, step(tmp_path, command=("echo",), args=("plain",), env=(("GREETING", "step"),)))
    assert out(r) == "plain\n"
    r = execute(executor, sh(tmp_path, 'echo "$GREETING $HOSTNAME"; cat /etc/hostname 2>/dev/null; true',
                             env=(("GREETING", "step-env"),), working_dir="/made/for/me"))
    assert out(r).startswith("step-env s-")


@needs_sandbox
def test_writes_go_to_the_steps_own_layer_and_the_image_stays_read_only(executor, images, tmp_path):
    img = images.lookup("tiny:1")
    before = sorted(os.listdir(img.rootfs / "etc"))
    r = execute(executor, sh(tmp_path, "echo changed > /etc/greeting; rm /srv/data.txt; echo new > /usr/new; "
                                       "cat /etc/greeting", output_paths=("/etc/greeting", "/usr/new")))
    assert (r.exit_code, out(r)) == (0, "changed\n")
    assert r.outputs["/etc/greeting"].read_text() == "changed\n"
    assert r.outputs["/usr/new"].read_text() == "new\n"
    assert (img.rootfs / "etc" / "greeting").read_text() == "hello from the image\n"
    assert (img.rootfs / "srv" / "data.txt").exists() and sorted(os.listdir(img.rootfs / "etc")) == before
    again = execute(executor, sh(tmp_path, "cat /etc/greeting /srv/data.txt; ls /usr"))
    assert out(again) == "hello from the image\ndata\nbin\n"     # the next step starts clean
    assert overlay_mounts() == []


@needs_sandbox
def test_parallel_steps_do_not_see_each_others_files(executor, tmp_path):
    async def both():
        a = await executor.start(sh(tmp_path, "echo A > /tmp/f; sleep 0.3; cat /tmp/f", output_paths=("/tmp/f",)))
        b = await executor.start(sh(tmp_path, "echo B > /tmp/f; sleep 0.3; cat /tmp/f", output_paths=("/tmp/f",)))
        return await a.wait(), await b.wait()
    ra, rb = asyncio.run(both())
    assert (out(ra), out(rb)) == ("A\n", "B\n")
    assert ra.outputs["/tmp/f"].read_text() == "A\n" and rb.outputs["/tmp/f"].read_text() == "B\n"


@needs_sandbox
def test_image_user_is_honoured(executor, tmp_path):
    r = execute(executor, sh(tmp_path, "id -u; id -g; echo $HOME; touch /etc/x 2>&1 || echo denied; "
                                       "echo mine > $HOME/f", image="tiny:user", output_paths=("/home/user/f",)))
    lines = out(r).splitlines()
    assert lines[:3] == ["1000", "1000", "/home/user"] and lines[-1] == "denied"
    assert r.outputs["/home/user/f"].read_text() == "mine\n"


@needs_sandbox
def test_scripts_inputs_and_output_folders(executor, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("input data\n")
    r = execute(executor, step(tmp_path, command=("sh",), script="mkdir -p /out/d; cp in/f /out/d/copy; "
                               "ln -s copy /out/d/link; echo $0",
                               inputs=(InputFile(src, "in/f"),), output_paths=("/out/d",)))
    assert out(r) == "/argo/staging/script\n"
    d = r.outputs["/out/d"]
    assert (d / "copy").read_text() == "input data\n" and os.readlink(d / "link") == "copy"


@needs_sandbox
def test_exit_codes_missing_programs_and_missing_images(executor, tmp_path):
    assert execute(executor, sh(tmp_path, "exit 3")).exit_code == 3
    r = execute(executor, step(tmp_path, command=("no-such-program",)))
    assert r.exit_code == 127 and "no-such-program" in r.stderr.read_text()
    r = execute(executor, step(tmp_path, image="never/imported:9"))
    assert r.exit_code is None and "never/imported:9" in r.error and "tiphys image pull" in r.error


@needs_sandbox
def test_memory_limit_is_oomkilled(executor, tmp_path):
    r = execute(executor, sh(tmp_path, "x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo survived",
                             memory_limit=64 * 1024 * 1024))
    assert (r.exit_code, r.oom_killed) == (137, True)
    assert "survived" not in out(r)


@needs_sandbox
def test_stop_kills_the_step_and_unmounts(executor, tmp_path):
    async def go():
        h = await executor.start(sh(tmp_path, "sleep 30"))
        await asyncio.sleep(0.3)
        await h.stop(grace=0.0)
        return await h.wait()
    r = asyncio.run(go())
    assert r.stopped and r.exit_code == 137
    assert overlay_mounts() == []


# -- the choice ----------------------------------------------------------------------------

def wf(annotation: str | None = None) -> dict:
    meta = {"name": "x", **({"annotations": {choose.ANNOTATION: annotation}} if annotation else {})}
    return {"metadata": meta}


def test_choice_precedence_flag_annotation_env_config_default():
    env, cfg = {choose.ENV_VAR: "docker"}, {"executor": "auto"}
    assert choose.decide("sandbox", wf("host"), env, cfg) == choose.Choice("sandbox", "--executor")
    assert choose.decide(None, wf("host"), env, cfg).name == "host"
    assert choose.decide(None, wf(), env, cfg) == choose.Choice("docker", choose.ENV_VAR)
    assert choose.decide(None, wf(), {}, cfg).name == "auto"
    assert choose.decide(None, wf(), {}, {}) == choose.Choice("host", "default")


def test_bad_choices_name_where_they_came_from(tmp_path):
    with pytest.raises(SpecError, match=f"metadata.annotations.{choose.ANNOTATION}.*'nomad'"):
        choose.decide(None, wf("nomad"), {}, {})
    assert choose.decide(None, wf(), {choose.ENV_VAR: "kubernetes"}, {}) == choose.Choice("kubernetes", choose.ENV_VAR)
    with pytest.raises(SpecError, match="TIPHYS_EXECUTOR"):
        choose.decide(None, wf(), {choose.ENV_VAR: "vm"}, {})
    (tmp_path / "config.yaml").write_text("executor: [sandbox]\n")
    with pytest.raises(SpecError, match="config.yaml"):
        choose.choose(wf(), home=tmp_path, env={})
    (tmp_path / "config.yaml").write_text("executor: sandbox\n")
    assert choose.choose(wf(), home=tmp_path, env={}) == choose.Choice("sandbox", str(tmp_path / "config.yaml"))


class _Named:
    def __init__(self, name, images=()):
        self.name, self.images, self.started = name, set(images), []

    def has_image(self, image):
        return image in self.images

    async def start(self, spec):
        self.started.append(spec.key)
        return spec.key


def test_auto_picks_the_store_then_the_engine_then_the_host_per_step(tmp_path):
    backends = {"sandbox": _Named("sandbox", {"in-store:1"}), "docker": _Named("docker"), "host": _Named("host")}
    factories = {k: (lambda b=b: b) for k, b in backends.items()}
    engine_up = [True]
    chosen = choose.Chosen(choose.Choice("auto", "--executor"), factories, docker_answers=lambda: engine_up[0])
    assert chosen.pick("in-store:1") == "sandbox" and chosen.pick("elsewhere:2") == "docker"
    down = choose.Chosen(choose.Choice("auto", "default"), factories, docker_answers=lambda: False)
    assert down.pick("elsewhere:2") == "host" and down.pick("in-store:1") == "sandbox"

    async def run_two():
        for key, image in (("a", "in-store:1"), ("b", "elsewhere:2")):
            await chosen.start(StepSpec(key=key, image=image, workdir=tmp_path / key))
    asyncio.run(run_two())
    assert chosen.ran == {"a": "sandbox", "b": "docker"}
    final = {"status": {"nodes": {"a": {"displayName": "first"}, "b": {"displayName": "second"}}}}
    text = choose.describe(chosen, final)
    assert "executor docker: 1 step (second)" in text and "executor sandbox: 1 step (first)" in text


@needs_sandbox
def test_cli_runs_a_workflow_in_the_sandbox_and_reports_oomkilled(images, tmp_path):
    import json
    import subprocess
    import sys
    wf = tmp_path / "wf.yaml"
    wf.write_text("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: over-limit, annotations: {tiphys.io/executor: sandbox}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: fine, template: fine}
    - - {name: hog, template: hog}
  - name: fine
    container: {image: "tiny:1"}
  - name: hog
    script:
      image: tiny:1
      command: [sh]
      source: x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo survived
      resources: {limits: {memory: 64Mi}}
""")
    env = {**os.environ, "TIPHYS_HOME": str(tmp_path / "home"), "TIPHYS_IMAGES": str(images.root),
           "TIPHYS_SYSTEM_IMAGES": str(tmp_path / "none"), "NO_COLOR": "1"}
    env.pop("TIPHYS_EXECUTOR", None)
    r = subprocess.run([str(Path(sys.executable).with_name("tiphys")), "run", str(wf), "-o", "json"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1, r.stderr
    nodes = {n["displayName"]: n for n in json.loads(r.stdout)["status"]["nodes"].values()}
    assert nodes["fine"]["phase"] == "Succeeded"
    assert (nodes["hog"]["phase"], nodes["hog"]["message"]) == ("Failed", "OOMKilled (exit code 137)")
    assert "executor sandbox: 2 steps (fine, hog) [chosen: sandbox by annotation tiphys.io/executor]" in r.stderr


@needs_sandbox
def test_overlays_left_by_a_dead_engine_are_swept(images, tmp_path):
    from tiphys.executors import sandbox
    dead = sandbox.MOUNT_BASE / "4194305-0-left-behind"      # above pid_max: no such process
    dead.mkdir(parents=True)
    for d in ("upper", "work"):
        (tmp_path / d).mkdir()
    img = images.lookup("tiny:1")
    assert sandbox._mount_overlay(img.rootfs, tmp_path / "upper", tmp_path / "work", dead) is None
    mounts = lambda: Path("/proc/self/mounts").read_text()  # noqa: E731
    assert str(dead) in mounts()
    sandbox.SandboxExecutor()
    assert str(dead) not in mounts() and not dead.exists()


@needs_sandbox
def test_symlinks_in_the_image_never_lead_setup_outside_the_step(images, monkeypatch, tmp_path):
    from tiphys.executors.sandbox import SandboxExecutor
    outside = tmp_path / "host-dir"
    outside.mkdir()
    layer = build.layer_tar({"bin/": None, "bin/sh": ("link", "busybox"), "escape": ("link", str(outside)),
                             "argo": ("link", str(outside))})
    base = images.lookup("tiny:1")
    cfg = build.image_config(cmd=["sh"], env=["PATH=/bin"], layers=[layer])
    store = ImageStore(tmp_path / "store")
    import_archive(store, "links:1", build.docker_archive(tmp_path / "l.tar", [layer], cfg, []))
    shutil.copy2(base.rootfs / "bin" / "busybox", store.lookup("links:1").rootfs / "bin" / "busybox")
    monkeypatch.setenv("TIPHYS_IMAGES", str(store.root))
    monkeypatch.setenv("TIPHYS_SYSTEM_IMAGES", str(tmp_path / "none"))
    src = tmp_path / "in.txt"
    src.write_text("x")
    r = execute(SandboxExecutor(), step(tmp_path, "links:1", command=("sh",), script="echo ran; ls /escape",
                                        working_dir="/escape/work", inputs=(InputFile(src, "/escape/in.txt"),)))
    assert r.exit_code == 0, r.stderr.read_text()
    assert out(r).split() == ["ran", "in.txt", "staging", "work"]   # /argo and /escape: the same folder
    assert list(outside.iterdir()) == []                 # nothing was written through the links
