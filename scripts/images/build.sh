#!/usr/bin/env bash
# Build Tiphys' offline test images from Debian packages, cache them as docker-archive tars,
# and load them into podman under every name the Argo examples use. See README.md here.
#
#   scripts/images/build.sh            build what is missing (quick when all is there)
#   TIPHYS_IMAGE_CACHE=DIR             cache folder (default /var/cache/tiphys/images)
#
# Nothing is pulled from an image registry: every file comes from a Debian package
# (`apt-get download`, then `dpkg -x`; no maintainer script runs) or from Tiphys itself.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
CACHE="${TIPHYS_IMAGE_CACHE:-/var/cache/tiphys/images}"
DEBS="$CACHE/debs"
PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games'
mkdir -p "$CACHE" "$DEBS"

# image file -> names it is loaded as (docker.io names, as Docker would normalise them)
declare -A NAMES=(
  [busybox]="docker.io/library/busybox:latest docker.io/library/alpine:latest docker.io/library/alpine:3.23 docker.io/library/alpine:3.6 docker.io/library/debian:latest docker.io/library/debian:9.1 docker.io/library/debian:8.9 docker.io/library/ubuntu:latest docker.io/library/ubuntu:17.10"
  [python]="docker.io/library/python:3.11 docker.io/library/python:3.11-alpine docker.io/library/python:alpine3.23 docker.io/library/python:latest"
  [argosay]="docker.io/argoproj/argosay:v2"
  [whalesay]="docker.io/docker/whalesay:latest docker.io/argoproj/argosay:v1"
)

fetch() {  # fetch PKG... into $DEBS (apt-get download; refresh the lists once if needed)
  local missing=()
  for p in "$@"; do compgen -G "$DEBS/${p}_*.deb" >/dev/null || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  (cd "$DEBS" && apt-get download -qq "${missing[@]}" >/dev/null 2>&1) || {
    apt-get update -qq >/dev/null
    (cd "$DEBS" && apt-get download -qq "${missing[@]}" >/dev/null)
  }
}

unpack() {  # unpack ROOT PKG...
  local root=$1; shift
  fetch "$@"
  for p in "$@"; do
    local f; f=$(ls "$DEBS/${p}"_*.deb | tail -1)
    dpkg -x "$f" "$root"
  done
}

base_root() {  # a busybox root: the shell and tools, /etc/passwd, the usual folders
  # Debian's dynamic busybox (the root has libc6 before this runs): unlike busybox-static, its
  # shell runs commands found on PATH rather than always its own applets, as Alpine's does
  local root=$1
  unpack "$root" libc6 busybox
  mkdir -p "$root"/{usr/bin,usr/sbin,usr/local/bin,sbin,tmp,proc,dev,sys,etc,root,home,run,var/tmp,work}
  chmod 1777 "$root/tmp" "$root/var/tmp"
  chroot "$root" /bin/busybox --install -s 2>/dev/null
  # `bash` for scripts written for debian/ubuntu images: busybox ash under that name
  [ -e "$root/bin/bash" ] || printf '#!/bin/sh\nexec /bin/busybox ash "$@"\n' > "$root/bin/bash"
  chmod 755 "$root/bin/bash"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  echo 'hosts: files dns' > "$root/etc/nsswitch.conf"
  printf 'NAME="Tiphys test image"\nID=tiphys\nPRETTY_NAME="Tiphys test image (busybox, Debian packages)"\n' \
    > "$root/etc/os-release"
}

build_busybox() {
  local root=$1 cu
  # Alpine's busybox has the full, GNU-compatible `od` (`od -N2 -An -i` reads an unsigned-looking
  # int); Debian's busybox-static has the small one (a signed short): take od from coreutils
  unpack "$root" libc6
  base_root "$root"
  cu=$(mktemp -d)
  fetch coreutils
  dpkg -x "$(ls "$DEBS"/coreutils_*.deb | tail -1)" "$cu"
  rm -f "$root/usr/bin/od" "$root/bin/od"
  install -m 755 "$cu/usr/bin/od" "$root/usr/bin/od"
  rm -rf "$cu" "$root/usr/share/doc" "$root/usr/share/man"
}

