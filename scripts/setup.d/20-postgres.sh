#!/usr/bin/env bash
# PostgreSQL 15 server binaries for the store tests on PostgreSQL (tests/store/pg.py starts a
# throwaway cluster with initdb/pg_ctl as the `postgres` user; nothing is started here, and
# the cluster apt creates is left stopped). Idempotent: quick when already installed.
set -euo pipefail
[ -x /usr/lib/postgresql/15/bin/initdb ] && [ -x /usr/lib/postgresql/15/bin/pg_ctl ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "setup: the PostgreSQL store tests need the server: apt-get install postgresql" >&2
  exit 0
fi
echo "setup: installing postgresql (store tests on PostgreSQL)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
