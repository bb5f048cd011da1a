#!/usr/bin/env bash
# deltastream on this machine in one command: installs what is missing, builds, starts a
# local PostgreSQL set up for logical replication with wal2json (unless DELTASTREAM_PG or
# one of PGHOST PGPORT PGUSER DBNAME names one), then the reader and the gateway. Ctrl-C
# stops them all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

./deploy/install-packages.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DDELTASTREAM_TESTS=OFF >/dev/null
cmake --build build-release -j2

pids=()
cluster=""
stop_all() {
  trap - INT TERM EXIT
  echo; echo "stopping deltastream"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  if [ -n "$cluster" ]; then "$root/deploy/local-postgres.sh" "$cluster" stop || true; fi
}
trap stop_all INT TERM EXIT

# Any of the connection variables means "use my server" (libpq fills in the rest).
if [ -z "${DELTASTREAM_PG:-}${PGHOST:-}${PGPORT:-}${PGUSER:-}${DBNAME:-}" ]; then
  cluster="$root/.pgdata"
  # As root the server runs as the postgres user, which must be able to reach the
  # directory; a checkout under /root is not reachable, so use /var/tmp then.
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$root"; then
    cluster=/var/tmp/deltastream-quickstart
  fi
  "$root/deploy/local-postgres.sh" "$cluster" start
  export DELTASTREAM_PG
  DELTASTREAM_PG=$(cat "$cluster/dsn")
  echo "PostgreSQL (logical replication, wal2json): $DELTASTREAM_PG   data in $cluster"
fi

# The reader keeps the acknowledged positions beside the build (see --ack-journal).
export DELTASTREAM_ACK_JOURNAL=${DELTASTREAM_ACK_JOURNAL-$root/build-release/acknowledged}
./build-release/reader/deltastream-reader & pids+=($!)
./build-release/gateway/deltastream-gateway & pids+=($!)
sleep 1
host=${SERVERHOST:-localhost} port=${SERVERPORT:-12312}
cat <<MSG

deltastream is running:
  HTTP       http://$host:$port/v1/init   http://$host:$port/v1/snapshot/data
  WebSocket  ws://$host:$port/v1/lr/stream?slotName=<slot>
  reader     control ${DELTASTREAM_CONTROL:-tcp://127.0.0.1:5590}, data ${DELTASTREAM_PUBLISH:-tcp://127.0.0.1:5591}
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
