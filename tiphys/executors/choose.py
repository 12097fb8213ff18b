"""Which executor runs a workflow's steps, and the executor that does the choosing per step.

Executors by name:

    host     LocalExecutor: the host's tools in a bubblewrap sandbox (images emulated)
    sandbox  SandboxExecutor: the image's own rootfs from the local image store
    docker   DockerExecutor: any Docker API endpoint (DOCKER_HOST, podman's socket)
    pod      PodExecutor: each step a Kubernetes Pod played by `podman kube play`
    kubernetes  KubernetesExecutor: each step a Pod in the cluster of the current kubeconfig
             context, or the in-cluster service account
    auto     per step: the image from the store if it is there, else the container engine
             if one answers, else the host (with its warning about unknown images)

The first of these that names one wins (`decide`, pure):

    1. the command line, `tiphys run --executor NAME`
    2. the workflow's annotation `tiphys.io/executor: NAME`
    3. the environment variable TIPHYS_EXECUTOR
    4. `executor: NAME` in $TIPHYS_HOME/config.yaml
    5. the default, `host`

`Chosen` is the Executor the runtime is given: it starts each step on the backend the
choice names (building each backend once, on first use) and records which one ran each step
(`ran`, node id -> executor name), so the CLI can say so.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiphys.errors import InfrastructureError, SpecError
from tiphys.executors.base import StepHandle, StepSpec

NAMES = ("host", "sandbox", "docker", "pod", "kubernetes", "auto")
ANNOTATION = "tiphys.io/executor"
ENV_VAR = "TIPHYS_EXECUTOR"
DEFAULT = "host"


@dataclass(frozen=True)
class Choice:
    name: str
    source: str          # where it came from, for messages: "--executor", "annotation ...", ...


def _check(name: Any, where: str, file: str | None = None) -> str:
    value = str(name).strip().lower() if name is not None else ""
    if value not in NAMES:
        raise SpecError(f"{where}: unknown executor {name!r} (expected one of {', '.join(NAMES)})", file=file)
    return value


def decide(flag: str | None, workflow: Mapping[str, Any] | None, env: Mapping[str, str],
           config: Mapping[str, Any], config_file: str = "config.yaml") -> Choice:
    """The executor the first source that names one asks for (see the module docstring)."""
    if flag:
        return Choice(_check(flag, "--executor"), "--executor")
    annotations = ((workflow or {}).get("metadata") or {}).get("annotations") or {}
    if isinstance(annotations, Mapping) and annotations.get(ANNOTATION):
        return Choice(_check(annotations[ANNOTATION], f"metadata.annotations.{ANNOTATION}"),
                      f"annotation {ANNOTATION}")
    if env.get(ENV_VAR):
        return Choice(_check(env[ENV_VAR], ENV_VAR), ENV_VAR)
    if config.get("executor"):
        return Choice(_check(config["executor"], "executor", file=config_file), config_file)
    return Choice(DEFAULT, "default")


def read_config(home: Path) -> dict[str, Any]:
    """$TIPHYS_HOME/config.yaml as a map ({} when absent)."""
    path = home / "config.yaml"
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", file=str(path)) from exc
    import yaml
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML: {exc}", file=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecError("must be a map of settings (e.g. `executor: sandbox`)", file=str(path))
    return data


def choose(workflow: Mapping[str, Any] | None, *, flag: str | None = None, home: Path | None = None,
           env: Mapping[str, str] | None = None) -> Choice:
    env = os.environ if env is None else env
    config = read_config(home) if home is not None else {}
    return decide(flag, workflow, env, config, str(home / "config.yaml") if home else "config.yaml")


# -- building the backends --------------------------------------------------------------------

def _host() -> Any:
    from tiphys.executors.local import LocalExecutor
    return LocalExecutor()


def _sandbox() -> Any:
    from tiphys.executors.sandbox import SandboxExecutor
    return SandboxExecutor()


def _docker_class() -> Any:
    try:
        from tiphys.executors.docker import DockerExecutor
    except ImportError as exc:
        raise InfrastructureError(f"the docker executor is not available: {exc}") from exc
    return DockerExecutor


def _docker() -> Any:
    cls = _docker_class()
    if not cls.available():
        where = os.environ.get("DOCKER_HOST") or "no DOCKER_HOST, podman not installed"
        raise InfrastructureError(f"executor docker: no Docker API endpoint answers ({where})")
    return cls()


def _docker_answers() -> bool:
    try:
        return bool(_docker_class().available())
    except Exception:  # no module, no endpoint, a broken socket: not there
        return False


def _pod() -> Any:
    from tiphys.executors.pod import PodExecutor
    if not PodExecutor.available():
        raise InfrastructureError("executor pod: podman is not installed (it plays each step's Pod)")
    return PodExecutor()


def _kubernetes() -> Any:
    from tiphys.executors.kubernetes import KubernetesExecutor
    return KubernetesExecutor()        # InfrastructureError when no kubeconfig/in-cluster config is found


FACTORIES: dict[str, Callable[[], Any]] = {"host": _host, "sandbox": _sandbox, "docker": _docker,
                                           "pod": _pod,
                                           "kubernetes": _kubernetes}


class Chosen:
    """The executor given to the runtime: routes each step to the chosen backend."""

    def __init__(self, choice: Choice, factories: Mapping[str, Callable[[], Any]] | None = None,
                 docker_answers: Callable[[], bool] | None = None):
        self.choice = choice
        self.name = choice.name
        self._factories = dict(factories or FACTORIES)
        self._docker_answers = docker_answers or _docker_answers
        self._backends: dict[str, Any] = {}
        self._docker_up: bool | None = None
        self.ran: dict[str, str] = {}
        if choice.name != "auto":
            self.backend(choice.name)      # fail now (no bwrap, no engine), not at every step

    def backend(self, name: str) -> Any:
        if name not in self._backends:
            self._backends[name] = self._factories[name]()
        return self._backends[name]

    @property
    def plays_pods(self) -> bool:
        """Whether the steps go to a backend that plays whole pods (base.Executor); never with
        auto, whose steps may go elsewhere."""
        return self.name != "auto" and bool(getattr(self.backend(self.name), "plays_pods", False))

    @property
    def cluster_admits(self) -> bool:
        """Whether the steps go to a cluster that admits pods itself (its ResourceQuota and
        LimitRange): the local admission then stands aside."""
        return self.name != "auto" and bool(getattr(self.backend(self.name), "cluster_admits", False))

    @property
    def entrypoint(self) -> Callable[[str], Any] | None:
        """The pod-playing backend's image (ENTRYPOINT, CMD), for the Pods built for it."""
        return getattr(self.backend(self.name), "entrypoint", None) if self.plays_pods else None

    def pick(self, image: str) -> str:
        """The backend for a step of `image` (the choice itself unless it is auto)."""
        if self.name != "auto":
            return self.name
        try:
            if self.backend("sandbox").has_image(image):
                return "sandbox"
        except InfrastructureError:
            pass                                  # no bubblewrap: no sandbox
        if self._docker_up is None:
            self._docker_up = self._docker_answers()
        return "docker" if self._docker_up else "host"

    async def start(self, spec: StepSpec) -> StepHandle:
        name = self.pick(spec.image)
        self.ran[spec.key] = name
        handle = await self.backend(name).start(spec)
        try:
            handle.executor_name = name      # recorded with its identity: who re-attaches to it
        except AttributeError:               # a handle that takes no attribute cannot be re-attached to
            pass
        return handle

    async def attach(self, spec: StepSpec, ident: dict[str, Any]) -> StepHandle:
        """Re-attach to a step a Tiphys process that ended started (its recorded identity)."""
        name = ident.get("executor") or self.pick(spec.image)
        self.ran[spec.key] = name
        backend = self.backend(name)
        if getattr(backend, "attach", None) is None:
            raise InfrastructureError(f"the {name} executor cannot re-attach to a running step")
        return await backend.attach(spec, ident)

    def workflow_done(self, workflow: str, pod_gc: Any, phase: str, uid: str = "") -> None:
        """The workflow ended: backends that keep something per step (containers) let it go."""
        for backend in list(self._backends.values()):
            done = getattr(backend, "workflow_done", None)
            if done is not None:
                done(workflow, pod_gc, phase, uid)


