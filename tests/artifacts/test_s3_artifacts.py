"""Artifacts through a real S3 server (SeaweedFS on loopback): the brief's 05-s3-artifacts.yaml
with its repository applied by `tiphys apply -f`, Argo's keys and archives, key-only inputs,
archiveLogs, artifact GC, http and git inputs, the server's streamed download; and a workflow
naming a repository that does not exist fails naming it."""
from __future__ import annotations

import http.server
import io
import json
import subprocess
import tarfile
import threading
import uuid
from pathlib import Path

import pytest

from tiphys.cli.main import main

EXAMPLE = Path("/work/shared/seed/examples/05-s3-artifacts.yaml")
if not EXAMPLE.exists():
    EXAMPLE = Path(__file__).parent / "testdata" / "05-s3-artifacts.yaml"


def repo_manifests(s3server, bucket: str, extra: str = "") -> str:
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: artifact-repositories
  annotations:
    workflows.argoproj.io/default-artifact-repository: default
data:
  default: |
    {extra}
    s3:
      bucket: {bucket}
      endpoint: {s3server.endpoint}
      insecure: true
      createBucketIfNotPresent: {{}}
      accessKeySecret: {{name: my-s3-credentials, key: accessKey}}
      secretKeySecret: {{name: my-s3-credentials, key: secretKey}}
---
apiVersion: v1
kind: Secret
metadata:
  name: my-s3-credentials
stringData:
  accessKey: {s3server.access_key}
  secretKey: {s3server.secret_key}
"""


def apply(tmp_path, text: str) -> None:
    path = tmp_path / f"objects-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(text)
    assert main(["apply", "-f", str(path)]) == 0


def run(path: Path, capsys, *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    rc = main(["run", str(path), "-o", "json", *extra])
    return rc, json.loads(capsys.readouterr().out)


def objects(s3server, bucket: str, prefix: str = "") -> dict[str, bytes]:
    c = s3server.client()
    found = c.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents") or []
    return {o["Key"]: c.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in found}


def nodes(wf: dict) -> dict[str, dict]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


def bucket_name() -> str:
    return f"b-{uuid.uuid4().hex[:10]}"


@pytest.mark.integration
def test_brief_example_done_when(home, tmp_path, capsys, s3server):
    bucket = bucket_name()
    apply(tmp_path, repo_manifests(s3server, bucket))
    rc, wf = run(EXAMPLE, capsys)
    assert rc == 0 and wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    name = wf["metadata"]["name"]
    stored = objects(s3server, bucket)
    assert list(stored) == [f"workflows/{name}/data.json"]
    with tarfile.open(fileobj=io.BytesIO(stored[f"workflows/{name}/data.json"]), mode="r:gz") as tar:
        assert tar.getnames() == ["data.json"]     # a user key is verbatim, the content still tgz
        assert json.loads(tar.extractfile("data.json").read()) == {"results": [1, 2, 3, 4, 5]}
    gen = nodes(wf)["generate"]
    assert gen["outputs"]["artifacts"] == [
        {"name": "output", "path": "/tmp/data.json", "s3": {"key": f"workflows/{name}/data.json"}}]
    ref = wf["status"]["artifactRepositoryRef"]
    assert ref["configMap"] == "artifact-repositories" and ref["key"] == "default" and ref["namespace"] == "default"
    capsys.readouterr()
    assert main(["logs", name]) == 0
    assert "Sum: 15" in capsys.readouterr().out
    # credentials: never in the status, the store, logs
    for where in [json.dumps(wf), *(p.read_bytes().decode("latin-1") for p in home.rglob("*") if p.is_file())]:
        assert s3server.secret_key not in where


def test_missing_repository_fails_naming_it(home, capsys):
    rc, wf = run(EXAMPLE, capsys)
    assert rc == 1
    assert wf["status"]["phase"] in ("Error", "Failed")
    assert "artifact-repositories" in wf["status"]["message"]


def test_missing_key_fails_naming_it(home, tmp_path, capsys):
    apply(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: artifact-repositories}\n"
                    "data: {other: 's3: {bucket: x}'}\n")
    rc, wf = run(EXAMPLE, capsys)
    assert rc == 1 and '"default"' in wf["status"]["message"] and "artifact-repositories" in wf["status"]["message"]


ARCHIVES = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: archives-}
spec:
  entrypoint: main
  archiveLogs: true
  templates:
  - name: main
    steps:
    - - name: make
        template: make
    - - name: use
        template: use
        arguments:
          artifacts:
          - {name: tgz, from: "{{steps.make.outputs.artifacts.tgz}}"}
          - {name: plain, from: "{{steps.make.outputs.artifacts.plain}}"}
          - {name: zipped, from: "{{steps.make.outputs.artifacts.zipped}}"}
          - {name: folder, from: "{{steps.make.outputs.artifacts.folder}}"}
          - {name: keyonly, s3: {key: "{{workflow.name}}/extra/hello.txt"}}
  - name: make
    script:
      image: python:3.11
      command: [sh]
      source: |
        echo tgz-content > /tmp/a.txt; echo plain-content > /tmp/b.txt; echo zip-content > /tmp/c.txt
        mkdir -p /tmp/dir/sub; echo one > /tmp/dir/one.txt; echo two > /tmp/dir/sub/two.txt
        echo to-the-log
    outputs:
      artifacts:
      - {name: tgz, path: /tmp/a.txt}
      - {name: plain, path: /tmp/b.txt, archive: {none: {}}}
      - {name: zipped, path: /tmp/c.txt, archive: {zip: {}}}
      - {name: folder, path: /tmp/dir, archive: {none: {}}}
      - {name: gone, path: /tmp/nothing, optional: true}
      - {name: extra, path: /tmp/a.txt, archive: {none: {}}, s3: {key: "{{workflow.name}}/extra/hello.txt"}}
  - name: use
    inputs:
      artifacts:
      - {name: tgz, path: /in/a.txt}
      - {name: plain, path: /in/b.txt, mode: 0600}
      - {name: zipped, path: /in/c.txt}
      - {name: folder, path: /in/dir}
      - {name: keyonly, path: /in/k.txt}
    script:
      image: python:3.11
      command: [sh]
      source: |
        cat /in/a.txt /in/b.txt /in/c.txt /in/dir/one.txt /in/dir/sub/two.txt /in/k.txt
        stat -c %a /in/b.txt
"""


