"""More Hera programs, each using Argo features the first set (hera_programs.py) does not: `when`
on results and on `{{=...}}`, loops over dicts and JSON objects, output defaults, artifact
directories with `archive: none`, exit handlers reading `workflow.failures`, retry policies,
deadlines, suspend, parallelism, mutexes, memoization, hooks, daemons, global outputs.
No `from __future__ import annotations`: Hera reads the functions' annotations as classes."""

from hera.workflows import (
    DAG, Artifact, ClusterWorkflowTemplate, ConfigMapEnv, ConfigMapVolume, Container,
    NoneArchiveStrategy, Parameter, RetryStrategy, SecretEnv, Step, Steps, Suspend, Task, Workflow,
    script,
)
from hera.workflows import models as m
from hera_programs import flip, say


@script()
def fail(code: int = 2):
    import sys
    print("failing with", code)
    sys.exit(code)


@script()
def nap(seconds: float = 5):
    import time
    time.sleep(seconds)
    print("slept", seconds)


def coinflip() -> Workflow:
    """Steps `when` on a result, in govaluate form and in `{{=...}}` form."""
    with Workflow(generate_name="hera-coin-", entrypoint="main") as w:
        with Steps(name="main") as s:
            flip(name="flip")
            with s.parallel():
                say(name="heads", arguments={"msg": "it was heads"}, when="{{steps.flip.outputs.result}} == heads")
                say(name="tails", arguments={"msg": "it was tails"}, when="{{steps.flip.outputs.result}} == tails")
                say(name="expr-heads", arguments={"msg": "expr heads"},
                    when="{{=steps.flip.outputs.result == 'heads'}}")
                say(name="expr-tails", arguments={"msg": "expr tails"},
                    when="{{=steps['flip'].outputs.result != 'heads'}}")
    return w


@script()
def greet(name: str, age: int):
    print(f"{name} is {age}")


def items_of_dicts() -> Workflow:
    """withItems of maps, `{{item.key}}`, and a numeric `when` on an item field."""
    people = [{"name": "alice", "age": 30}, {"name": "bob", "age": 40}]
    with Workflow(generate_name="hera-items-", entrypoint="main") as w:
        with Steps(name="main"):
            greet(name="greet", with_items=people)
            greet(name="senior", with_items=people, when="{{item.age}} > 35")
    return w


@script()
def gen_people():
    import json
    import sys
    json.dump([{"name": "ann lee", "team": "ml"}, {"name": "bo", "team": "data"}], sys.stdout)


def with_param_objects() -> Workflow:
    """A DAG loop over a script's JSON list of objects whose values hold spaces, aggregated."""
    with Workflow(generate_name="hera-param-", entrypoint="d") as w:
        with DAG(name="d"):
            g = gen_people(name="gen")
            each = say(name="each", with_param=g.result, arguments={"msg": "{{item.team}}/{{item.name}}"})
            collect = say(name="collect", arguments={"msg": "{{tasks.each.outputs.result}}"})
            g >> each >> collect
    return w


@script(outputs=[Parameter(name="found", value_from=m.ValueFrom(path="/tmp/found.txt", default="none")),
                 Parameter(name="missing", value_from=m.ValueFrom(path="/tmp/nope.txt", default="fallback"))])
def maybe_write():
    open("/tmp/found.txt", "w").write("here\n")


@script(inputs=[Parameter(name="level", default="info", enum=["info", "debug"])])
def show_level(level: str):
    print("level", level)


def output_defaults() -> Workflow:
    """valueFrom.path with default for a missing file, an input default, and a Steps template
    whose output is valueFrom.parameter of a step."""
    with Workflow(generate_name="hera-defaults-", entrypoint="main") as w:
        with Steps(name="main", outputs=[Parameter(name="picked",
                                                  value_from=m.ValueFrom(parameter="{{steps.write.outputs.parameters.missing}}"))]):
            maybe_write(name="write")
            show_level(name="lvl")
            say(name="use", arguments={"msg": "{{steps.write.outputs.parameters.found}}+{{steps.write.outputs.parameters.missing}}"})
    return w


@script(outputs=[Artifact(name="tree", path="/tmp/tree", archive=NoneArchiveStrategy()),
                 Artifact(name="report", path="/tmp/report.txt")])
def make_tree():
    import os
    os.makedirs("/tmp/tree/sub", exist_ok=True)
    open("/tmp/tree/a.txt", "w").write("A")
    open("/tmp/tree/sub/b.txt", "w").write("B")
    open("/tmp/report.txt", "w").write("rows=2")


