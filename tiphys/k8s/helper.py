"""The small helper every Tiphys pod carries instead of Argo's emissary and wait container.

An init container (`init`, image HELPER_IMAGE: a static busybox) copies its busybox and the
WRAPPER script into the pod's `var-run-argo` emptyDir (/var/run/argo), and writes a script
template's source to /argo/staging/script (the path Argo appends to a script's command).
Each wrapped container (main, a containerSet's containers) then runs
`/var/run/argo/busybox sh /var/run/argo/wrap NAME -- COMMAND ARGS...`, which

- in a containerSet, first waits until each container of TIPHYS_DEPENDENCIES has written its
  exit code; if one is not 0 the command does not run: the container says
  `dependency "X" exited with non-zero code: N` and exits 64, as Argo's emissary (a SIGTERM
  meanwhile ends it with 143; a dependency killed before it wrote its exit code is one whose
  player left `ctr/X/died`: `dependency "X" died without reporting exit code`);
- runs the command, the image's own program found on the image's PATH (never the helper
  busybox's applet of that name), SIGTERM/SIGINT forwarded to it (a program that cannot be
  found is 127 with `exec: NAME: not found`, as the runtime says it), its stdout also copied to
  /var/run/argo/ctr/NAME/stdout (the step's `result`);
- runs it again while it fails, up to TIPHYS_RETRIES runs in all, TIPHYS_RETRY_DELAY
  seconds apart (a containerSet's retryStrategy, retried in place as the emissary does; a
  program that cannot be found is not retried);
- writes its exit code to /var/run/argo/ctr/NAME/exitcode (64: the wrapper itself failed);
- copies each declared output path (TIPHYS_OUTPUTS: one `INDEX PATH` per line) to
  /var/run/argo/outputs/INDEX, a missing one being left out;
- exits with the command's exit code, so the container's own status says the same.

A static busybox runs in any Linux image, even one without a shell, as argoexec does.
Whoever plays the pod reads /var/run/argo back: the `pod` executor binds it to a host folder
of the step; on a cluster the `kubernetes` executor reads it through the exec API from a `wait`
container that stays until it has (k8s/clusterpod.py; README: design).
"""
from __future__ import annotations

import os

HELPER_IMAGE = os.environ.get("TIPHYS_HELPER_IMAGE", "localhost/tiphys-helper:1")
RUN_DIR = "/var/run/argo"
BUSYBOX = f"{RUN_DIR}/busybox"
STAGING = "/argo/staging"
SCRIPT = f"{STAGING}/script"
EMISSARY_FAILED = 64

WRAPPER = r"""# tiphys wrap NAME -- COMMAND...: run the step, keep its exit code, stdout and outputs
D=/var/run/argo
B=$D/busybox
name=$1
shift 2
mkdir -p "$D/ctr/$name" "$D/outputs" || exit 64
# a containerSet's container: first each dependency's exit code, as Argo's emissary waits for it
trap 'echo 143 > "$D/ctr/$name/exitcode"; exit 143' TERM INT
for dep in $TIPHYS_DEPENDENCIES; do
  while [ ! -s "$D/ctr/$dep/exitcode" ] && [ ! -e "$D/ctr/$dep/died" ]; do $B sleep 0.1; done
  if [ ! -s "$D/ctr/$dep/exitcode" ]; then      # killed before it could say (the player's `died`)
    echo "dependency \"$dep\" died without reporting exit code" >&2
    echo 64 > "$D/ctr/$name/exitcode"; exit 64
  fi
  read -r code < "$D/ctr/$dep/exitcode"
  if [ "$code" != 0 ]; then
    echo "dependency \"$dep\" exited with non-zero code: $code" >&2
    echo 64 > "$D/ctr/$name/exitcode"; exit 64
  fi
done
# the image's program, found on its PATH here: this busybox would run its own applet of that name
prog=$1
case $prog in
  */*) ;;
  *) found=; IFS=:
     for dir in ${PATH:-/usr/local/bin:/usr/bin:/bin}; do
       if [ -f "${dir:-.}/$prog" ] && [ -x "${dir:-.}/$prog" ]; then found=${dir:-.}/$prog; break; fi
     done
     unset IFS; prog=$found ;;
esac
if [ -z "$prog" ] || [ ! -e "$prog" ]; then
  echo "exec: $1: not found" >&2; echo 127 > "$D/ctr/$name/exitcode"; exit 127
fi
shift
set -- "$prog" "$@"
fifo="$D/ctr/$name/.out"
rm -f "$fifo"; $B mkfifo "$fifo" || exit 64
$B tee "$D/ctr/$name/stdout" < "$fifo" &
tee_pid=$!
exec 3<&0                 # an asynchronous command's stdin would be /dev/null: give it ours
exec 4> "$fifo"           # one writer for every attempt: tee sees the end after the last
child=
trap 'stopping=1; [ -n "$child" ] && kill -TERM $child 2>/dev/null' TERM
trap 'stopping=1; [ -n "$child" ] && kill -INT $child 2>/dev/null' INT
n=1                       # a containerSet's retryStrategy: TIPHYS_RETRIES runs until one exits 0
while :; do
  "$@" <&3 >&4 3<&- 4>&- &
  child=$!
  while :; do
    wait $child
    rc=$?
    kill -0 $child 2>/dev/null || break
  done
  if [ "$rc" -eq 0 ] || [ "$n" -ge "${TIPHYS_RETRIES:-1}" ] || [ -n "$stopping" ]; then break; fi
  n=$((n+1))
  [ -z "$TIPHYS_RETRY_DELAY" ] || $B sleep "$TIPHYS_RETRY_DELAY"
done
exec 4>&-
wait $tee_pid
rm -f "$fifo"
printf '%s' "$TIPHYS_OUTPUTS" | while read -r index path; do
  [ -n "$path" ] || continue
  if [ -e "$path" ]; then $B cp -a "$path" "$D/outputs/$index" 2>/dev/null || $B cp -r "$path" "$D/outputs/$index"; fi
done
echo $rc > "$D/ctr/$name/exitcode"
exit $rc
"""

# what the init container runs (with the helper image's /bin/busybox)
INIT = r"""set -e
cp /bin/busybox /var/run/argo/busybox
printf '%s' "$TIPHYS_WRAPPER" > /var/run/argo/wrap
chmod 0777 /var/run/argo 2>/dev/null || true     # not its owner when the pod runs as a user
if [ -n "${TIPHYS_SCRIPT+set}" ]; then printf '%s' "$TIPHYS_SCRIPT" > /argo/staging/script; chmod 0755 /argo/staging/script; fi
"""


def wrap(name: str, command: list[str]) -> list[str]:
    """The command of a wrapped container."""
    return [BUSYBOX, "sh", f"{RUN_DIR}/wrap", name, "--", *command]
