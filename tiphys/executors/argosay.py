"""The argosay shim: a POSIX sh emulation of the argoproj/argosay image entrypoint.

Kept as a Python string so it ships with the package without package-data.
Behaviour follows ARGO-REFERENCE section 9.
"""

SCRIPT = r'''#!/bin/sh
# argosay: POSIX sh emulation of the argoproj/argosay image entrypoint (Tiphys).
# Commands: echo [MSG [FILE]] | cat FILE... | assert_contains FILE TEXT | exit [N]
#           | sleep DURATION (Go forms: 1s 2m 1h 500ms 1m30s, or plain seconds) | sh FILE
usage() {
    echo "usage: argosay [assert_contains file string|cat [file...]|echo [string] [file]|sleep duration|exit [code]|sh file]" >&2
    exit 1
}
[ $# -eq 0 ] && set -- echo
cmd=$1
shift
case $cmd in
echo)
    case $# in
    0) echo "hello argo" ;;
    1) printf '%s\n' "$1" ;;
    2)
        mkdir -p -- "$(dirname -- "$2")" || exit 1
        printf '%s' "$1" >"$2" || exit 1
        sleep 0.1
        ;;
    *) usage ;;
    esac
    ;;
cat)
    for f in "$@"; do
        cat -- "$f" || exit 1
    done
    ;;
assert_contains)
    [ $# -eq 2 ] || usage
    data=$(cat -- "$1") || exit 1
    case $data in
    *"$2"*) exit 0 ;;
    esac
    printf 'expected "%s" to contain "%s", but was "%s"\n' "$1" "$2" "$data" >&2
    exit 1
    ;;
exit)
    [ $# -eq 0 ] && exit 0
    case $1 in
    '' | *[!0-9]*) echo "argosay: exit: bad code: $1" >&2; exit 1 ;;
    esac
    exit "$1"
    ;;
sleep)
    [ $# -eq 1 ] || usage
    secs=$(printf '%s\n' "$1" | awk '
        /^[0-9]+(\.[0-9]+)?$/ { print $0; exit 0 }
        {
            s = $0; t = 0
            if (s == "") exit 1
            while (length(s) > 0) {
                if (!match(s, /^[0-9]*\.?[0-9]+(ns|us|ms|s|m|h)/)) exit 1
                tok = substr(s, 1, RLENGTH); s = substr(s, RLENGTH + 1)
                n = tok + 0; u = tok; sub(/^[0-9.]+/, "", u)
                if (u == "h") f = 3600; else if (u == "m") f = 60; else if (u == "s") f = 1
                else if (u == "ms") f = 0.001; else if (u == "us") f = 0.000001; else f = 0.000000001
                t += n * f
            }
            printf "%.6f\n", t
        }') || { echo "argosay: sleep: bad duration: $1" >&2; exit 1; }
    exec sleep "$secs"
    ;;
sh)
    [ $# -ge 1 ] || usage
    exec sh "$@"
    ;;
*) usage ;;
esac
'''