@script(inputs=[Artifact(name="tree", path="/tmp/in"), Artifact(name="report", path="/tmp/r.txt")])
def read_tree():
    import os
    files = sorted(os.path.relpath(os.path.join(d, f), "/tmp/in") for d, _, fs in os.walk("/tmp/in") for f in fs)
    print(",".join(files), open("/tmp/in/sub/b.txt").read(), open("/tmp/r.txt").read())


def artifact_directories() -> Workflow:
    """A directory artifact with `archive: none` and a file artifact, passed between steps."""
    with Workflow(generate_name="hera-arts-", entrypoint="main") as w:
        with Steps(name="main"):
            mk = make_tree(name="make")
            read_tree(name="read", arguments=[mk.get_artifact("tree").with_name("tree"),
                                              Artifact(name="report", from_="{{steps.make.outputs.artifacts.report}}")])
    return w


def exit_handler_failures() -> Workflow:
    """A failing workflow whose exit handler reads `workflow.status` and `workflow.failures`."""
    with Workflow(generate_name="hera-exit-", entrypoint="main", on_exit="cleanup") as w:
        with Steps(name="cleanup"):
            say(name="status", arguments={"msg": "{{workflow.status}}"})
            say(name="failures", arguments={"msg": "{{workflow.failures}}"})
        with Steps(name="main"):
            fail(name="boom", arguments={"code": 3})
            say(name="never", arguments={"msg": "unreachable"})
    return w


@script(retry_strategy=RetryStrategy(limit="2", retry_policy="OnError"))
def fail_on_error_policy():
    import sys
    sys.exit(1)


@script(retry_strategy=RetryStrategy(limit="2", retry_policy="Always",
                                     backoff=m.Backoff(duration="1", factor="2")))
def always_fails():
    import sys
    sys.exit(5)


@script(retry_strategy=RetryStrategy(limit="5", expression="asInt(lastRetry.exitCode) == 3"))
def exits_by_attempt(attempt: int):
    import sys
    print("attempt", attempt)
    sys.exit(3 if attempt == 0 else 4)


def retry_policies() -> Workflow:
    """OnError does not retry a failure; Always with backoff retries to the limit; expression
    stops retrying when lastRetry.exitCode no longer matches."""
    with Workflow(generate_name="hera-retry-", entrypoint="main") as w:
        with Steps(name="main") as s:
            with s.parallel():
                fail_on_error_policy(name="onerror", continue_on=m.ContinueOn(failed=True))
                always_fails(name="always", continue_on=m.ContinueOn(failed=True))
                exits_by_attempt(name="expr", arguments={"attempt": "{{retries}}"},
                                 continue_on=m.ContinueOn(failed=True))
    return w


@script(active_deadline_seconds=1)
def slow_deadline():
    import time
    time.sleep(30)


@script(timeout="1s")
def slow_timeout():
    import time
    time.sleep(30)


def deadlines() -> Workflow:
    """Template activeDeadlineSeconds and timeout stop long steps; continueOn keeps going."""
    with Workflow(generate_name="hera-deadline-", entrypoint="main") as w:
        with Steps(name="main") as s:
            with s.parallel():
                slow_deadline(name="deadline", continue_on=m.ContinueOn(failed=True))
                slow_timeout(name="timeout", continue_on=m.ContinueOn(failed=True))
            say(name="after", arguments={"msg": "{{steps.deadline.status}} {{steps.timeout.status}}"})
    return w


def suspend_parallelism() -> Workflow:
    """A Suspend with a duration, then a loop under template parallelism 1."""
    with Workflow(generate_name="hera-suspend-", entrypoint="main") as w:
        Suspend(name="pause", duration=1)
        with Steps(name="loop", parallelism=1):
            stamp(name="n", with_items=[0.3, 0.3, 0.3], arguments={"seconds": "{{item}}"})
        with Steps(name="main"):
            Step(name="wait", template="pause")
            Step(name="serial", template="loop")
    return w


@script()
def stamp(seconds: float = 0.3):
    import time
    t0 = time.time()
    time.sleep(seconds)
    print(t0, time.time())


def workflow_parallelism() -> Workflow:
    """Workflow-level parallelism 1 serialises a parallel step group and a DAG's loop."""
    with Workflow(generate_name="hera-wfpar-", entrypoint="main", parallelism=1) as w:
        with DAG(name="fan"):
            stamp(name="each", with_items=[1, 2])
        with Steps(name="main") as s:
            with s.parallel():
                stamp(name="a")
                stamp(name="b")
            Step(name="fan", template="fan")
    return w


