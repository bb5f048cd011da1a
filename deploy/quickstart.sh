#!/usr/bin/env bash
# deltastream on this machine in one command: installs what is missing, builds, starts a
# local PostgreSQL set up for logical replication with wal2json, with the demo tables of
# the README's walk-through (unless DELTASTREAM_PG or one of PGHOST PGPORT PGUSER DBNAME
# names your own server: then it checks that server and creates nothing), then the reader
# and the gateway, and prints what to try. Ctrl-C stops them all.
#   ./deploy/quickstart.sh                 # as above
#   ./deploy/quickstart.sh --demo-writer   # and commit a new demo order every second
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

demo_writer=0
for arg in "$@"; do
  case $arg in
    --demo-writer) demo_writer=1 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "quickstart.sh: unknown argument $arg (see --help)" >&2; exit 1 ;;
  esac
done

./deploy/install-packages.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DDELTASTREAM_TESTS=OFF >/dev/null
cmake --build build-release -j2

pids=()
cluster=""
stop_all() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -eq 0 ] || { echo; echo "stopping deltastream"; }
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  if [ -n "$cluster" ]; then "$root/deploy/local-postgres.sh" "$cluster" stop || true; fi
}
trap stop_all INT TERM EXIT

# Your own server: what deltastream needs of it, each missing piece with the line that
# fixes it. (The reader and gateway build the same connection from these variables.)
check_own_server() {
  local pg=${DELTASTREAM_PG:-} problems=0
  if [ -z "$pg" ]; then
    pg="${PGHOST:+host=$PGHOST }${PGPORT:+port=$PGPORT }${PGUSER:+user=$PGUSER }${DBNAME:+dbname=$DBNAME}"
  fi
  ask() { PGPASSWORD=${PGPASS:-${PGPASSWORD:-}} psql "$pg" -XAtq -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
  if ! ask "SELECT 1" >/dev/null; then
    echo "cannot connect to PostgreSQL ($pg): $(ask 'SELECT 1' | head -1)" >&2
    exit 1
  fi
  if [ "$(ask 'SHOW wal_level')" != logical ]; then
    echo "PostgreSQL's wal_level is not logical. As a superuser: ALTER SYSTEM SET wal_level = logical;" >&2
    echo "  then restart PostgreSQL (sudo systemctl restart postgresql)." >&2
    problems=1
  fi
  if [ "$(ask 'SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user')" != t ]; then
    echo "the role $(ask 'SELECT current_user') cannot replicate. As a superuser:" \
         "ALTER ROLE \"$(ask 'SELECT current_user')\" REPLICATION;" >&2
    problems=1
  fi
  # pgoutput is built into PostgreSQL; wal2json is a package the server must have.
  if [ "$problems" = 0 ] && [ "${DELTASTREAM_PLUGIN:-wal2json}" = wal2json ]; then
    local created
    created=$(ask "SELECT 'ok' FROM pg_create_logical_replication_slot('deltastream_quickstart_check', 'wal2json', true)")
    if [ "$created" != ok ]; then
      echo "PostgreSQL cannot load wal2json ($(echo "$created" | head -1)). On its machine:" >&2
      echo "  sudo apt-get install postgresql-$(ask 'SHOW server_version_num' | cut -c1-2)-wal2json" >&2
      echo "or run the reader with DELTASTREAM_PLUGIN=pgoutput (no extension needed)." >&2
      problems=1
    fi
  fi
  [ "$problems" = 0 ] || exit 1
}

# Any of the connection variables means "use my server" (libpq fills in the rest).
if [ -n "${DELTASTREAM_PG:-}${PGHOST:-}${PGPORT:-}${PGUSER:-}${DBNAME:-}" ]; then
  check_own_server
  if [ "$demo_writer" = 1 ]; then
    echo "--demo-writer writes the demo tables of the quickstart's own PostgreSQL only" >&2
    exit 1
  fi
else
  cluster="$root/.pgdata"
  # As root the server runs as the postgres user, which must be able to reach the
  # directory; a checkout under /root is not reachable, so use /var/tmp then.
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$root"; then
    cluster=/var/tmp/deltastream-quickstart
  fi
  "$root/deploy/local-postgres.sh" "$cluster" start
  export DELTASTREAM_PG
  DELTASTREAM_PG=$(cat "$cluster/dsn")
  psql "$DELTASTREAM_PG" -Xq -v ON_ERROR_STOP=1 -f "$root/deploy/demo-schema.sql"
  echo "PostgreSQL (logical replication, wal2json): $DELTASTREAM_PG   data in $cluster"
  echo "  with the demo tables public.orders and public.customers (deploy/demo-schema.sql)"
fi

# The reader keeps the acknowledged positions beside the build (see --ack-journal).
export DELTASTREAM_ACK_JOURNAL=${DELTASTREAM_ACK_JOURNAL-$root/build-release/acknowledged}
./build-release/reader/deltastream-reader & pids+=($!)
./build-release/gateway/deltastream-gateway & pids+=($!)
host=${SERVERHOST:-localhost} port=${SERVERPORT:-12312}
case $host in 0.0.0.0|::|"") host=localhost ;; esac
url=http://$host:$port
[[ $host == *:* ]] && url="http://[$host]:$port"
for _ in $(seq 150); do  # up to 15 s
  curl -sf "$url/healthz" >/dev/null && break
  kill -0 "${pids[@]}" 2>/dev/null || { echo "deltastream did not start (see above)" >&2; exit 1; }
  sleep 0.1
done
if [ "$demo_writer" = 1 ]; then
  (while sleep 1; do
     psql "$DELTASTREAM_PG" -Xq -c "INSERT INTO orders (customer, total) VALUES
       ((ARRAY['ada','bob','cy'])[1 + floor(random() * 3)::int], round((random() * 100)::numeric, 2))" || true
   done) & pids+=($!)
fi
table=public.orders
[ -z "$cluster" ] && table='<schema.table>'
writing="" change=""  # what makes the stream show something
if [ "$demo_writer" = 1 ]; then
  writing=$'\n  a new demo order is committed every second'
elif [ -n "$cluster" ]; then
  change="psql \"$DELTASTREAM_PG\" -c \"INSERT INTO orders (customer, total) VALUES ('ada', 1.00)\""
fi
cat <<MSG

deltastream is running:
  HTTP       $url/v1/init   $url/v1/snapshot/data
  WebSocket  ${url/http/ws}/v1/lr/stream?slotName=<slot>
  reader     control ${DELTASTREAM_CONTROL:-tcp://127.0.0.1:5590}, data ${DELTASTREAM_PUBLISH:-tcp://127.0.0.1:5591}$writing

Try, in another terminal (websocat, python3 -m websockets, or any WebSocket client):
  slot=\$(curl -s $url/v1/init | sed 's/.*"slotName":"\([^"]*\)".*/\1/'); echo \$slot
  curl -s $url/v1/snapshot/data -d '{"slotName":"'\$slot'","table":"$table","offset":0,"limit":100}'
  python3 -m websockets "${url/http/ws}/v1/lr/stream?slotName=\$slot"   # then type {"lsn":"<its nextlsn>"} to ACK
${change:+  $change   # from a third terminal: a change to see
}Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
