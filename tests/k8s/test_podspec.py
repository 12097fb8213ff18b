"""Pods as Argo builds them (tiphys.k8s.podspec): identity, scheduling fields, containers,
the helper's wrapping, podSpecPatch's strategic merge."""
from __future__ import annotations

import pytest

from tiphys.engine import actions as A
from tiphys.engine import names
from tiphys.errors import SpecError
from tiphys.k8s import helper, podspec
from tiphys.k8s.merge import strategic_merge

META = {"name": "wf", "namespace": "argo", "uid": "u-1"}


def _action(template: dict, **kw) -> A.StartPod:
    return A.StartPod(node_id="wf-123", pod_name="wf-t-123", template=template, **kw)


def _main(pod: dict) -> dict:
    return next(c for c in pod["spec"]["containers"] if c["name"] == "main")


def test_identity_labels_and_annotations() -> None:
    tmpl = {"name": "t", "container": {"image": "alpine", "command": ["echo"], "args": ["hi"]},
            "metadata": {"labels": {"team": "a"}, "annotations": {"x": "tmpl"}}}
    spec = {"podMetadata": {"labels": {"team": "wf", "env": "prod"}, "annotations": {"x": "wf"}},
            "podGC": {"strategy": "OnPodSuccess", "deleteDelayDuration": "30s"}}
    pod = podspec.build(META, spec, _action(tmpl), "wf.step")
    meta = pod["metadata"]
    assert meta["name"] == "wf-t-123" and meta["namespace"] == "argo"
    assert meta["labels"] == {"workflows.argoproj.io/workflow": "wf", "workflows.argoproj.io/completed": "false",
                              "team": "a", "env": "prod"}
    assert meta["annotations"]["workflows.argoproj.io/node-name"] == "wf.step"
    assert meta["annotations"]["workflows.argoproj.io/node-id"] == "wf-123"
    assert meta["annotations"]["kubectl.kubernetes.io/default-container"] == "main"
    assert meta["annotations"]["workflows.argoproj.io/pod-gc-strategy"] == "OnPodSuccess/30s"
    assert meta["annotations"]["x"] == "tmpl"
    assert meta["ownerReferences"][0] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "wf",
                                          "uid": "u-1", "controller": True, "blockOwnerDeletion": True}
    assert pod["spec"]["restartPolicy"] == "Never"


def test_exit_handler_pods_are_labelled_on_exit() -> None:
    pod = podspec.build(META, {}, _action({"name": "t", "container": {"image": "a", "command": ["x"]}}), "wf.onExit")
    assert pod["metadata"]["labels"]["workflows.argoproj.io/on-exit"] == "true"


def test_pod_name_prefix_is_cut_at_242_characters() -> None:
    wf = "w" * 250
    name = names.pod_name(wf, f"{wf}.step", "tmpl")
    suffix = str(names.fnv32a(f"{wf}.step"))
    assert name == f"{wf[:242]}-{suffix}"
    assert names.pod_name("wf", "wf.s", "t") == f"wf-t-{names.fnv32a('wf.s')}"


