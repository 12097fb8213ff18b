"""`tiphys image pull` against a real registry: Debian's docker-registry (the CNCF Distribution
server) on loopback, fed by podman (when installed) and by a small OCI-distribution push
written here. Covers plain manifests, a manifest list (linux/amd64 picked), the Bearer-token
challenge (the registry in token mode, a token issuer in this test), and clear errors."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tiphys.cli.main import main
from tiphys.errors import NotFoundError
from tiphys.images import build, registry
from tiphys.images.store import ImageStore

REGISTRY = shutil.which("docker-registry")
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(REGISTRY is None, reason="docker-registry not installed (scripts/setup.d/36-registry.sh)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    def __init__(self, tmp: Path, auth: str = ""):
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        tmp.mkdir(parents=True, exist_ok=True)
        config = tmp / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {tmp / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n{auth}")
        self.log = open(tmp / "registry.log", "wb")
        self.proc = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=self.log, stderr=self.log)
        self.token: str | None = None
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://{self.host}/v2/", timeout=1)
                break
            except httpx.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("docker-registry did not start: " + (tmp / "registry.log").read_text())
                time.sleep(0.05)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()

    # -- pushing (the OCI distribution push flow)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        r = httpx.post(f"http://{self.host}/v2/{repo}/blobs/uploads/", headers=self._headers())
        assert r.status_code == 202, r.text
        loc = r.headers["location"]
        url = loc if loc.startswith("http") else f"http://{self.host}{loc}"
        url += ("&" if "?" in url else "?") + "digest=" + digest      # keep the upload's own query
        r = httpx.put(url, content=data,
                      headers={**self._headers(), "Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        return digest

    def push_manifest(self, repo: str, ref: str, body: bytes, media: str) -> str:
        r = httpx.put(f"http://{self.host}/v2/{repo}/manifests/{ref}", content=body,
                      headers={**self._headers(), "Content-Type": media})
        assert r.status_code == 201, r.text
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def push_image(self, repo: str, tag: str, layers: list[bytes], config: dict) -> str:
        manifest, blobs = build.manifest_for(layers, config)
        for data in blobs.values():
            self.push_blob(repo, data)
        return self.push_manifest(repo, tag, manifest, registry.OCI_MANIFEST)


@pytest.fixture
def reg(tmp_path):
    r = Registry(tmp_path / "registry")
    yield r
    r.close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TIPHYS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TIPHYS_SYSTEM_IMAGES", str(tmp_path / "system"))
    monkeypatch.delenv("TIPHYS_IMAGES", raising=False)
    return tmp_path / "home"


def _image(text: str, cmd: str = "cat /msg") -> tuple[list[bytes], dict]:
    layers = [build.layer_tar({"msg": text, "etc/": None}), build.layer_tar({"etc/extra": "2"})]
    return layers, build.image_config(entrypoint=["sh", "-c"], cmd=[cmd], env=["PATH=/bin", "WHO=registry"],
                                      working_dir="/data", layers=layers)


def test_pull_a_pushed_image_then_again_from_the_blob_cache(reg, home, capsys):
    layers, cfg = _image("from the registry\n")
    digest = reg.push_image("team/hello", "1.0", layers, cfg)
    assert main(["image", "pull", f"{reg.host}/team/hello:1.0"]) == 0
    out = capsys.readouterr().out
    assert f"{reg.host}/team/hello:1.0" in out and digest in out
    img = ImageStore(home / "images").lookup(f"{reg.host}/team/hello:1.0")
    assert img is not None and img.digest == digest
    assert (img.rootfs / "msg").read_text() == "from the registry\n"
    assert (img.rootfs / "etc" / "extra").read_text() == "2"
    assert img.config.environment()["WHO"] == "registry" and img.config.working_dir == "/data"
    # by digest: the manifest is fetched and checked, every blob is already here
    store = ImageStore(home / "images")
    again = registry.pull(store, f"{reg.host}/team/hello@{digest}")
    assert again.id == img.id


def test_manifest_list_picks_linux_amd64(reg, home):
    repo = "multi/tool"
    entries = []
    for arch in ("arm64", "amd64", "s390x"):
        layers, cfg = _image(f"built for {arch}\n")
        cfg["architecture"] = arch
        manifest, blobs = build.manifest_for(layers, cfg)
        for data in blobs.values():
            reg.push_blob(repo, data)
        d = reg.push_manifest(repo, f"only-{arch}", manifest, registry.OCI_MANIFEST)
        entries.append({"mediaType": registry.OCI_MANIFEST, "digest": d, "size": len(manifest),
                        "platform": {"os": "linux", "architecture": arch}})
    index = json.dumps({"schemaVersion": 2, "mediaType": registry.OCI_INDEX, "manifests": entries}).encode()
    reg.push_manifest(repo, "2", index, registry.OCI_INDEX)
    img = registry.pull(ImageStore(home / "images"), f"{reg.host}/{repo}:2")
    assert (img.rootfs / "msg").read_text() == "built for amd64\n"
    assert img.config.architecture == "amd64"


def test_missing_images_and_registries_are_clear_errors(reg, home, capsys):
    store = ImageStore(home / "images")
    with pytest.raises(NotFoundError, match="not found"):
        registry.pull(store, f"{reg.host}/nobody/here:1")
    assert main(["image", "pull", "-q", f"{reg.host}/nobody/here:1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tiphys: ") and "nobody/here" in err and "Traceback" not in err
    port = _free_port()
    assert main(["image", "pull", "-q", f"127.0.0.1:{port}/x:1"]) == 1
    assert f"127.0.0.1:{port}" in capsys.readouterr().err


# -- Bearer tokens: the registry in token mode, a token issuer signing JWTs with a test key

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """Anonymous token endpoint: answers ?service=&scope= with a signed JWT (x5c header)."""

    def __init__(self, tmp: Path):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
        from cryptography.x509.oid import NameOID
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tiphys test token issuer")])
        now = dt.datetime.now(dt.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.bundle = tmp / "issuer.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.requests: list[dict[str, list[str]]] = []
        self._sign = lambda data: self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        self._der = self.cert.public_bytes(serialization.Encoding.DER)
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                query = parse_qs(urlparse(self.path).query)
                issuer.requests.append(query)
                body = json.dumps({"token": issuer.token(query)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, query: dict[str, list[str]]) -> str:
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(self._der).decode()]}
        claims = {"iss": "tiphys-test", "sub": "", "aud": (query.get("service") or [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        return f"{signing}.{_b64(self._sign(signing.encode()))}"

    def close(self) -> None:
        self.server.shutdown()


def test_bearer_challenge_gets_an_anonymous_token(tmp_path, home):
    issuer = TokenIssuer(tmp_path)
    auth = (f"auth:\n  token:\n    realm: {issuer.url}\n    service: tiphys-registry\n"
            f"    issuer: tiphys-test\n    rootcertbundle: {issuer.bundle}\n")
    reg = Registry(tmp_path / "registry", auth)
    try:
        assert httpx.get(f"http://{reg.host}/v2/private/tool/manifests/1").status_code == 401
        reg.token = issuer.token({"service": ["tiphys-registry"], "scope": ["repository:private/tool:pull,push"]})
        layers, cfg = _image("behind a token\n")
        reg.push_image("private/tool", "1", layers, cfg)
        issuer.requests.clear()
        img = registry.pull(ImageStore(home / "images"), f"{reg.host}/private/tool:1")
        assert (img.rootfs / "msg").read_text() == "behind a token\n"
        assert issuer.requests and issuer.requests[0]["service"] == ["tiphys-registry"]
        assert issuer.requests[0]["scope"] == ["repository:private/tool:pull"]
    finally:
        reg.close()
        issuer.close()


# -- podman pushing a real image, then a step running on it

PODMAN = shutil.which("podman")


@pytest.mark.skipif(PODMAN is None, reason="podman not installed (scripts/setup.d/30-podman.sh)")
def test_podman_pushed_image_runs_in_the_sandbox(reg, home, tmp_path):
    root = build.busybox_rootfs(tmp_path / "rootfs") if os.access(build.BUSYBOX, os.X_OK) else None
    if root is None:
        pytest.skip("busybox-static not installed")
    env = dict(os.environ)
    tag = f"localhost/tiphys-pull-test:{uuid.uuid4().hex[:8]}"
    tar = subprocess.run(["tar", "-C", str(root), "-c", "."], capture_output=True, check=True).stdout
    subprocess.run([PODMAN, "import", "-q", "--change", "ENV PATH=/bin", "--change", 'CMD ["sh"]', "-", tag],
                   input=tar, check=True, capture_output=True, env=env)
    try:
        subprocess.run([PODMAN, "push", "-q", "--tls-verify=false", tag, f"docker://{reg.host}/podman/busybox:1"],
                       check=True, capture_output=True, env=env)
    finally:
        subprocess.run([PODMAN, "rmi", "-f", tag], capture_output=True, env=env)
    assert main(["image", "pull", "-q", f"{reg.host}/podman/busybox:1"]) == 0
    wf = tmp_path / "wf.yaml"
    wf.write_text(f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{name: pulled}}
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: {reg.host}/podman/busybox:1
      command: [sh, -c]
      args: ["echo ran on $(cat /proc/1/comm) > /tmp/out; cat /tmp/out"]
""")
    r = subprocess.run([str(Path(os.sys.executable).with_name("tiphys")), "run", str(wf), "--executor", "sandbox",
                        "-o", "json"], capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"]["phase"] == "Succeeded"
    assert "executor sandbox: 1 step" in r.stderr
