#!/usr/bin/env bash
# Set up Tiphys on a fresh Debian machine: system packages (bubblewrap for the step
# sandbox, busybox and cowsay for the common images), a virtualenv with Tiphys and its
# test tools. Idempotent: re-running it on a prepared machine is quick.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
[ -x /usr/games/cowsay ] || need+=(cowsay)
[ -x /usr/bin/python3 ] || need+=(python3)
command -v /usr/bin/time >/dev/null 2>&1 || need+=(time)
"${PYTHON:-python3}" -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: please install: ${need[*]} (apt-get install ${need[*]})" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# Optional parts (PostgreSQL, podman, test images, Chromium...): each scripts/setup.d/NN-*.sh
# installs and prepares one thing, idempotently. TIPHYS_SETUP_MINIMAL=1 skips them (the
# README's first command needs none of them).
if [ -z "${TIPHYS_SETUP_MINIMAL:-}" ]; then
  for part in scripts/setup.d/*.sh; do
    [ -e "$part" ] || continue
    bash "$part"
  done
fi
echo "setup: done (.venv/bin/tiphys)"
