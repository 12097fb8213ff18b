"""http and data templates end to end (runner.run): real requests to a loopback HTTP server
this test starts, and listings of the local artifact repository."""
from __future__ import annotations

import base64
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tiphys.artifacts.local import LocalRepository
from tiphys.runtime import runner
from tiphys.secrets import KEY_ENV, Vault
from tiphys.store.sqlite import Store

pytestmark = pytest.mark.integration
SECRET = "tok-8c1f0e55"


class Handler(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        Handler.seen.append({"method": self.command, "path": self.path, "body": body,
                             "headers": {k.lower(): v for k, v in self.headers.items()}})
        if self.path.startswith("/status/"):
            code, data = int(self.path.split("/")[2]), b"status page"
        elif self.path == "/slow":
            time.sleep(3)
            code, data = 200, b"late"
        elif self.path == "/echo":
            code, data = 200, json.dumps(Handler.seen[-1]).encode()
        else:
            code, data = 200, b"hello from the server"
        try:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("X-Served-By", "loopback")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):   # the client gave up (a timeout test)
            pass

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    Handler.seen.clear()
    return tmp_path / "home"


@pytest.fixture
def store(home):
    s = Store(home / "tiphys.db")
    yield s
    s.close()


def wf(name: str, http: dict, **template) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", "http": http, **template}]}}


def only(status: dict, type_: str = "HTTP") -> dict:
    found = [n for n in status["nodes"].values() if n["type"] == type_]
    assert len(found) == 1, status["nodes"]
    return found[0]


def run(store, home, manifest: dict) -> dict:
    return runner.run(manifest, store=store, home=home)["status"]


def test_get_result_feeds_the_next_step(server, store, home):
    manifest = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "feed"},
                "spec": {"entrypoint": "main", "templates": [
                    {"name": "main", "steps": [[{"name": "get", "template": "get"}],
                                               [{"name": "show", "template": "show", "arguments": {"parameters": [
                                                   {"name": "msg", "value": "{{steps.get.outputs.result}}"}]}}]]},
                    {"name": "get", "http": {"url": f"{server}/hello"}},
                    {"name": "show", "inputs": {"parameters": [{"name": "msg"}]},
                     "container": {"image": "busybox", "command": ["sh", "-c", 'echo "got: $0"',
                                                                   "{{inputs.parameters.msg}}"]}}]}}
    status = run(store, home, manifest)
    assert status["phase"] == "Succeeded", status
    get = only(status)
    assert (get["phase"], get["outputs"]["result"]) == ("Succeeded", "hello from the server")
    show = only(status, "Pod")      # no caller names its result: its stdout is in its log
    assert "result" not in show["outputs"]
    assert "".join(c for _, _, s, c in store.get_logs("feed", show["id"]) if s == "stdout") == "got: hello from the server\n"
    assert Handler.seen[0]["method"] == "GET"


def test_post_sends_method_headers_body_and_host(server, store, home):
    status = run(store, home, wf("post", {
        "url": f"{server}/echo", "method": "POST", "body": '{"a": 1}',
        "headers": [{"name": "Content-Type", "value": "application/json"}, {"name": "X-Trace", "value": "t-1"},
                    {"name": "Host", "value": "api.example.test"}]}))
    assert status["phase"] == "Succeeded", status
    seen = Handler.seen[0]
    assert (seen["method"], seen["body"]) == ("POST", '{"a": 1}')
    assert seen["headers"]["x-trace"] == "t-1" and seen["headers"]["host"] == "api.example.test"
    assert json.loads(only(status)["outputs"]["result"])["body"] == '{"a": 1}'


def test_body_from_bytes(server, store, home):
    status = run(store, home, wf("bytes", {"url": f"{server}/echo", "method": "PUT",
                                           "bodyFrom": {"bytes": base64.b64encode(b"raw-bytes").decode()}}))
    assert status["phase"] == "Succeeded", status
    assert (Handler.seen[0]["method"], Handler.seen[0]["body"]) == ("PUT", "raw-bytes")


@pytest.mark.parametrize("condition, phase", [
    ('response.statusCode == 201 && response.headers["X-Served-By"][0] == "loopback"', "Succeeded"),
    ("response.statusCode == 200", "Failed"),
])
def test_success_condition(server, store, home, condition, phase):
    status = run(store, home, wf("cond", {"url": f"{server}/status/201", "successCondition": condition}))
    node = only(status)
    assert node["phase"] == phase, node
    if phase == "Failed":
        assert node["message"] == f"successCondition '{condition}' evaluated false"
        assert status["phase"] == "Failed"