def test_main_container_command_env_resources_and_security() -> None:
    body = {"image": "alpine", "command": ["sh", "-c"], "args": ["echo $A", 3],
            "env": [{"name": "A", "value": 1},
                    {"name": "S", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}],
            "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "100m"}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "securityContext": {"runAsUser": 1000}}
    tmpl = {"name": "t", "container": body, "volumes": [{"name": "data", "emptyDir": {}}]}
    pod = podspec.build(META, {}, _action(tmpl, parameter_paths=(("p", "/tmp/p"),)), "wf.s")
    main = _main(pod)
    assert main["command"] == helper.wrap("main", ["sh", "-c"])
    assert main["args"] == ["echo $A", "3"]
    env = {e["name"]: e for e in main["env"]}
    assert env["A"]["value"] == "1"
    assert env["S"]["valueFrom"]["secretKeyRef"] == {"name": "creds", "key": "token"}   # a reference, never a value
    assert env["ARGO_NODE_ID"]["value"] == "wf-123" and env["TIPHYS_OUTPUTS"]["value"] == "0 /tmp/p\n"
    assert main["resources"] == body["resources"] and main["securityContext"] == {"runAsUser": 1000}
    assert {"name": "data", "mountPath": "/data"} in main["volumeMounts"]
    assert {"name": "var-run-argo", "mountPath": "/var/run/argo"} in main["volumeMounts"]
    vols = {v["name"] for v in pod["spec"]["volumes"]}
    assert vols == {"data", "var-run-argo"}
    assert pod["spec"]["initContainers"][0]["name"] == "init"


def test_script_is_staged_and_its_path_appended() -> None:
    tmpl = {"name": "t", "script": {"image": "python", "command": ["python"], "source": "print(1)"}}
    pod = podspec.build(META, {}, _action(tmpl), "wf.s")
    assert _main(pod)["command"][-2:] == ["--", "python"]
    assert _main(pod)["args"] == ["/argo/staging/script"]          # as Argo: the script's path ends the args
    with_args = {"name": "t", "script": {"image": "python", "command": ["python"], "args": ["-u"], "source": "1"}}
    assert _main(podspec.build(META, {}, _action(with_args), "wf.s"))["args"] == ["-u", "/argo/staging/script"]
    init = pod["spec"]["initContainers"][0]
    assert {"name": "TIPHYS_SCRIPT", "value": "print(1)"} in init["env"]
    assert "source" not in _main(pod)


def test_sidecars_init_containers_and_mirrored_mounts() -> None:
    tmpl = {"name": "t", "container": {"image": "a", "command": ["x"],
                                       "volumeMounts": [{"name": "v", "mountPath": "/v"}]},
            "volumes": [{"name": "v", "emptyDir": {}}],
            "sidecars": [{"name": "db", "image": "redis", "mirrorVolumeMounts": True}],
            "initContainers": [{"name": "prep", "image": "busybox", "command": ["true"]}]}
    pod = podspec.build(META, {}, _action(tmpl), "wf.s")
    assert [c["name"] for c in pod["spec"]["containers"]] == ["main", "db"]
    db = pod["spec"]["containers"][1]
    assert "mirrorVolumeMounts" not in db and {"name": "v", "mountPath": "/v"} in db["volumeMounts"]
    assert db.get("command") is None    # sidecars run as the image says; only main is wrapped
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["init", "prep"]


def test_scheduling_template_over_workflow() -> None:
    spec = {"nodeSelector": {"disk": "ssd"}, "tolerations": [{"key": "a", "operator": "Exists"}],
            "serviceAccountName": "wf-sa", "podPriorityClassName": "batch-workflow",
            "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["a"]}], "imagePullSecrets": [{"name": "reg"}],
            "affinity": {"nodeAffinity": {}}}
    tmpl = {"name": "t", "container": {"image": "a", "command": ["x"]}, "nodeSelector": {"gpu": "yes"},
            "serviceAccountName": "t-sa", "activeDeadlineSeconds": 10,
            "hostAliases": [{"ip": "5.6.7.8", "hostnames": ["b"]}]}
    pod = podspec.build(META, spec, _action(tmpl, deadline=9.5), "wf.s")["spec"]
    assert pod["nodeSelector"] == {"gpu": "yes"} and pod["serviceAccountName"] == "t-sa"
    assert pod["tolerations"] == spec["tolerations"] and pod["priorityClassName"] == "batch-workflow"
    assert pod["affinity"] == {"nodeAffinity": {}}
    assert [a["ip"] for a in pod["hostAliases"]] == ["1.2.3.4", "5.6.7.8"]
    assert pod["imagePullSecrets"] == [{"name": "reg"}] and pod["activeDeadlineSeconds"] == 10


def test_pod_spec_patch_workflow_then_template_merged_by_container_name() -> None:
    spec = {"podSpecPatch": '{"containers": [{"name": "main", "resources": {"limits": {"cpu": "1"}}}]}'}
    tmpl = {"name": "t", "container": {"image": "a", "command": ["x"], "resources": {"limits": {"memory": "1Gi"}},
                                       "env": [{"name": "A", "value": "1"}]},
            "podSpecPatch": "containers:\n- name: main\n  env:\n  - name: B\n    value: '2'\n"
                            "  resources:\n    limits:\n      memory: 2Gi\nhostname: '{{pod.name}}'\n"}
    pod = podspec.build(META, spec, _action(tmpl), "wf.s")
    main = _main(pod)
    assert main["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    assert [e["name"] for e in main["env"] if e["name"] in "AB"] == ["A", "B"]
    assert pod["spec"]["hostname"] == "wf-t-123"
    assert main["command"][0] == helper.BUSYBOX     # wrapped after the patch
    with pytest.raises(SpecError, match="podSpecPatch"):
        podspec.build(META, {}, _action({**tmpl, "podSpecPatch": "[1, 2]"}), "wf.s")
    with pytest.raises(SpecError, match="not YAML"):
        podspec.build(META, {}, _action({**tmpl, "podSpecPatch": "{a: [}"}), "wf.s")


def test_strategic_merge_directives() -> None:
    pod = {"containers": [{"name": "main", "image": "a", "args": ["1", "2"]}, {"name": "s", "image": "b"}],
           "volumes": [{"name": "v", "emptyDir": {}}], "nodeSelector": {"a": "1", "b": "2"}}
    out = strategic_merge(pod, {"containers": [{"name": "s", "$patch": "delete"},
                                               {"name": "main", "args": ["3"]}, {"name": "new", "image": "c"}],
                                "nodeSelector": {"a": None}, "affinity": {"$patch": "replace", "x": {}}})
    assert out["containers"] == [{"name": "main", "image": "a", "args": ["3"]}, {"name": "new", "image": "c"}]
    assert out["nodeSelector"] == {"b": "2"} and out["affinity"] == {"x": {}}
    assert pod["containers"][1]["name"] == "s"          # the input is left alone


def test_volume_claim_templates_and_input_artifacts() -> None:
    tmpl = {"name": "t", "container": {"image": "a", "command": ["x"],
                                       "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
            "volumes": [{"name": "work", "persistentVolumeClaim": {"claimName": "wf-work"}}]}
    art = A.InputArtifact(name="in", path="/tmp/in.txt", raw="hello")
    pod = podspec.build(META, {}, _action(tmpl, inputs=(art,)), "wf.s")
    assert {"name": "work", "persistentVolumeClaim": {"claimName": "wf-work"}} in pod["spec"]["volumes"]
    assert {"name": "input-artifacts", "mountPath": "/tmp/in.txt", "subPath": "0-in"} in _main(pod)["volumeMounts"]


def test_container_set_containers_are_each_wrapped() -> None:
    tmpl = {"name": "t", "containerSet": {"containers": [{"name": "a", "image": "x", "command": ["one"]},
                                                         {"name": "b", "image": "x", "command": ["two"]}]}}
    pod = podspec.build(META, {}, _action(tmpl), "wf.s")
    assert [c["command"][3] for c in pod["spec"]["containers"]] == ["a", "b"]
    assert pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == "b"


def test_only_container_script_and_container_set_steps_are_pods() -> None:
    assert podspec.is_pod(_action({"container": {}})) and podspec.is_pod(_action({"script": {}}))
    assert not podspec.is_pod(_action({"http": {}})) and not podspec.is_pod(_action({"resource": {}}))
