"""One scenario per engine feature, on fixtures in testdata/, asserting Argo's node tree."""
import json

import yaml

from tiphys.engine import names, outputs
from tiphys.testing.engine import Outcome, Simulation

T0 = 1_700_000_000.0


def load(testdata, name, outcomes=None):
    docs = list(yaml.safe_load_all(testdata(name)))
    registry = {(d["kind"], d["metadata"]["name"]): d for d in docs[1:]}
    return Simulation(docs[0], outcomes, registry=registry)


def node(sim, name):
    found = [n for n in sim.status["nodes"].values() if n["name"] == name]
    assert len(found) == 1, f"{name}: {[n['name'] for n in sim.status['nodes'].values()]}"
    return found[0]


def started(sim, tname):
    return [s for s in sim.started if s.template.get("name") == tname]


def test_script_source_is_rendered(testdata):
    sim = load(testdata, "script.yaml")
    sim.run()
    pod = node(sim, "script[0].gen")
    assert (pod["type"], pod["phase"]) == ("Pod", "Succeeded")
    assert started(sim, "gen")[0].template["script"]["source"] == "print(7 * 6)\n"


def test_inline_templates_in_steps_and_dag(testdata):
    sim = load(testdata, "inline.yaml")
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert node(sim, "inl[0].s")["type"] == "Pod"
    task = node(sim, "inl[1].d.t")
    assert task["type"] == "Pod" and task["boundaryID"] == node(sim, "inl[1].d")["id"]
    assert [s.template["container"]["command"] for s in sim.started] == [["echo", "step"], ["echo", "task"]]


def test_template_ref_and_cluster_scope(testdata):
    sim = load(testdata, "templateref.yaml")
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    ns = node(sim, "tref[0].ns")
    assert ns["templateRef"] == {"name": "lib", "template": "say"}
    assert node(sim, "tref[0].cl")["templateRef"] == {"name": "clib", "template": "hello", "clusterScope": True}
    inner = node(sim, "tref[0].nested[0].inner")
    assert inner["templateName"] == "say" and inner["templateScope"] == "namespaced/lib"
    commands = sorted(s.template["container"]["command"][1] for s in sim.started)
    assert commands == ["cluster", "from-lib", "namespaced"]


def test_workflow_template_ref_merges_arguments(testdata):
    sim = load(testdata, "workflow-template-ref.yaml")
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert sim.started[0].template["container"]["command"] == ["echo", "hi override"]


def test_recursion_limit(testdata):
    sim = load(testdata, "recursion.yaml")
    sim.run()
    deepest = "rec" + "[0].again" * 99
    err = node(sim, deepest)
    assert (err["type"], err["phase"]) == ("Skipped", "Error")
    assert err["message"] == ("Maximum recursion depth exceeded. See "
                              "https://argo-workflows.readthedocs.io/en/release-4.1/scaling/#maximum-recursion-depth")
    group = node(sim, "rec" + "[0].again" * 98 + "[0]")
    assert group["phase"] == "Error"
    assert group["message"] == f"step group deemed errored due to child {deepest} error: {err['message']}"
    assert sim.status["phase"] == "Failed"
    assert not [n for n in sim.status["nodes"].values() if n["phase"] == "Running"]


def test_suspend_duration(testdata):
    sim = load(testdata, "suspend-duration.yaml")
    sim.run()
    wait = node(sim, "sus[0].wait")
    assert (wait["type"], wait["phase"]) == ("Suspend", "Succeeded")
    assert names.parse_timestamp(wait["finishedAt"]) - names.parse_timestamp(wait["startedAt"]) == 60
    assert node(sim, "sus[1].after")["phase"] == "Succeeded"


def test_parameters_defaults_expressions_globals(testdata):
    sim = load(testdata, "parameters.yaml", {"gen": Outcome(stdout="out\n", parameters={"shared": "s1\n"})})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    uses = [s.template["container"]["command"] for s in started(sim, "echo")]
    assert ["echo", "fallback"] in uses and ["echo", "dflt|out!|out|s1"] in uses
    assert node(sim, "params[0].defaulted")["inputs"] == {"parameters": [{"name": "msg", "value": "fallback"}]}
    gen = node(sim, "params[0].gen")["outputs"]
    assert gen["result"] == "out" and gen["exitCode"] == "0"
    assert gen["parameters"] == [{"name": "missing", "value": "dflt"}, {"name": "expr", "value": "out!"},
                                 {"name": "shared", "globalName": "shared", "value": "s1"}]
    assert node(sim, "params")["outputs"] == {"parameters": [{"name": "from-child", "value": "out!"}]}
    assert sim.status["outputs"] == {"parameters": [{"name": "shared", "value": "s1"}]}
    assert outputs.trim_result("a\n\n") == "a\n"


