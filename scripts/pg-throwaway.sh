#!/usr/bin/env bash
# A throwaway PostgreSQL for the DuckLake tests: data in a temp dir, a Unix socket only (no TCP).
#   eval "$(bash scripts/pg-throwaway.sh start)"   # exports TRACKER_TEST_PG (conninfo, no dbname)
#   bash scripts/pg-throwaway.sh stop "$TRACKER_TEST_PG_DIR"
# Installs Debian's postgresql when no server binaries are found and we are root.
set -euo pipefail

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

as_owner() {  # run a server command as the cluster owner (initdb refuses root)
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    if ! bin=$(find_bin); then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing postgresql (apt-get)..." >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2
        # Debian creates and starts a default cluster: the tests never use it
        command -v pg_ctlcluster >/dev/null 2>&1 && for c in $(pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}'); do
          pg_ctlcluster "${c%/*}" "${c#*/}" stop >/dev/null 2>&1 || true
        done
      fi
      bin=$(find_bin) || { echo "pg-throwaway: no PostgreSQL server binaries found" >&2; exit 1; }
    fi
    dir=$(mktemp -d /tmp/tracker-pg.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-k $dir -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "export TRACKER_TEST_PG='host=$dir port=5432 user=postgres'"
    echo "export TRACKER_TEST_PG_DIR='$dir'"
    ;;
  stop)
    dir=${2:?usage: pg-throwaway.sh stop DIR}
    bin=$(find_bin) || exit 0
    if [ -d "$dir/data" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
