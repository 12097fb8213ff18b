#!/usr/bin/env bash
# The sandbox executor's images and the registry the pull tests talk to:
#  - apt `docker-registry` (the CNCF Distribution server; tests start their own on loopback
#    with a temporary config, nothing runs from here) and `zstd` (zstd-compressed layers);
#  - every test image cached by 35-test-images.sh (docker-archive tars in
#    ${TIPHYS_IMAGE_CACHE:-/var/cache/tiphys/images}) imported into the system image store
#    ${TIPHYS_SYSTEM_IMAGES:-/var/lib/tiphys/images} under every name it stands for, so
#    `--executor sandbox` finds them from any TIPHYS_HOME. Quick when already done.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    { apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; }; }
  else
    echo "setup: please install: ${need[*]}" >&2
  fi
fi

CACHE="${TIPHYS_IMAGE_CACHE:-/var/cache/tiphys/images}"
[ -d "$CACHE" ] || exit 0
[ "$(id -u)" = 0 ] || [ -n "${TIPHYS_SYSTEM_IMAGES:-}" ] || exit 0

# the names each tar stands for: CACHE/NAME.names when present, else build.sh's NAMES table
declare -A NAMES=()
if [ -f scripts/images/build.sh ]; then
  eval "$(sed -n '/^declare -A NAMES=(/,/^)/p' scripts/images/build.sh | sed 's/^declare -A NAMES=(/NAMES+=(/')"
fi
for tar in "$CACHE"/*.tar; do
  [ -e "$tar" ] || continue
  base=$(basename "$tar" .tar)
  names="${NAMES[$base]:-}"
  [ -f "$CACHE/$base.names" ] && names=$(cat "$CACHE/$base.names")
  .venv/bin/python -m tiphys.images.seed "$tar" $names
done