def test_non_2xx_fails(server, store, home):
    node = only(run(store, home, wf("missing", {"url": f"{server}/status/404"})))
    assert (node["phase"], node["message"]) == ("Failed", "received non-2xx response code: 404")
    assert node["outputs"]["result"] == "status page"


def test_connection_refused(store, home):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    node = only(run(store, home, wf("refused", {"url": f"http://127.0.0.1:{port}/x"})))
    assert node["phase"] == "Failed"
    assert node["message"] == f'Get "http://127.0.0.1:{port}/x": dial tcp 127.0.0.1:{port}: connect: connection refused'


def test_timeout_seconds(server, store, home):
    began = time.monotonic()
    node = only(run(store, home, wf("slow", {"url": f"{server}/slow", "timeoutSeconds": 1})))
    assert (node["phase"], node["message"]) == ("Failed", f'Get "{server}/slow": context deadline exceeded')
    assert time.monotonic() - began < 2.8


def test_template_timeout_and_retry(server, store, home):
    status = run(store, home, wf("deadline", {"url": f"{server}/slow"}, timeout="1s",
                                 retryStrategy={"limit": 1}))
    attempts = sorted((n["displayName"], n["phase"], n.get("message")) for n in status["nodes"].values()
                      if n["type"] == "HTTP")
    assert attempts == [("deadline(0)", "Failed", "Step exceeded its deadline"),
                        ("deadline(1)", "Failed", "Step exceeded its deadline")]
    assert status["phase"] == "Failed"


def test_secret_header_is_sent_and_masked(server, store, home):
    Vault(store, home).create("default", "api", {"token": SECRET})
    status = run(store, home, wf("secret", {
        "url": f"{server}/echo",
        "headers": [{"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}}]}))
    assert status["phase"] == "Succeeded", status
    assert Handler.seen[0]["headers"]["authorization"] == SECRET
    result = only(status)["outputs"]["result"]
    assert SECRET not in result and json.loads(result)["headers"]["authorization"] == "***"
    missing = only(run(store, home, wf("nosecret", {"url": f"{server}/echo", "headers": [
        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "ghost", "key": "k"}}}]})))
    assert (missing["phase"], missing["message"]) == ("Failed", 'secret "ghost" not found')


def test_data_template_lists_the_local_repository(store, home):
    repo = LocalRepository(home / "artifacts")
    src = home / "src.txt"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text("x")
    repo.save(src, "default/prod/prod-1/report.pdf", "tgz")
    repo.save(src, "default/prod/prod-2/script.py", "none")
    repo.save(src, "default/other/o-1/b.pdf", "tgz")
    manifest = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "lister"},
                "spec": {"entrypoint": "main", "templates": [{"name": "main", "data": {
                    "source": {"artifactPaths": {"name": "files", "local": {"key": "default/prod"}}},
                    "transformation": [{"expression": 'filter(data, {# contains ".p"})'},
                                       {"expression": 'map(data, {# + ".ready"})'}]}}]}}
    status = run(store, home, manifest)
    node = only(status, "Pod")
    assert status["phase"] == "Succeeded", status
    assert json.loads(node["outputs"]["result"]) == ["default/prod/prod-1/report.pdf.tgz.ready",
                                                     "default/prod/prod-2/script.py.ready"]


def test_data_template_from_an_unreadable_location_fails_clearly(store, home):
    manifest = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "s3lister"},
                "spec": {"entrypoint": "main", "templates": [{"name": "main", "data": {
                    "source": {"artifactPaths": {"name": "files", "gcs": {"bucket": "b"}}}}}]}}
    node = only(run(store, home, manifest), "Pod")
    assert node["phase"] == "Failed"
    assert node["message"].startswith("unable to process data template: unable to process data source: "
                                      "unable to source artifact paths: gcs artifact locations are not supported")


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """The loopback server over TLS with a self-signed certificate no one trusts."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_insecure_skip_verify(tls_server, store, home):
    trusted = only(run(store, home, wf("tls-verify", {"url": f"{tls_server}/hello"})))
    assert trusted["phase"] == "Failed", trusted
    assert trusted["message"].startswith(f'Get "{tls_server}/hello": tls: failed to verify certificate: ')
    skipped = only(run(store, home, wf("tls-skip", {"url": f"{tls_server}/hello", "insecureSkipVerify": True})))
    assert (skipped["phase"], skipped["outputs"]["result"]) == ("Succeeded", "hello from the server")