def test_enum_violation_errors_node(testdata):
    sim = load(testdata, "enum.yaml")
    sim.run()
    bad = node(sim, "enum[0].bad")
    assert bad["phase"] == "Error" and "purple" in bad["message"] and "enum" in bad["message"]
    assert not sim.started


def test_exit_code_variable(example):
    sim = Simulation(example("exit-code-output-variable.yaml"), {"failing-container": Outcome(exit_code=123)})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    failing = sim.nodes("failing-container")[0]
    assert (failing["phase"], failing["message"], failing["outputs"]["exitCode"]) == \
        ("Failed", "Error (exit code 123)", "123")
    assert started(sim, "echo-container")[0].template["container"]["args"] == ['echo "Exit code was: 123"']


def test_dag_outputs_and_loop_aggregation(testdata):
    outs = {"gen": [Outcome(parameters={"p": "g\n"}), Outcome(stdout="ra\n", parameters={"p": "a\n"}),
                    Outcome(stdout="rb\n", parameters={"p": "b\n"})]}
    sim = load(testdata, "dag-outputs.yaml", outs)
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    group = node(sim, "dagout.loop")
    assert group["type"] == "TaskGroup"
    kids = [sim.status["nodes"][c]["name"] for c in group["children"]]
    assert kids[:2] == ["dagout.loop(0:a)", "dagout.loop(1:b)"]
    show = started(sim, "echo")[0].template["container"]["command"][1]
    assert show == '["a","b"] [{"p":"a"},{"p":"b"}] ["ra","rb"]'
    assert node(sim, "dagout")["outputs"] == {"parameters": [{"name": "out", "value": "g"}]}


def test_loops_maps_sequences_params(testdata):
    sim = load(testdata, "loops.yaml", {"echo": Outcome(stdout="r\n")})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    for name in ["loops[0].maps(0:os:debian,version:9)", "loops[0].maps(1:os:alpine,version:3.1)",
                 "loops[0].seq(0:n03)", "loops[0].seq(2:n05)", "loops[0].down(0:2)", "loops[0].down(2:0)",
                 "loops[0].param(0:n:1,name:x)", "loops[0].param(1:n:2,name:y)"]:
        assert node(sim, name)["phase"] == "Succeeded"
    msgs = [s.template["container"]["command"][1] for s in sim.started]
    assert msgs[:2] == ["debian-9", "alpine-3.1"] and msgs[2:5] == ["n03", "n04", "n05"]
    assert msgs[5:8] == ["2", "1", "0"] and msgs[8:10] == ["x", "y"]
    assert msgs[10] == '["r","r"] [{"p":"none"},{"p":"none"}] ["none","none"]'


def test_when_depends_continue_on_and_loop_results(testdata):
    sim = load(testdata, "conditions.yaml", {"err": Outcome(error="boom"),
                                             "flaky": [Outcome(exit_code=0), Outcome(exit_code=1)]})
    sim.run()
    skip = node(sim, "cond.skip")
    assert (skip["type"], skip["phase"], skip["message"]) == ("Skipped", "Skipped", "when 'heads == tails' evaluated false")
    assert node(sim, "cond.boom")["phase"] == "Error"
    omitted = node(sim, "cond.omitted")
    assert (omitted["type"], omitted["phase"]) == ("Skipped", "Omitted")
    assert node(sim, "cond.after-error")["phase"] == "Succeeded"
    assert node(sim, "cond.any")["phase"] == "Succeeded"
    assert node(sim, "cond.all")["phase"] == "Omitted"
    assert node(sim, "cond.loop")["phase"] == "Failed"
    assert node(sim, "cond.loop(1:1)")["phase"] == "Failed"