def nested_dag_in_steps() -> Workflow:
    """A Steps template calling a DAG template: the DAG node sits under the step group."""
    with Workflow(generate_name="hera-nested-", entrypoint="main") as w:
        with DAG(name="inner", inputs=[Parameter(name="tag")]):
            a = say(name="A", arguments={"msg": "A-{{inputs.parameters.tag}}"})
            b = say(name="B", arguments={"msg": "B"})
            c = say(name="C", arguments={"msg": "{{tasks.A.outputs.result}}"})
            a >> [b, c]
        with Steps(name="main"):
            Step(name="run-dag", template="inner", arguments={"tag": "x"})
            say(name="done", arguments={"msg": "done"})
    return w


def cluster_library() -> ClusterWorkflowTemplate:
    with ClusterWorkflowTemplate(name="hera-cluster-lib") as cwt:
        say(name="echo-step")
        with Steps(name="twice", inputs=[Parameter(name="word")]):
            say(name="one", arguments={"msg": "1 {{inputs.parameters.word}}"})
            say(name="two", arguments={"msg": "2 {{inputs.parameters.word}}"})
    return cwt


def uses_cluster_library() -> Workflow:
    with Workflow(generate_name="hera-cref-", entrypoint="main", arguments={"word": "default"}) as w:
        with DAG(name="main"):
            Task(name="call", template_ref=m.TemplateRef(name="hera-cluster-lib", template="twice", cluster_scope=True),
                 arguments={"word": "{{workflow.parameters.word}}"})
    return w


@script(synchronization=m.Synchronization(mutexes=[m.Mutex(name="hera-lock")]))
def locked(tag: str):
    import time
    t0 = time.time()
    time.sleep(0.4)
    print(tag, t0, time.time())


def mutex() -> Workflow:
    """Two parallel steps under one template-level mutex never overlap."""
    with Workflow(generate_name="hera-mutex-", entrypoint="main") as w:
        with Steps(name="main") as s:
            with s.parallel():
                locked(name="x", arguments={"tag": "x"})
                locked(name="y", arguments={"tag": "y"})
    return w


@script(memoize=m.Memoize(key="sq-{{inputs.parameters.n}}", max_age="1h",
                          cache=m.Cache(config_map=m.LocalObjectReference(name="hera-memo"))))
def slow_square(n: int):
    import random
    print(n * n, random.random())


def memoized() -> Workflow:
    """The second call with the same key is a cache hit with the first call's outputs."""
    with Workflow(generate_name="hera-memo-", entrypoint="main") as w:
        with Steps(name="main"):
            slow_square(name="first", arguments={"n": 4})
            slow_square(name="second", arguments={"n": 4})
            slow_square(name="other", arguments={"n": 5})
    return w


@script(env=[ConfigMapEnv(name="REGION", config_map_name="hera-settings", config_map_key="region"),
             SecretEnv(name="TOKEN", secret_name="hera-secret", secret_key="token"),
             m.EnvVar(name="PLAIN", value="plain")],
        volumes=[ConfigMapVolume(name="hera-settings", mount_path="/mnt/settings")],
        pod_spec_patch='{"containers":[{"name":"main","env":[{"name":"PATCHED","value":"yes"}]}]}')
def show_env():
    import os
    print(os.environ["REGION"], os.environ["TOKEN"], os.environ["PLAIN"], os.environ.get("PATCHED"),
          open("/mnt/settings/region").read())


def env_sources() -> Workflow:
    """env from a ConfigMap and a Secret, a ConfigMap volume, and a podSpecPatch adding env."""
    with Workflow(generate_name="hera-env-", entrypoint="main") as w:
        with Steps(name="main"):
            show_env(name="show")
    return w


@script(outputs=[Parameter(name="score", global_name="best-score", value_from=m.ValueFrom(path="/tmp/score")),
                 Artifact(name="model", global_name="best-model", path="/tmp/model.bin")])
def pick_best():
    open("/tmp/score", "w").write("0.93")
    open("/tmp/model.bin", "w").write("weights")


def global_outputs() -> Workflow:
    """globalName outputs land in status.outputs and `{{workflow.outputs.parameters.X}}`."""
    with Workflow(generate_name="hera-global-", entrypoint="main") as w:
        with Steps(name="main"):
            pick_best(name="pick")
            say(name="report", arguments={"msg": "best={{workflow.outputs.parameters.best-score}}"})
    return w


@script()
def table():
    print("name,score")
    print("a,1")
    print("b,2")
    print()


@script()
def count_lines(text: str):
    print(len(text.splitlines()), text.splitlines()[-1])