@pytest.mark.integration
def test_archives_keys_and_unpacking(home, tmp_path, capsys, s3server):
    bucket = bucket_name()
    apply(tmp_path, repo_manifests(s3server, bucket))
    path = tmp_path / "archives.yaml"
    path.write_text(ARCHIVES)
    rc, wf = run(path, capsys)
    assert rc == 0, wf["status"].get("message")
    name = wf["metadata"]["name"]
    make = nodes(wf)["make"]
    pod = f"{name}/{make['id']}" if not make.get("podName") else None
    arts = {a["name"]: a for a in make["outputs"]["artifacts"]}
    prefix = arts["tgz"]["s3"]["key"].rsplit("/", 1)[0]     # keyFormat default {{workflow.name}}/{{pod.name}}
    assert prefix.startswith(f"{name}/{name}-make-")
    assert arts["tgz"]["s3"] == {"key": f"{prefix}/tgz.tgz"}
    assert arts["plain"] == {"name": "plain", "path": "/tmp/b.txt", "archive": {"none": {}},
                             "s3": {"key": f"{prefix}/b.txt"}}
    assert arts["zipped"]["s3"]["key"] == f"{prefix}/zipped.zip"
    assert arts["main-logs"] == {"name": "main-logs", "s3": {"key": f"{prefix}/main.log"}}
    assert "gone" not in arts and pod is None
    stored = objects(s3server, bucket, name)
    assert stored[f"{prefix}/b.txt"] == b"plain-content\n"
    assert stored[f"{prefix}/dir/one.txt"] == b"one\n" and stored[f"{prefix}/dir/sub/two.txt"] == b"two\n"
    assert b"to-the-log" in stored[f"{prefix}/main.log"]
    capsys.readouterr()
    main(["logs", name, "--node", "use", "--no-prefix"])
    assert capsys.readouterr().out.split() == ["tgz-content", "plain-content", "zip-content", "one", "two",
                                               "tgz-content", "600"]


GC = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: gc-}
spec:
  entrypoint: make
  artifactGC: {strategy: OnWorkflowDeletion}
  templates:
  - name: make
    script:
      image: python:3.11
      command: [sh]
      source: echo a > /tmp/a; echo b > /tmp/b; echo c > /tmp/c
    outputs:
      artifacts:
      - {name: on-completion, path: /tmp/a, artifactGC: {strategy: OnWorkflowCompletion}}
      - {name: on-deletion, path: /tmp/b}
      - {name: never, path: /tmp/c, artifactGC: {strategy: Never}}