def test_retry_policies(testdata):
    outcomes = {"always": [Outcome(exit_code=1), Outcome(error="pod deleted")],
                "onfailure": [Outcome(exit_code=1), Outcome(error="pod deleted")],
                "onerror": Outcome(exit_code=1),
                "expr": [Outcome(exit_code=2), Outcome(exit_code=2), Outcome(exit_code=3)],
                "unlimited": [Outcome(exit_code=1)] * 7 + [Outcome()]}
    sim = load(testdata, "retry-policies.yaml", outcomes)
    sim.run()
    always = node(sim, "rp[0].always")
    assert (always["type"], always["phase"], always["message"]) == ("Retry", "Error", "No more retries left")
    assert [sim.status["nodes"][c]["name"] for c in always["children"]] == [f"rp[0].always({i})" for i in range(3)]
    assert [sim.status["nodes"][c]["type"] for c in always["children"]] == ["Pod"] * 3
    onfailure = node(sim, "rp[0].onfailure")
    assert (onfailure["phase"], onfailure["message"], len(onfailure["children"])) == ("Error", "pod deleted", 2)
    onerror = node(sim, "rp[0].onerror")
    assert (onerror["phase"], onerror["message"], len(onerror["children"])) == ("Failed", "Error (exit code 1)", 1)
    expr = node(sim, "rp[0].expr")
    assert (expr["phase"], expr["message"], len(expr["children"])) == \
        ("Failed", "retryStrategy.expression evaluated to false", 3)
    assert [s.template["container"]["command"][2] for s in started(sim, "expr")] == \
        ["echo attempt 0", "echo attempt 1", "echo attempt 2"]
    unlimited = node(sim, "rp[0].unlimited")
    assert (unlimited["phase"], len(unlimited["children"])) == ("Succeeded", 8)


def test_retry_backoff_cap_and_max_duration(testdata):
    sim = load(testdata, "retry-maxduration.yaml", {"flaky": Outcome(exit_code=1, duration=1)})
    sim.run()
    retry = node(sim, "rmd")
    assert retry["phase"] == "Failed"
    # waits 10s, then 30s capped to 25s; after the attempt at 115s the next 25s wait would end past 2m
    starts = [names.parse_timestamp(sim.status["nodes"][c]["startedAt"]) - T0 for c in retry["children"]]
    assert starts == [0, 11, 37, 63, 89, 115]
    assert retry["message"] == "Backoff would exceed max duration limit"


def test_pod_timeouts(testdata):
    sim = load(testdata, "timeouts.yaml", {"tmo": Outcome(duration=60), "ads": Outcome(duration=60)})
    sim.run()
    assert node(sim, "to[0].tmo")["message"] == "Step exceeded its deadline"
    assert node(sim, "to[0].ads")["message"] == "Pod was active on the node longer than the specified deadline"
    assert node(sim, "to[0].tmo")["phase"] == node(sim, "to[0].ads")["phase"] == "Failed"
    assert sim.status["phase"] == "Succeeded"


def test_workflow_active_deadline(testdata):
    sim = load(testdata, "workflow-deadline.yaml", {"slow": Outcome(duration=60)})
    sim.run()
    assert sim.status["phase"] == "Failed"
    slow = node(sim, "wd[0].slow")
    assert (slow["phase"], slow["message"]) == ("Failed", "Step exceeded its deadline")
    assert sim.now - T0 == 10
    assert len(sim.started) == 1
    assert sim.status["message"] == f"child '{slow['id']}' failed"


def test_template_parallelism(testdata):
    sim = load(testdata, "parallelism.yaml")
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert sim.max_running == 5     # 2 from the steps loop + 3 from the DAG loop
    sim = load(testdata, "wf-parallelism.yaml")
    sim.run()
    assert sim.status["phase"] == "Succeeded" and sim.max_running == 2


def test_exit_handler_status_and_failures(testdata):
    sim = load(testdata, "exit-failures.yaml", {"bad": Outcome(exit_code=3)})
    sim.run()
    assert sim.status["phase"] == "Failed"
    handler = node(sim, "ef.onExit")
    assert handler["phase"] == "Succeeded" and handler["type"] == "Pod"
    _, status, failures = started(sim, "report")[0].template["container"]["command"]
    assert status == "Failed"
    listed = json.loads(json.loads(failures))
    bad = node(sim, "ef[0].bad")
    assert [f for f in listed if f["displayName"] == "bad"][0] == {"displayName": "bad", "message": "Error (exit code 3)", "templateName": "bad",
                         "phase": "Failed", "podName": bad["podName"], "finishedAt": bad["finishedAt"]}
    assert {f["displayName"] for f in listed} == {"bad", "[0]", "ef"}
    assert [f for f in listed if f["displayName"] == "ef"][0]["podName"] == "ef"


def test_hooks_and_step_exit_handlers(testdata):
    sim = load(testdata, "hooks.yaml", {"cleanup": Outcome(exit_code=1)})
    sim.run()
    a_hook = node(sim, "hk[0].a.onExit")
    assert a_hook["phase"] == "Succeeded" and a_hook["boundaryID"] == "hk"
    assert a_hook["id"] in node(sim, "hk[0].a")["children"]
    assert node(sim, "hk[0].b.onExit")["phase"] == "Succeeded"
    assert node(sim, "hk[1].d.t.onExit")["phase"] == "Succeeded"
    assert started(sim, "note")[0].template["container"]["command"] == ["echo", "Succeeded"]
    assert node(sim, "hk")["phase"] == "Succeeded"
    cleanup = node(sim, "hk.onExit")
    assert (cleanup["phase"], cleanup["message"]) == ("Failed", "Error (exit code 1)")
    assert (sim.status["phase"], sim.status["message"]) == ("Failed", "Error (exit code 1)")