def multiline_result() -> Workflow:
    """A script's multi-line stdout is its result (one trailing newline trimmed), passed on."""
    with Workflow(generate_name="hera-lines-", entrypoint="main") as w:
        with Steps(name="main"):
            table(name="table")
            count_lines(name="count", arguments={"text": "{{steps.table.outputs.result}}"})
    return w


def step_hooks() -> Workflow:
    """A step's exit hook, and workflow-level exit and expression hooks."""
    with Workflow(generate_name="hera-hooks-", entrypoint="main",
                  hooks={"exit": m.LifecycleHook(template="say", arguments=m.Arguments(
                             parameters=[m.Parameter(name="msg", value="wf {{workflow.status}}")])),
                         "done": m.LifecycleHook(template="say",
                                                 expression="workflow.status == 'Succeeded'",
                                                 arguments=m.Arguments(parameters=[m.Parameter(name="msg", value="expr")]))}) as w:
        say(name="say")   # adds the `say` template the hooks call
        with Steps(name="main"):
            Step(name="work", template="say", arguments={"msg": "work"},
                 hooks={"exit": m.LifecycleHook(template="say", arguments=m.Arguments(
                     parameters=[m.Parameter(name="msg", value="step {{steps.work.status}}")]))})
    return w


def fail_fast_dag() -> Workflow:
    """failFast false: a failure does not stop independent branches from starting new tasks."""
    with Workflow(generate_name="hera-ff-", entrypoint="d") as w:
        with DAG(name="d", fail_fast=False):
            bad = fail(name="bad", arguments={"code": 1})
            slow = nap(name="slow", arguments={"seconds": 0.5})
            later = say(name="later", arguments={"msg": "later"})
            after_bad = say(name="after-bad", arguments={"msg": "x"})
            slow >> later
            bad >> after_bad
    return w


def depends_states() -> Workflow:
    """depends on .Failed, .Errored, .Skipped, .Succeeded and combinations."""
    with Workflow(generate_name="hera-states-", entrypoint="d") as w:
        with DAG(name="d"):
            fail(name="a", arguments={"code": 1})
            say(name="s", arguments={"msg": "s"}, when="1 == 2")
            say(name="on-failed", arguments={"msg": "f"}, depends="a.Failed")
            say(name="on-errored", arguments={"msg": "e"}, depends="a.Errored")
            say(name="on-skipped", arguments={"msg": "k"}, depends="s.Skipped")
            say(name="on-any", arguments={"msg": "y"}, depends="(a.Failed || a.Errored) && s")
    return w


server = Container(name="server", image="python:3.11", daemon=True,
                   command=["python3", "-c", "import http.server as h; h.HTTPServer(('0.0.0.0', 8765), "
                            "h.SimpleHTTPRequestHandler).serve_forever()"],
                   readiness_probe=m.Probe(tcp_socket=m.TCPSocketAction(port=8765), period_seconds=1))


@script()
def fetch(host: str):
    import time
    import urllib.request
    for _ in range(50):
        try:
            print(urllib.request.urlopen(f"http://{host}:8765/", timeout=2).status)
            break
        except OSError:
            time.sleep(0.2)


def daemon_steps() -> Workflow:
    """A daemon step reached by `{{steps.server.ip}}`, killed when its scope ends."""
    with Workflow(generate_name="hera-daemon-", entrypoint="main") as w:
        with Steps(name="main"):
            server(name="server")
            fetch(name="fetch", arguments={"host": "{{steps.server.ip}}"})
    return w


def daemon_dag() -> Workflow:
    """A DAG task depending on a daemon with `.Daemoned`, reaching it by `{{tasks.X.ip}}`."""
    with Workflow(generate_name="hera-daemond-", entrypoint="d") as w:
        with DAG(name="d"):
            server(name="server")
            fetch(name="fetch", arguments={"host": "{{tasks.server.ip}}"}, depends="server.Daemoned")
    return w


def expressions() -> Workflow:
    """`{{=...}}` with sprig, asInt and jsonpath in arguments; withSequence with format."""
    with Workflow(generate_name="hera-expr-", entrypoint="main",
                  arguments={"name": "world", "cfg": '{"a": {"b": 7}}'}) as w:
        with Steps(name="main"):
            say(name="upper", arguments={"msg": "{{=sprig.upper(workflow.parameters.name)}}"})
            say(name="math", arguments={"msg": "{{=asInt(jsonpath(workflow.parameters.cfg, '$.a.b')) + 1}}"})
            say(name="seq", with_sequence=m.Sequence(count="3", start="1", format="id-%02d"),
                arguments={"msg": "{{item}}"})
    return w