build_python() {
  local root=$1
  # python3.11 and the libraries its standard library links against (Debian bookworm)
  unpack "$root" libc6 libgcc-s1 zlib1g libexpat1 libssl3 libffi8 libbz2-1.0 libcrypt1 \
    libdb5.3 liblzma5 libncursesw6 libtinfo6 libnsl2 libtirpc3 libtirpc-common \
    libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1 \
    libreadline8 readline-common libsqlite3-0 libuuid1 media-types \
    libpython3.11-minimal python3.11-minimal libpython3.11-stdlib python3-minimal
  base_root "$root"
  ln -sf python3 "$root/usr/bin/python"
  [ -e "$root/usr/bin/python3" ] || ln -s python3.11 "$root/usr/bin/python3"
  rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/lintian"
}

build_cowsay() {  # busybox + perl + cowsay (+ the three pure-perl modules it uses)
  local root=$1
  unpack "$root" libc6 libcrypt1 perl-base cowsay libtext-charwidth-perl
  base_root "$root"
  local mods; mods=$(mktemp -d)
  fetch perl-modules-5.36
  dpkg -x "$(ls "$DEBS"/perl-modules-5.36_*.deb | tail -1)" "$mods"
  for m in Getopt/Std.pm Text/Wrap.pm Text/Tabs.pm; do
    install -D -m 644 "$mods/usr/share/perl/5.36/$m" "$root/usr/share/perl/5.36/$m"
  done
  rm -rf "$mods" "$root/usr/share/doc" "$root/usr/share/man"
}

build_argosay() {
  build_cowsay "$1"
  "$top/.venv/bin/python" -c 'import sys; from tiphys.executors.argosay import SCRIPT; sys.stdout.write(SCRIPT)' \
    > "$1/argosay" 2>/dev/null || python3 -c "import sys; sys.path.insert(0, '$top'); from tiphys.executors.argosay import SCRIPT; sys.stdout.write(SCRIPT)" > "$1/argosay"
  chmod 755 "$1/argosay"
}
build_whalesay() { build_cowsay "$1"; }

declare -A CHANGES=(
  [busybox]='CMD ["sh"]'
  [python]='CMD ["python3"]'
  [python_env]='LANG=C.UTF-8'
  [argosay]='ENTRYPOINT ["/argosay"]'
  [whalesay]='CMD ["/bin/sh"]'
)

build() {  # build NAME: rootfs -> podman import -> docker-archive in the cache
  local name=$1 tar="$CACHE/$1.tar" root start
  start=$(date +%s.%N)
  root=$(mktemp -d "$CACHE/.root-$name-XXXXXX")
  trap 'rm -rf "$root"' EXIT
  "build_$name" "$root"
  local first=${NAMES[$name]%% *}
  local changes=(--change "ENV $PATH_ENV" --change "${CHANGES[$name]}")
  [ -z "${CHANGES[${name}_env]:-}" ] || changes+=(--change "ENV ${CHANGES[${name}_env]}")
  tar -C "$root" --numeric-owner -c . | podman import -q "${changes[@]}" - "$first" >/dev/null
  rm -rf "$root"
  trap - EXIT
  podman save -q --format docker-archive -o "$tar.part" "$first"
  mv "$tar.part" "$tar"
  printf 'images: built %s (%s, %.1f s)\n' "$name" "$(du -h "$tar" | cut -f1)" \
    "$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo 0)"
}

load() {  # load NAME: make every name of the image known to podman
  local name=$1 tar="$CACHE/$1.tar" n first=${NAMES[$1]%% *}
  podman image exists "$first" || podman load -q -i "$tar" >/dev/null
  for n in ${NAMES[$name]}; do
    podman image exists "$n" || podman tag "$first" "$n"
  done
}

# a changed recipe (this file) rebuilds every image and moves every name to the new build
recipe=$(sha256sum "$0" | cut -c1-16)
if [ "$(cat "$CACHE/recipe" 2>/dev/null)" != "$recipe" ]; then
  rm -f "$CACHE"/*.tar
fi
for name in busybox python argosay whalesay; do
  if [ -s "$CACHE/$name.tar" ]; then
    load "$name"
  else
    old=$(podman image inspect --format '{{.Id}}' "${NAMES[$name]%% *}" 2>/dev/null || true)
    build "$name"
    for n in ${NAMES[$name]}; do podman tag "${NAMES[$name]%% *}" "$n"; done
    [ -z "$old" ] || podman rmi "$old" >/dev/null 2>&1 || true   # the previous build, if now nameless
  fi
done
echo "$recipe" > "$CACHE/recipe"
