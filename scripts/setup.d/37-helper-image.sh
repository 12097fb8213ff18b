#!/usr/bin/env bash
# The helper image of Tiphys' pods (tiphys/k8s/helper.py): a static busybox whose init container
# installs the step wrapper in /var/run/argo (the `pod` executor plays it; `tiphys pods` names
# it). Built from the host's static busybox, or Debian's busybox-static package; never pulled.
# Idempotent: nothing to do once podman has it.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE="${TIPHYS_HELPER_IMAGE:-localhost/tiphys-helper:1}"
command -v podman >/dev/null 2>&1 || exit 0
podman image exists "$IMAGE" && exit 0
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/var/run/argo"
bb=$(command -v busybox || true)
if [ -n "$bb" ] && ! ldd "$bb" >/dev/null 2>&1; then     # static: ldd refuses it
  cp "$bb" "$root/bin/busybox"
else
  debs=$(mktemp -d)
  (cd "$debs" && apt-get download -qq busybox-static >/dev/null 2>&1) || {
    apt-get update -qq >/dev/null; (cd "$debs" && apt-get download -qq busybox-static >/dev/null); }
  dpkg -x "$debs"/busybox-static_*.deb "$debs/x"
  cp "$debs/x/bin/busybox" "$root/bin/busybox"
  rm -rf "$debs"
fi
ln -s busybox "$root/bin/sh"
tar -C "$root" --numeric-owner -c . | podman import -q --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
echo "setup: built the pod helper image $IMAGE"