def failing_steps_message() -> Workflow:
    """A steps workflow whose second group fails: messages of the step group and the workflow."""
    with Workflow(generate_name="hera-fail-", entrypoint="main") as w:
        with Steps(name="main"):
            say(name="ok", arguments={"msg": "ok"})
            fail(name="bad", arguments={"code": 7})
    return w


@script()
def emit_empty():
    print("[]")


def empty_loops() -> Workflow:
    """Loops over an empty list, in steps and in a DAG."""
    with Workflow(generate_name="hera-empty-", entrypoint="main") as w:
        with DAG(name="d"):
            g = emit_empty(name="gen")
            each = say(name="each", with_param=g.result, arguments={"msg": "{{item}}"})
            after = say(name="after", arguments={"msg": "after"})
            g >> each >> after
        with Steps(name="main"):
            emit_empty(name="gen")
            say(name="each", with_param="{{steps.gen.outputs.result}}", arguments={"msg": "{{item}}"})
            Step(name="dag", template="d")
    return w


@script(outputs=[Parameter(name="v", value_from=m.ValueFrom(path="/tmp/v"))])
def part(n: int):
    import sys
    open("/tmp/v", "w").write(str(n * 10))
    sys.exit(1 if n == 2 else 0)


def loop_outputs() -> Workflow:
    """A DAG loop's output parameters aggregated into a JSON list, `.AnySucceeded` and
    `.AllFailed` on the loop, and DAG outputs from an expression."""
    with Workflow(generate_name="hera-loopout-", entrypoint="d") as w:
        with DAG(name="d", outputs=[Parameter(name="joined", value_from=m.ValueFrom(
                expression="tasks['use'].outputs.result + '!'"))]):
            p = part(name="parts", with_items=[1, 2, 3], arguments={"n": "{{item}}"},
                     continue_on=m.ContinueOn(failed=True))
            use = say(name="use", arguments={"msg": "{{tasks.parts.outputs.parameters.v}}"})
            any_ok = say(name="any-ok", arguments={"msg": "some"}, depends="parts.AnySucceeded")
            all_bad = say(name="all-bad", arguments={"msg": "none"}, depends="parts.AllFailed")
            p >> use
            any_ok, all_bad  # noqa: B018 - depends strings link them
    return w


def exit_handler_fails() -> Workflow:
    """The main part succeeds but the exit handler fails: the workflow fails."""
    with Workflow(generate_name="hera-exitfail-", entrypoint="main", on_exit="fail") as w:
        fail()   # adds the `fail` template (exit code 2 by default), the exit handler
        with Steps(name="main"):
            say(name="ok", arguments={"msg": "fine"})
    return w


@script(volume_mounts=[m.VolumeMount(name="state", mount_path="/state")])
def count_up():
    import os
    import sys
    p = "/state/n"
    n = int(open(p).read()) if os.path.exists(p) else 0
    open(p, "w").write(str(n + 1))
    print("run", n)
    sys.exit(0 if n >= 1 else 1)


def retried_steps() -> Workflow:
    """A retryStrategy on a Steps template: the whole group is run again."""
    from hera.workflows import Volume
    with Workflow(generate_name="hera-retrysteps-", entrypoint="main",
                  volumes=[Volume(name="state", size="1Mi")]) as w:
        with Steps(name="attempt", retry_strategy=RetryStrategy(limit="2")):
            say(name="first", arguments={"msg": "1"})
            count_up(name="second")
        with Steps(name="main"):
            Step(name="go", template="attempt")
    return w


@script(inputs=[Artifact(name="maybe", path="/tmp/maybe", optional=True)])
def has_file():
    import os
    print(os.path.exists("/tmp/maybe"))


@script(outputs=[Artifact(name="maybe", path="/tmp/nothing", optional=True)])
def makes_nothing():
    print("nothing")


def optional_artifacts() -> Workflow:
    """An optional output artifact that is not there, passed to an optional input."""
    with Workflow(generate_name="hera-optart-", entrypoint="main") as w:
        with Steps(name="main"):
            makes_nothing(name="make")
            has_file(name="use", arguments=[Artifact(name="maybe", from_="{{steps.make.outputs.artifacts.maybe}}",
                                                     optional=True)])
    return w


def approval() -> Workflow:
    """A manual approval: a Suspend with Hera's intermediate parameters (an output
    `valueFrom.supplied`), given a value through the API (`argo node set`) and resumed."""
    with Workflow(generate_name="hera-approve-", entrypoint="main") as w:
        Suspend(name="approve", intermediate_parameters=[Parameter(name="choice", enum=["yes", "no"], default="no")])
        with Steps(name="main"):
            Step(name="approve", template="approve")
            say(name="act", arguments={"msg": "approved={{steps.approve.outputs.parameters.choice}}"})
    return w
