#!/usr/bin/env bash
# podman + runc for the docker executor (DockerExecutor over `podman system service`).
# This host needs runc (crun rejects the cgroup v1/v2 hybrid), cgroupfs (no systemd) and
# default ulimits within the hard limits: /etc/containers/containers.conf says so when it
# does not exist yet (an existing one is left alone; services that Tiphys starts bring
# their own, see tiphys/executors/podman.py). Idempotent: quick when done.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: the docker executor needs podman and runc: apt-get install podman runc" >&2
    exit 0
  fi
  echo "setup: installing podman and runc (docker executor)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null
fi
conf=/etc/containers/containers.conf
if [ ! -e "$conf" ] && [ "$(id -u)" = 0 ]; then
  mkdir -p /etc/containers
  .venv/bin/python -m tiphys.executors.podman conf > "$conf"
elif [ -e "$conf" ] && ! grep -q 'runtime *= *"runc"' "$conf"; then
  echo "setup: note: $conf does not select runc; podman run may fail here (Tiphys' own services are fine)" >&2
fi
