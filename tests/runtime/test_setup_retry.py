"""A sandbox that fails to come up because a host mount moved under bwrap is started again;
any other failure is reported at once."""
from __future__ import annotations

import asyncio
from pathlib import Path

from tiphys.executors.base import StepResult
from tiphys.runtime.runner import Runner
from tiphys.store.sqlite import Store

RACE = ("sandbox setup failed: bwrap: Can't bind mount /oldroot/var on /newroot/var: Unable to apply mount "
        "flags: remount \"/newroot/var/lib/containers/storage/overlay/x/merged\": No such file or directory")
WF = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "race", "namespace": "default"},
      "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "busybox", "command": ["true"]}}]}}


class Flaky:
    name = "flaky"

    def __init__(self, errors):
        self.errors, self.starts = list(errors), 0

    async def start(self, spec):
        self.starts += 1
        error = self.errors.pop(0) if self.errors else None
        spec.workdir.mkdir(parents=True, exist_ok=True)
        out, err = spec.workdir / "stdout", spec.workdir / "stderr"
        out.write_bytes(b"")
        err.write_bytes(b"")

        class Handle:
            async def wait(self):
                return StepResult(None if error else 0, out, err, {}, error=error)

            async def stop(self, grace=0.0):
                pass
        return Handle()


def run(tmp_path: Path, errors):
    ex = Flaky(errors)
    import copy
    runner = Runner(copy.deepcopy(WF), store=Store(tmp_path / "db"), home=tmp_path, on_update=None, dry_run=False,
                    executor=ex)
    return asyncio.run(runner.main()), ex


def test_mount_race_is_started_again(tmp_path):
    wf, ex = run(tmp_path, [RACE])
    assert wf["status"]["phase"] == "Succeeded" and ex.starts == 2


def test_persistent_race_ends_in_error_after_a_few_tries(tmp_path):
    wf, ex = run(tmp_path, [RACE] * 5)
    assert wf["status"]["phase"] == "Error" and ex.starts == 3


def test_other_setup_failures_are_not_retried(tmp_path):
    wf, ex = run(tmp_path, ["sandbox setup failed: bwrap: No permissions to create new namespace"])
    assert wf["status"]["phase"] == "Error" and ex.starts == 1


class Broken(Flaky):
    """An executor with a bug: start() raises something no executor should let out."""

    async def start(self, spec):
        self.starts += 1
        raise KeyError("oops")


def test_a_fault_in_the_executor_ends_the_step_in_error_instead_of_hanging(tmp_path):
    import copy
    wf = copy.deepcopy(WF)
    wf["spec"]["podGC"] = {"strategy": "OnPodCompletion"}
    wf["spec"]["podMetadata"] = {"labels": {"team": "ml"}}
    runner = Runner(wf, store=Store(tmp_path / "db"), home=tmp_path, on_update=None, dry_run=False,
                    executor=Broken([]))
    done = asyncio.run(asyncio.wait_for(runner.main(), 30))
    assert done["status"]["phase"] == "Error"
    node = next(iter(done["status"]["nodes"].values()))
    assert node["phase"] == "Error" and "internal error running the step: KeyError" in node["message"]


def test_steps_get_the_pod_labels_and_pod_gc(tmp_path):
    import copy
    from tiphys.executors.podgc import PodGC
    seen = []

    class Recording(Flaky):
        async def start(self, spec):
            seen.append(spec)
            return await super().start(spec)
    wf = copy.deepcopy(WF)
    wf["spec"]["podGC"] = {"strategy": "OnPodSuccess", "deleteDelayDuration": "2s"}
    wf["spec"]["podMetadata"] = {"labels": {"team": "ml", "tier": "x"}}
    wf["spec"]["templates"][0]["metadata"] = {"labels": {"tier": "batch"}}
    runner = Runner(wf, store=Store(tmp_path / "db"), home=tmp_path, on_update=None, dry_run=False,
                    executor=Recording([]))
    assert asyncio.run(runner.main())["status"]["phase"] == "Succeeded"
    assert dict(seen[0].labels) == {"team": "ml", "tier": "batch"} and seen[0].workflow == "race"
    assert seen[0].pod_gc == PodGC("OnPodSuccess", 2.0)