def test_dag_target_runs_only_ancestors(testdata):
    sim = load(testdata, "dag-target.yaml")
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert {n["displayName"] for n in sim.status["nodes"].values()} == {"tgt", "A", "C"}


def test_dag_fail_fast(testdata):
    sim = load(testdata, "dag-failfast.yaml", {"fail": Outcome(exit_code=1), "long": Outcome(duration=5)})
    sim.run()
    assert node(sim, "ff[0].fast")["phase"] == "Failed"
    assert node(sim, "ff[0].slow")["phase"] == "Failed"
    names_ = {n["name"] for n in sim.status["nodes"].values()}
    # As in Argo's dag.go, every task whose dependencies completed is created before the DAG's
    # phase is assessed, so failFast does not keep fast.C from starting once B finished
    assert "ff[0].fast.C" in names_
    assert node(sim, "ff[0].slow.C")["phase"] == "Succeeded"


def test_node_tree_shape(example):
    sim = Simulation(example("dag-diamond-steps.yaml"))
    sim.run()
    nodes = sim.status["nodes"]
    root = nodes[sim.engine.name]
    assert root["type"] == "DAG" and "boundaryID" not in root
    for n in nodes.values():
        if n is root:
            continue
        assert n["boundaryID"] in nodes
        if n["type"] == "StepGroup":   # Argo makes step groups from an empty WorkflowStep
            assert "templateName" not in n and n["templateScope"] == f"local/{sim.engine.name}"
        else:
            assert n["templateName"]
        if n["type"] == "Pod":
            assert n["podName"] == names.pod_name(sim.engine.name, n["name"], n["templateName"])
    roots = [nodes[c] for c in root["children"]]
    assert [r["displayName"] for r in roots] == ["A"]
    a = roots[0]
    assert a["type"] == "Steps"
    group = nodes[a["children"][0]]
    assert group["type"] == "StepGroup" and group["boundaryID"] == a["id"]
    assert nodes[group["children"][0]]["boundaryID"] == a["id"]
    assert sorted(nodes[c]["displayName"] for c in a["children"][:1] + group["children"]) != []
    assert sim.status["progress"] == f"{len(sim.pods())}/{len(sim.pods())}"
    assert [nodes[c]["displayName"] for c in root["children"]] == ["A"]
    assert {nodes[c]["displayName"] for c in nodes[a["children"][0]]["children"]}
    assert any(n.get("inputs") for n in nodes.values())


def test_template_defaults(testdata):
    sim = load(testdata, "template-defaults.yaml")
    sim.run()
    tmpl = sim.started[0].template
    assert tmpl["container"] == {"image": "alpine", "env": [{"name": "FROM", "value": "defaults"}],
                                 "command": ["echo", "hi"]}
    assert sim.started[0].deadline == 30


def test_workflow_level_volumes_claims_and_security_reach_every_pod():
    wf = {"metadata": {"name": "vol"}, "spec": {
        "entrypoint": "main", "securityContext": {"runAsUser": 1000},
        "volumes": [{"name": "cache", "emptyDir": {}}],
        "volumeClaimTemplates": [{"metadata": {"name": "work"}, "spec": {"accessModes": ["ReadWriteOnce"]}}],
        "templates": [
            {"name": "main", "steps": [[{"name": "a", "template": "plain"}], [{"name": "b", "template": "own"}]]},
            {"name": "plain", "container": {"image": "alpine", "volumeMounts": [{"name": "work", "mountPath": "/w"}]}},
            {"name": "own", "securityContext": {"runAsUser": 0}, "volumes": [{"name": "cache", "hostPath": {"path": "/x"}}],
             "container": {"image": "alpine"}}]}}
    sim = Simulation(wf)
    sim.run()
    a, b = (s.template for s in sim.started)
    assert a["volumes"] == [{"name": "cache", "emptyDir": {}},
                            {"name": "work", "persistentVolumeClaim": {"claimName": "vol-work"}}]
    assert a["securityContext"] == {"runAsUser": 1000}
    assert b["volumes"][0] == {"name": "cache", "hostPath": {"path": "/x"}} and len(b["volumes"]) == 2
    assert b["securityContext"] == {"runAsUser": 0}
    assert "volumes" not in wf["spec"]["templates"][1]     # the workflow's templates are not changed
