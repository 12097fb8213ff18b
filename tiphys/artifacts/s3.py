"""S3 storage through boto3 (well kept, handles SigV4, multipart and retries): streamed to and
from files, multipart above 16 MiB with bounded memory (a few 8 MiB parts in flight), never a
whole object in memory.

Configuration is Argo's S3 fields (ARGO-REFERENCE-2 §4.2): `endpoint` (host:port, TLS unless
`insecure: true`), `bucket`, `region`, `accessKeySecret`/`secretKeySecret`/`sessionTokenSecret`
(read from the workflow's namespace when a client is made; values never logged), `useSDKCreds`
(boto3's default chain: environment, ~/.aws, instance roles), `addressingStyle`,
`createBucketIfNotPresent`. An artifact's own fields override the repository's.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tiphys.errors import InfrastructureError, NotFoundError, SpecError

CHUNK = 8 * 1024 * 1024
CREDENTIAL_FIELDS = ("accessKeySecret", "secretKeySecret", "sessionTokenSecret")
SecretValue = Callable[[str, str], str]     # (secret name, key) -> value; raises when missing

_clients: dict[tuple, Any] = {}
_lock = threading.Lock()


def merge(repo: dict[str, Any] | None, own: dict[str, Any] | None) -> dict[str, Any]:
    """The repository's S3 fields overlaid with the artifact's own non-empty ones."""
    out = dict(repo or {})
    out.update({k: v for k, v in (own or {}).items() if v not in (None, "", {})})
    return out


def _transfer() -> Any:
    from boto3.s3.transfer import TransferConfig
    return TransferConfig(multipart_threshold=2 * CHUNK, multipart_chunksize=CHUNK, max_concurrency=2,
                          io_chunksize=256 * 1024, max_io_queue=16, use_threads=True)


def _endpoint_url(cfg: dict[str, Any]) -> str | None:
    endpoint = str(cfg.get("endpoint") or "").strip()
    if not endpoint:
        return None
    if "://" in endpoint:
        return endpoint
    return f"{'http' if cfg.get('insecure') else 'https'}://{endpoint}"


def client(cfg: dict[str, Any], secret: SecretValue) -> Any:
    """A boto3 S3 client for `cfg` (shared across steps with the same settings and credentials)."""
    creds: dict[str, str] = {}
    if not cfg.get("useSDKCreds"):
        names = {"accessKeySecret": "aws_access_key_id", "secretKeySecret": "aws_secret_access_key",
                 "sessionTokenSecret": "aws_session_token"}
        for field, arg in names.items():
            ref = cfg.get(field)
            if not ref:
                continue
            if not isinstance(ref, dict) or not ref.get("name") or not ref.get("key"):
                raise SpecError(f"s3.{field} must be {{name: <secret>, key: <key>}}")
            creds[arg] = secret(str(ref["name"]), str(ref["key"]))
    url = _endpoint_url(cfg)
    style = "virtual" if cfg.get("addressingStyle") == "virtual-hosted" else "path"
    region = str(cfg.get("region") or "us-east-1")
    cache_key = (url, region, style, tuple(sorted(creds.items())))
    with _lock:
        found = _clients.get(cache_key)
        if found is None:
            import boto3
            from botocore.config import Config
            session = boto3.session.Session()
            found = session.client("s3", endpoint_url=url, region_name=region, **creds,
                                   config=Config(signature_version="s3v4", s3={"addressing_style": style},
                                                 retries={"max_attempts": 5, "mode": "standard"},
                                                 max_pool_connections=8))
            _clients[cache_key] = found
    return found


def _bucket(cfg: dict[str, Any]) -> str:
    bucket = cfg.get("bucket")
    if not bucket:
        raise SpecError("the S3 artifact repository has no bucket (s3.bucket)")
    return str(bucket)


def _missing(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound")


def _errors() -> tuple[type[BaseException], ...]:
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError
    return (BotoCoreError, ClientError, Boto3Error, OSError)


def _fail(what: str, exc: Exception) -> InfrastructureError:
    # botocore's messages name the operation and the S3 error; they never carry credentials
    return InfrastructureError(f"{what}: {exc}")


class S3:
    def __init__(self, cfg: dict[str, Any], secret: SecretValue):
        self.cfg = cfg
        self.bucket = _bucket(cfg)
        self._client = None
        self._secret = secret
        self._bucket_ready = False

    @property
    def s3(self) -> Any:
        if self._client is None:
            self._client = client(self.cfg, self._secret)
        return self._client

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _ensure_bucket(self) -> None:
        if self._bucket_ready or self.cfg.get("createBucketIfNotPresent") is None:
            return
        from botocore.exceptions import ClientError
        try:
            self.s3.create_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if "BucketAlready" not in str(exc):
                raise _fail(f"cannot create bucket {self.bucket}", exc) from None
        self._bucket_ready = True

    def put_file(self, path: Path, key: str) -> None:
        self._ensure_bucket()
        try:
            self.s3.upload_file(str(path), self.bucket, key, Config=_transfer())
        except _errors() as exc:
            raise _fail(f"cannot save artifact to {self.where(key)}", exc) from None

    def put_tree(self, folder: Path, prefix: str) -> None:
        """A folder stored without an archive: one object per file under `prefix`."""
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.put_file(file, f"{prefix.rstrip('/')}/{file.relative_to(folder).as_posix()}")

    def put_bytes(self, data: bytes, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError
        self._ensure_bucket()
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise _fail(f"cannot save {self.where(key)}", exc) from None

    def keys(self, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError
        found: list[str] = []
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                found += [o["Key"] for o in page.get("Contents") or []]
        except (BotoCoreError, ClientError) as exc:
            raise _fail(f"cannot list {self.where(prefix)}", exc) from None
        return found

    def get(self, key: str, dest: Path) -> None:
        """Download `key` to the file `dest`; when there is no such object, the objects under
        `key/` to the folder `dest` (Argo retries a missing key as a directory)."""
        from botocore.exceptions import BotoCoreError, ClientError
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.s3.download_file(self.bucket, key, str(dest), Config=_transfer())
            return
        except ClientError as exc:
            if not _missing(exc):
                raise _fail(f"cannot load artifact {self.where(key)}", exc) from None
        except (BotoCoreError, OSError) as exc:
            raise _fail(f"cannot load artifact {self.where(key)}", exc) from None
        prefix = key.rstrip("/") + "/"
        objects = self.keys(prefix)
        if not objects:
            raise NotFoundError(f"artifact {self.where(key)} not found")
        for obj in objects:
            target = (dest / obj[len(prefix):]).resolve()
            if not target.is_relative_to(dest.resolve()):
                raise InfrastructureError(f"object {obj!r} leaves the artifact folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.s3.download_file(self.bucket, obj, str(target), Config=_transfer())
            except (BotoCoreError, ClientError, OSError) as exc:
                raise _fail(f"cannot load artifact {self.where(obj)}", exc) from None

    def delete(self, key: str) -> None:
        """Delete the object `key` and any objects under `key/` (already gone is fine)."""
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            targets = [key] + self.keys(key.rstrip("/") + "/")
            for i in range(0, len(targets), 1000):
                self.s3.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": k} for k in targets[i:i + 1000]], "Quiet": True})
        except (BotoCoreError, ClientError) as exc:
            raise _fail(f"cannot delete artifact {self.where(key)}", exc) from None

    def stream(self, key: str) -> tuple[Iterator[bytes], int | None]:
        """The object's bytes in chunks (for the server's downloads) and its size."""
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                raise NotFoundError(f"artifact {self.where(key)} not found") from None
            raise _fail(f"cannot read artifact {self.where(key)}", exc) from None
        except BotoCoreError as exc:
            raise _fail(f"cannot read artifact {self.where(key)}", exc) from None
        body = answer["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(1024 * 1024)
            finally:
                body.close()
        return chunks(), answer.get("ContentLength")