"""


@pytest.mark.integration
def test_artifact_gc(home, tmp_path, capsys, s3server):
    bucket = bucket_name()
    apply(tmp_path, repo_manifests(s3server, bucket))
    path = tmp_path / "gc.yaml"
    path.write_text(GC)
    rc, wf = run(path, capsys)
    assert rc == 0, wf["status"].get("message")
    name = wf["metadata"]["name"]
    assert sorted(k.rsplit("/", 1)[1] for k in objects(s3server, bucket, name)) == ["never.tgz", "on-deletion.tgz"]
    assert wf["status"]["artifactGCStatus"]["strategiesProcessed"] == {"OnWorkflowCompletion": True}
    assert main(["delete", name]) == 0
    assert [k.rsplit("/", 1)[1] for k in objects(s3server, bucket, name)] == ["never.tgz"]


FETCH = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: fetch-}
spec:
  entrypoint: use
  templates:
  - name: use
    inputs:
      artifacts:
      - name: page
        path: /in/page.txt
        http: {url: "URL/page.txt", headers: [{name: X-Token, value: t0k}]}
      - name: bundle
        path: /in/bundle
        http: {url: "URL/bundle.tgz"}
      - name: source
        path: /in/src
        git: {repo: "REPO", revision: "REV"}
      - name: absent
        path: /in/absent
        optional: true
        http: {url: "URL/nothing"}
    script:
      image: python:3.11
      command: [sh]
      source: |
        cat /in/page.txt /in/bundle/x.txt /in/src/README; ls /in
"""


@pytest.mark.integration
def test_http_and_git_inputs(home, tmp_path, capsys):
    site = tmp_path / "site"
    (site / "b" / "bundle").mkdir(parents=True)
    (site / "page.txt").write_text("from-http\n")
    (site / "b" / "bundle" / "x.txt").write_text("from-tarball\n")
    with tarfile.open(site / "bundle.tgz", "w:gz") as tar:
        tar.add(site / "b" / "bundle", arcname="bundle")
    seen: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(site), **kw)

        def log_message(self, *args):
            seen.append(self.headers.get("X-Token", ""))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    repo = tmp_path / "repo"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "README").write_text("first\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    rev = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    (repo / "README").write_text("second\n")
    subprocess.run([*git, "commit", "-qam", "two"], check=True)
    try:
        path = tmp_path / "fetch.yaml"
        path.write_text(FETCH.replace("URL", f"http://127.0.0.1:{server.server_address[1]}")
                        .replace("REPO", str(repo)).replace("REV", rev))
        rc, wf = run(path, capsys)
    finally:
        server.shutdown()
    assert rc == 0, wf["status"].get("message")
    capsys.readouterr()
    main(["logs", wf["metadata"]["name"], "--no-prefix"])
    assert capsys.readouterr().out.split() == ["from-http", "from-tarball", "first", "bundle", "page.txt", "src"]
    assert "t0k" in seen


@pytest.mark.integration
def test_server_download_streams_from_s3(home, tmp_path, capsys, s3server):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from tiphys.server.app import create_app
    bucket = bucket_name()
    apply(tmp_path, repo_manifests(s3server, bucket))
    rc, wf = run(EXAMPLE, capsys)
    assert rc == 0
    node = nodes(wf)["generate"]
    with TestClient(create_app(home)) as client:
        r = client.get(f"/artifact-files/default/workflows/{wf['metadata']['name']}/{node['id']}/outputs/output")
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == 'attachment; filename="data.json"'
    with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:gz") as tar:
        assert tar.getnames() == ["data.json"]


DATA = Path("/work/shared/conformance/e2e/testdata-data-transformation.yaml")


@pytest.mark.integration
@pytest.mark.skipif(not DATA.exists(), reason="../shared is absent")
def test_data_template_lists_an_s3_bucket(home, tmp_path, capsys, s3server):
    # upstream's data-transformation workflow (functional_test.go TestDataTransformation) with
    # its minio endpoint and bucket pointed at the test's SeaweedFS: artifacts written with
    # explicit s3 locations, listed by a data template, filtered, then read back one by one
    bucket = bucket_name()
    s3server.client().create_bucket(Bucket=bucket)
    apply(tmp_path, f"""\
apiVersion: v1
kind: Secret
metadata: {{name: my-minio-cred}}
stringData: {{accesskey: {s3server.access_key}, secretkey: {s3server.secret_key}}}
""")
    wf = tmp_path / "data.yaml"
    wf.write_text(DATA.read_text().replace("minio:9000", s3server.endpoint.split("://")[-1])
                  .replace("my-bucket", bucket))
    rc, done = run(wf, capsys)
    assert (rc, done["status"]["phase"]) == (0, "Succeeded"), done["status"].get("message")
    found = nodes(done)
    assert json.loads(found["get-artifact-path"]["outputs"]["result"]) == ["foo/script.py", "script.py"]
    assert sorted(n for n in found if n.startswith("process-artifact(")) == [
        "process-artifact(0:foo/script.py)", "process-artifact(1:script.py)"]
    assert sorted(objects(s3server, bucket)) == ["doc.pdf", "foo/doc.pdf", "foo/script.py", "script.py"]
