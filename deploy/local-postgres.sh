#!/usr/bin/env bash
# A local PostgreSQL for the tests and the quickstart: deploy/local-postgres.sh DIR start|stop|restart|kill
# start: initdb in DIR (trust auth), wal_level=logical, wal2json, a free port on
# 127.0.0.1; writes DIR/dsn. As root it runs the server through `runuser -u postgres`
# (PostgreSQL refuses to run as root).
set -euo pipefail
dir=$1 action=$2
# LOCAL_PG_BIN: another PostgreSQL's bin directory (tests/run-without-wal2json.sh uses one
# without the wal2json package).
bin=${LOCAL_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}
as_owner=()
if [ "$(id -u)" -eq 0 ]; then as_owner=(runuser -u postgres --); fi

pg_ctl() { "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" "$@"; }

fragment="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/postgresql.conf.d/deltastream.conf"

# The settings deltastream needs, rewritten at every start so that a cluster made by an
# older version of this script gets them too: deploy/postgresql.conf.d/deltastream.conf
# (copied, not included: as root the server runs as postgres, which may not be able to
# read the checkout), then this cluster's own lines, which win over the fragment's.
write_settings() {
  local port=$1
  {
    cat "$fragment"
    cat <<CONF

# deploy/local-postgres.sh: this cluster's address, and room for the test suite's
# streams (LOCAL_PG_SLOTS, 40 unless set: the console's test lists a thousand).
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_replication_slots = ${LOCAL_PG_SLOTS:-40}
max_wal_senders = 40
CONF
  } >"$dir/data/deltastream.conf"
  # Newer PostgreSQL releases only allow listed output plugins. (grep reads everything:
  # with pipefail, grep -q would end the pipe early and fail it.)
  if "$bin/postgres" --describe-config 2>/dev/null | grep '^output_plugin_libraries' >/dev/null; then
    echo "output_plugin_libraries = 'pgoutput, test_decoding, wal2json'" >>"$dir/data/deltastream.conf"
  fi
  # Tests throw the cluster away: durability only costs them time. No timed checkpoint
  # either: a test that crashes PostgreSQL knows what it wrote to disk last (CHECKPOINT).
  if [ "${LOCAL_PG_FAST:-0}" = 1 ]; then
    printf 'fsync = off\ncheckpoint_timeout = 1h\n' >>"$dir/data/deltastream.conf"
  fi
}

case $action in
  start)
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      mkdir -p "$dir"
      [ ${#as_owner[@]} -gt 0 ] && chown postgres "$dir"
      "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log"
      echo "include_if_exists 'deltastream.conf'" >>"$dir/data/postgresql.conf"
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
      echo "host=127.0.0.1 port=$port user=postgres dbname=postgres" >"$dir/dsn"
    fi
    port=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' "$dir/dsn")
    write_settings "$port"
    pg_ctl -w start >/dev/null
    ;;
  stop) pg_ctl -w -m fast stop >/dev/null ;;
  kill) pg_ctl -w -m immediate stop >/dev/null ;;
  restart) pg_ctl -w -m immediate stop >/dev/null; pg_ctl -w start >/dev/null ;;
  *) echo "usage: $0 DIR start|stop|restart|kill" >&2; exit 2 ;;
esac
