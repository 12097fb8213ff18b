"""Engine behaviour on real Argo examples and small fixtures, with scripted pods and a fake clock."""
from tiphys.engine import names
from tiphys.testing.engine import Outcome, Simulation


def test_node_ids_follow_argo_fnv32a():
    assert names.fnv32a("") == 0x811C9DC5
    assert names.node_id("wf", "wf") == "wf"
    assert names.node_id("wf", "wf[0].a") == f"wf-{names.fnv32a('wf[0].a')}"


def test_steps_run_in_order(example):
    sim = Simulation(example("steps.yaml"))
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert len(sim.pods()) == 3
    assert [s.template["name"] for s in sim.started] == ["print-message"] * 3
    first = sim.nodes("hello1")[0]
    assert first["name"] == "wf[0].hello1"
    assert sim.started[0].template["container"]["args"] == ["hello1"]


def test_dag_enhanced_depends(example):
    sim = Simulation(example("dag-enhanced-depends.yaml"), {"fail": Outcome(exit_code=1)})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert sim.phase("C") == "Failed"
    assert sim.phase("should-not-execute") == "Omitted"
    for name in ("should-execute-1", "should-execute-2", "should-execute-3"):
        assert sim.phase(name) == "Succeeded"


def test_dag_continue_on_fail_fails_on_omitted_leaf(example):
    sim = Simulation(example("dag-continue-on-fail.yaml"), {"intentional-fail": Outcome(exit_code=1)})
    sim.run()
    assert sim.status["phase"] == "Failed"
    assert sim.phase("D") == "Succeeded"
    assert sim.phase("G") == "Omitted"


def test_continue_on_and_workflow_parallelism(example):
    sim = Simulation(example("continue-on-fail.yaml"), {"intentional-fail": Outcome(exit_code=1)})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert sim.phase("C") == "Failed" and sim.phase("D") == "Succeeded"
    assert sim.max_running == 1


def test_exit_handler_sees_status(example):
    sim = Simulation(example("exit-handlers.yaml"), {"intentional-fail": Outcome(exit_code=1)})
    sim.run()
    assert sim.status["phase"] == "Failed"
    assert sim.phase("cry") == "Succeeded"
    assert sim.phase("celebrate") == "Skipped"
    email = next(s for s in sim.started if s.template["name"] == "send-email")
    assert "Failed" in email.template["container"]["args"][0]


def test_loops_with_items_names(example):
    sim = Simulation(example("loops.yaml"))
    sim.run()
    assert sim.phase("print-message-loop(0:hello world)") == "Succeeded"
    assert len(sim.pods()) == 2


def test_with_param_from_result_and_aggregation(example):
    sim = Simulation(example("loops-param-result.yaml"),
                     {"gen-number-list": Outcome(stdout="[20, 21, 22]\n")})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert len(sim.pods()) == 4
    args = sorted(s.template["container"]["args"][0] for s in sim.started[1:])
    assert args[0].startswith("echo sleeping for 20 seconds")


def test_outputs_parameters_and_globals(testdata):
    sim = Simulation(testdata("outputs-steps.yaml"), {"gen": Outcome(parameters={"p": "hi\n"}),
                                                        "echo": Outcome(stdout="hi world\n")})
    sim.run()
    use = next(s for s in sim.started if s.template["name"] == "echo")
    assert use.template["container"]["command"] == ["echo", "hi world"]
    assert sim.status["outputs"]["parameters"] == [{"name": "final", "value": "hi world"}]


def test_retry_backoff_and_limit(testdata):
    sim = Simulation(testdata("retry-backoff.yaml"), {"flaky": Outcome(exit_code=1, duration=1)})
    start = sim.now
    sim.run()
    assert sim.status["phase"] == "Failed"
    assert len(sim.pods()) == 4
    # waits 10, 20, 40 seconds between four one-second attempts
    assert sim.now - start == 4 + 10 + 20 + 40
    assert sim.phase("retry") == "Failed"
    assert [n["displayName"] for n in sim.pods()] == [f"retry({i})" for i in range(4)]


def test_retry_succeeds_later(example):
    sim = Simulation(example("retry-with-steps.yaml"),
                     {"random-fail": [Outcome(exit_code=1), Outcome(exit_code=0)]})
    sim.run()
    assert sim.status["phase"] == "Succeeded"


def test_task_timeout_fails_node(example):
    sim = Simulation(example("dag-task-level-timeout.yaml"), {"echo": Outcome(duration=15)})
    sim.run()
    assert sim.status["phase"] == "Failed"
    assert sim.phase("B") == "Failed" and sim.phase("C") == "Succeeded"


def test_parameter_aggregation(example):
    outs = [Outcome(parameters={"num": f"{i}\n", "evenness": "even\n" if i % 2 == 0 else "odd\n"}) for i in (1, 2, 3, 4)]
    sim = Simulation(example("parameter-aggregation-dag.yaml"),
                     {"odd-or-even": outs, "divide-by-2": [Outcome(stdout="1\n"), Outcome(stdout="2\n")]})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert sim.phase("divide-by-2(0:evenness:odd,num:1)") == "Skipped"
    prints = [s.template["container"]["args"][0] for s in sim.started if s.template["name"] == "print-message"]
    assert '["1","2","3","4"]' in prints
    assert sorted(p for p in prints if len(p) == 1) == ["1", "2"]


def test_unknown_template_errors_node():
    sim = Simulation({"metadata": {"name": "x"}, "spec": {"entrypoint": "nope", "templates": []}})
    sim.run()
    assert sim.status["phase"] == "Error"
    assert "nope" in sim.status["message"]


def test_node_id_collisions_keep_nodes_apart(example, monkeypatch):
    monkeypatch.setattr(names, "node_id", lambda wf, name: wf if wf == name else f"{wf}-1")
    sim = Simulation(example("loops-dag.yaml"))
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert len(sim.status["nodes"]) == 7
    assert len({n["id"] for n in sim.status["nodes"].values()}) == 7


def test_fnv_prefix_cache_matches_plain_hash():
    for text in ["wf", "wf[0].a", "wf.n(12:12)", "x.y(1:a.b)", "(", "a[", "wf.onExit"]:
        h = 0x811C9DC5
        for b in text.encode():
            h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
        assert names.fnv32a(text) == h
