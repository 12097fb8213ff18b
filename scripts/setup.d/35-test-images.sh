#!/usr/bin/env bash
# The offline test images (busybox, alpine, python, argosay, whalesay...): built from Debian
# packages, cached as docker-archive tars in /var/cache/tiphys/images and loaded into podman.
# Quick when the cache and podman already have them. See scripts/images/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v podman >/dev/null 2>&1 || exit 0
[ "$(id -u)" = 0 ] || { echo "setup: building the test images needs root (scripts/images/build.sh)" >&2; exit 0; }
bash scripts/images/build.sh
