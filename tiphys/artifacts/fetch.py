"""Input artifacts fetched from elsewhere: `http` (GET, streamed to a file; 404 is "not found")
and `git` (a clone, at `revision` when given). Credentials come from the workflow's secrets
(`SecretValue`) and are never logged."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from tiphys.errors import InfrastructureError, NotFoundError, SpecError

SecretValue = Callable[[str, str], str]
GIT_TIMEOUT = 600


def _secret(ref: Any, secret: SecretValue, field: str) -> str:
    if not isinstance(ref, dict) or not ref.get("name") or not ref.get("key"):
        raise SpecError(f"{field} must be {{name: <secret>, key: <key>}}")
    return secret(str(ref["name"]), str(ref["key"]))


def http(spec: dict[str, Any], dest: Path, secret: SecretValue) -> None:
    import httpx
    url = str(spec.get("url") or "")
    if not url:
        raise SpecError("http artifact needs a url")
    headers = {str(h.get("name")): str(h.get("value", "")) for h in spec.get("headers") or [] if isinstance(h, dict)}
    auth = None
    basic = (spec.get("auth") or {}).get("basicAuth")
    if basic:
        auth = (_secret(basic.get("usernameSecret"), secret, "basicAuth.usernameSecret"),
                _secret(basic.get("passwordSecret"), secret, "basicAuth.passwordSecret"))
    shown = urlunsplit(urlsplit(url)._replace(query="", fragment=""))
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with httpx.stream("GET", url, headers=headers, auth=auth, follow_redirects=True,
                          timeout=httpx.Timeout(60.0, connect=10.0)) as resp:
            if resp.status_code == 404:
                raise NotFoundError(f"http artifact {shown}: 404 Not Found")
            if resp.status_code >= 400:
                raise InfrastructureError(f"http artifact {shown}: HTTP {resp.status_code}")
            with open(dest, "wb") as f:
                for chunk in resp.iter_bytes(1024 * 1024):
                    f.write(chunk)
    except httpx.HTTPError as exc:
        raise InfrastructureError(f"http artifact {shown}: {type(exc).__name__}: {exc}") from None


def git(spec: dict[str, Any], dest: Path, secret: SecretValue) -> None:
    repo = str(spec.get("repo") or "")
    if not repo:
        raise SpecError("git artifact needs a repo")
    url = repo
    if spec.get("usernameSecret") or spec.get("passwordSecret"):
        parts = urlsplit(repo)
        user = quote(_secret(spec.get("usernameSecret"), secret, "git.usernameSecret"), safe="") \
            if spec.get("usernameSecret") else ""
        pw = quote(_secret(spec.get("passwordSecret"), secret, "git.passwordSecret"), safe="") \
            if spec.get("passwordSecret") else ""
        url = urlunsplit(parts._replace(netloc=f"{user}:{pw}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")))
    argv = ["git", "clone", "--quiet"]
    if spec.get("depth"):
        argv += ["--depth", str(int(spec["depth"]))]
    if spec.get("branch"):
        argv += ["--branch", str(spec["branch"])]
    if spec.get("singleBranch"):
        argv.append("--single-branch")
    if not spec.get("disableSubmodules"):
        argv.append("--recurse-submodules")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if spec.get("insecureSkipTLS"):
        env["GIT_SSL_NO_VERIFY"] = "true"
    dest.parent.mkdir(parents=True, exist_ok=True)
    _run([*argv, url, str(dest)], env, repo, url)
    for refspec in spec.get("fetch") or []:
        _run(["git", "-C", str(dest), "fetch", "--quiet", "origin", str(refspec)], env, repo, url)
    if spec.get("revision"):
        _run(["git", "-C", str(dest), "checkout", "--quiet", str(spec["revision"])], env, repo, url)


def _run(argv: list[str], env: dict[str, str], shown: str, url: str) -> None:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=GIT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InfrastructureError(f"git artifact {shown}: {exc}") from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).replace(url, shown).strip().splitlines()
        raise InfrastructureError(f"git artifact {shown}: {argv[1] if argv[1] != '-C' else argv[3]} failed: "
                                  f"{message[-1] if message else done.returncode}")
