#!/usr/bin/env bash
# Chromium for the UI's browser tests (tests/ui drive /usr/bin/chromium with Playwright;
# Playwright's own browser download is never used). Idempotent: quick when present.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "setup: the UI browser tests need Chromium: apt-get install chromium" >&2
  exit 0
fi
echo "setup: installing chromium (UI browser tests)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