def executor_for(workflow: Mapping[str, Any] | None, *, flag: str | None = None, home: Path | None = None,
                 env: Mapping[str, str] | None = None) -> Chosen:
    """The executor a run of `workflow` uses (raises TiphysError when it cannot be built)."""
    return Chosen(choose(workflow, flag=flag, home=home, env=env))


def describe(chosen: Chosen, final: Mapping[str, Any], most: int = 12) -> str:
    """Lines saying which executor ran each step (by display name), for stderr."""
    nodes = (final.get("status") or {}).get("nodes") or {}
    groups: dict[str, list[str]] = {}
    for key, name in chosen.ran.items():
        node = nodes.get(key) or {}
        groups.setdefault(name, []).append(str(node.get("displayName") or node.get("name") or key))
    how = f"{chosen.name} by {chosen.choice.source}" if chosen.name == "auto" or chosen.choice.source != "default" \
        else f"{chosen.name} (default)"
    lines = []
    for name, steps in sorted(groups.items()):
        shown = ", ".join(steps[:most]) + (f" and {len(steps) - most} more" if len(steps) > most else "")
        lines.append(f"executor {name}: {len(steps)} step{'s' if len(steps) != 1 else ''} ({shown})"
                     f" [chosen: {how}]\n")
    return "".join(lines)


def forget_workflow(name: str, uid: str = "") -> int:
    """A workflow is deleted: remove the step containers its podGC kept (docker executor);
    `uid` (its metadata.uid) picks that run among workflows of the same name elsewhere."""
    try:
        from tiphys.executors.docker import forget_workflow as forget
    except ImportError:       # no docker SDK: no containers either
        return 0
    return forget(name, uid=uid)
