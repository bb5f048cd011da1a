#!/usr/bin/env bash
# The two deployments of the README's "Deploying" section, run for real with podman (on
# demand; not part of tests/run.sh or ctest; as root on Debian 12, 20-30 minutes on two cores):
#   tests/deploy/containers.sh [compose|systemd]...   (default: both)
# compose: builds the images and starts deploy/docker-compose.yml with the README's
#   command (podman-compose for docker compose), waits for the gateway's /healthz, loads
#   deploy/demo-schema.sql with the README's `compose exec -T postgres psql`, and runs the
#   README's walk-through through it: /v1/init, a snapshot page, a WebSocket message for
#   an INSERT, its ACK. Then the JetStream output: the README's v2 stream orders_sync
#   created through the gateway, which the jetstream container follows; rows inserted in
#   five transactions with `compose exec -T postgres psql`; read back out of the
#   three-node NATS cluster (nats1's port, published on this host) with a durable
#   consumer (tests/integration's jetstream-read, built on this host): every row exactly
#   once on deltastream.orders_sync.public.<table>, each begin and commit on
#   deltastream.orders_sync._tx, the JetStream stream replicated 3 times, the stream
#   acknowledged to the reader up to the last commit. Then `down -v`.
# systemd: a container with systemd as PID 1 (tests/deploy/systemd.Containerfile, run
#   privileged so that systemd can apply the units' sandboxing), in which the README's
#   systemd steps run as written (sudoedit replaced by sed) against Debian's PostgreSQL
#   with the README's settings fragment; then the walk-through, a reader killed with
#   SIGKILL and restarted by systemd while a consumer reconnects and resumes, and
#   TLS, a token file and CURVE between reader and gateway with the README's drop-ins.
# Needs: apt-get (installs podman, podman-compose, runc, debootstrap, curl,
# python3-websockets, and deploy/build-packages.txt to build jetstream-read unless
# DELTASTREAM_JETSTREAM_READ names a built one), network access to the Debian mirror of
# /etc/apt/sources.list.d.
# Base images are not pulled: debian:bookworm and debian:bookworm-slim are imported from
# a debootstrap tree (kept, like podman's settings, in $DELTASTREAM_CONTAINERS_STATE).
# Every container and volume it starts is removed on exit. Prints PASS/FAIL per check
# and exits non-zero on any failure.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
state=${DELTASTREAM_CONTAINERS_STATE:-/var/tmp/deltastream-containers}
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(compose systemd)

results=()
failed=0
pass() { echo "PASS: $*"; results+=("PASS: $*"); }
fail() { echo "FAIL: $*"; results+=("FAIL: $*"); failed=$((failed + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  echo "--- $what"
  if "$@"; then pass "$what"; else fail "$what"; fi
}
step() { echo; echo "=== $*"; }
wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 2
  done
}
summary() {
  echo
  echo "=== summary"
  printf '%s\n' "${results[@]}"
  echo "$(( ${#results[@]} - failed )) passed, $failed failed"
}

[ "$(id -u)" -eq 0 ] || { echo "run as root (podman, apt-get)"; exit 1; }

# --- podman, its settings and the base images (idempotent) --------------------------
step "setup"
needed=()
for package in podman podman-compose runc debootstrap curl python3-websockets; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    needed+=("$package")
done
if [ ${#needed[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}" ||
    { echo "cannot install ${needed[*]}"; exit 1; }
fi
mkdir -p "$state"
# No ulimits copied from the host (podman's default fails where the host's are odd), no
# systemd on the host to manage cgroups, runc rather than crun.
cat >"$state/containers.conf" <<'EOF'
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
EOF
export CONTAINERS_CONF=$state/containers.conf
if ! podman image exists debian:bookworm || ! podman image exists debian:bookworm-slim; then
  rootfs=$state/rootfs
  if [ ! -e "$rootfs/.complete" ]; then
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian \
      >"$state/debootstrap.log" 2>&1 || { tail "$state/debootstrap.log"; exit 1; }
    # The host's apt sources and settings, so that apt-get in the images uses its mirror.
    rm -f "$rootfs/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/*.sources "$rootfs/etc/apt/sources.list.d/"
    cp /etc/apt/sources.list.d/*.list "$rootfs/etc/apt/sources.list.d/" 2>/dev/null || true
    [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$rootfs/etc/apt/"
    for conf in /etc/apt/apt.conf.d/*; do
      grep -q 'Acquire::' "$conf" && cp "$conf" "$rootfs/etc/apt/apt.conf.d/"
    done
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    touch "$rootfs/.complete"
  fi
  tar -C "$rootfs" --exclude=./.complete -c . | podman import - debian:bookworm >/dev/null &&
    podman tag debian:bookworm debian:bookworm-slim || { echo "podman import failed"; exit 1; }
fi
echo "podman $(podman version --format '{{.Client.Version}}'), $(podman-compose version 2>/dev/null | grep -m1 podman-compose)"
build_flags=(--network=host --pull=never)

compose_file=$root/deploy/docker-compose.yml
compose=(podman-compose --podman-build-args "${build_flags[*]}" -f "$compose_file")
systemd_container=deltastream-systemd-check
cleanup() {
  if [ -n "${compose_up_pid:-}" ]; then
    (cd "$root" && "${compose[@]}" down -v) >>"$state/compose-down.log" 2>&1
    kill "$compose_up_pid" 2>/dev/null
    wait "$compose_up_pid" 2>/dev/null
  fi
  if [ -n "${DELTASTREAM_KEEP_CONTAINER:-}" ]; then
    echo "kept: $systemd_container (podman rm -f $systemd_container)"
  else
    podman rm -f -t 5 "$systemd_container" >/dev/null 2>&1
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the walk-through (shared by both parts) ------------------------------------------
# walk_through RUN BASE [CURL_FLAGS...]: RUN runs a command where the gateway's URL BASE
# answers (on this host, or `podman exec` into a container); fills $slot.
walk_through() {
  local run=$1 base=$2; shift 2
  local answer rows
  answer=$($run curl -sS "$@" "$base/v1/init")
  echo "GET /v1/init: $answer"
  slot=$(sed -n 's/^{"slotName":"\(delta_[a-z0-9_]*\)"}$/\1/p' <<<"$answer")
  if [ -n "$slot" ]; then pass "$label: /v1/init answers {\"slotName\":\"delta_...\"}"; else
    fail "$label: /v1/init answers {\"slotName\":\"delta_...\"}"; return 1; fi
  rows=$($run curl -sS "$@" "$base/v1/snapshot/data" -d "{\"slotName\": \"$slot\",
    \"table\": \"public.orders\", \"offset\": 0, \"limit\": 100,
    \"order_by\": {\"column\": \"id\", \"order\": \"ASC\"}}")
  echo "POST /v1/snapshot/data: $rows"
  if grep -q '^\[{"id":1,"customer":"ada"' <<<"$rows"; then
    pass "$label: /v1/snapshot/data answers the demo rows"
  else
    fail "$label: /v1/snapshot/data answers the demo rows"
  fi
}

# --- the JetStream output (compose) ----------------------------------------------------
# jetstream_read_tool: sets $jetstream_read, tests/integration's JetStream client: the one
# DELTASTREAM_JETSTREAM_READ names, or the target built on this host. It reads from the
# NATS containers through nats1's client port, which the compose file publishes here.
jetstream_read_tool() {
  jetstream_read=${DELTASTREAM_JETSTREAM_READ:-}
  if [ -n "$jetstream_read" ]; then
    [ -x "$jetstream_read" ] || { echo "DELTASTREAM_JETSTREAM_READ=$jetstream_read: not executable"; return 1; }
    return 0
  fi
  local dir=$state/jetstream-read-build
  # CMake refuses a build directory configured from another checkout.
  if [ -f "$dir/CMakeCache.txt" ] &&
     ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$root" "$dir/CMakeCache.txt"; then
    rm -rf "$dir"
  fi
  { "$root/deploy/install-packages.sh" "$root/deploy/build-packages.txt" &&
    cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DDELTASTREAM_BENCH=OFF &&
    cmake --build "$dir" --target jetstream-read -j"$(nproc)"
  } >"$state/jetstream-read-build.log" 2>&1 || { tail -30 "$state/jetstream-read-build.log"; return 1; }
  jetstream_read=$dir/tests/jetstream-read
}
compose_psql() {  # SQL on stdin or in -c arguments, the way the README loads the demo tables
  (cd "$root" && "${compose[@]}" exec -T postgres psql -v ON_ERROR_STOP=1 -q -U postgres -d app "$@")
}
service_container() { podman ps -q --filter "label=com.docker.compose.service=$1" | head -1; }
show_jetstream_log() {
  local id
  id=$(podman ps -aq --filter label=com.docker.compose.service=jetstream | head -1)
  [ -n "$id" ] || return 0
  echo "--- podman logs jetstream (last 30 lines)"
  podman logs --tail 30 "$id" 2>&1
}
js_info() { "$jetstream_read" --servers "$nats_servers" --stream DELTASTREAM --info --error-budget-ms 5000; }
js_holds() {  # js_holds N: the JetStream stream holds N messages or more
  local info
  info=$(js_info) || return 1
  /usr/bin/python3 -c 'import json, sys; sys.exit(json.loads(sys.argv[1])["messages"] < int(sys.argv[2]))' "$info" "$1"
}
acked_up_to() {  # acked_up_to STREAM LSN: GET /v2/streams/STREAM says acked_lsn >= LSN
  local view
  view=$(curl -sf "$base/v2/streams/$1") || return 1
  /usr/bin/python3 -c 'import json, sys
def lsn(text):
    high, low = text.split("/")
    return int(high, 16) << 32 | int(low, 16)
sys.exit(lsn(json.loads(sys.argv[1])["acked_lsn"]) < lsn(sys.argv[2]))' "$view" "$2"
}

# The README's v2 stream, created through the gateway; the compose file's jetstream
# service follows it (DELTASTREAM_JETSTREAM_FOLLOW, orders_sync) and publishes into the
# NATS containers; read back through nats1 with a durable consumer.
jetstream_walk_through() {
  local stream=orders_sync first=1001 count=50 transactions=5 durable=containers-check
  # (The jetstream container is judged below, by holding the stream: until the stream
  # exists it may be between an exit and its restart.)
  local node
  for node in nats1 nats2 nats3; do
    if [ -n "$(service_container $node)" ]; then pass "compose: the $node container runs"; else
      fail "compose: the $node container runs"; fi
  done
  [ -n "$jetstream_read" ] || { fail "compose: JetStream read-back (no jetstream-read)"; return 1; }
  # A v2 stream is a publication: the reader's role needs CREATE on the database and to
  # own its tables (README, "The native API"), and the demo tables are postgres's.
  check "compose: deltastream may publish the demo tables (CREATE on app, owner of orders and customers)" \
    compose_psql -c "GRANT CREATE ON DATABASE app TO deltastream" \
      -c "ALTER TABLE customers OWNER TO deltastream" -c "ALTER TABLE orders OWNER TO deltastream" </dev/null
  local answer code
  answer=$(curl -sS -w '\n%{http_code}' "$base/v2/streams" -d '{"name": "orders_sync", "tables": [{"table": "public.orders", "columns": ["id", "customer", "total"], "where": "id > 1"}, {"table": "customers"}]}')
  code=${answer##*$'\n'}
  echo "POST /v2/streams: ${answer%$'\n'*}"
  if [ "$code" = 201 ]; then pass "compose: POST /v2/streams creates $stream (201)"; else
    fail "compose: POST /v2/streams creates $stream (201, got $code)"; return 1; fi
  # The jetstream container retries until the stream exists, then holds it as its consumer.
  if wait_for 180 bash -c "curl -sf $base/v2/streams/$stream | grep -qF '\"consumer\":{\"connected\":true}'"; then
    pass "compose: the jetstream container follows $stream as its consumer (GET /v2/streams/$stream)"
  else
    echo "GET /v2/streams/$stream: $(curl -s "$base/v2/streams/$stream")"; show_jetstream_log
    fail "compose: the jetstream container follows $stream as its consumer"; return 1
  fi
  # The JetStream stream, made by deltastream-jetstream, on the three nodes.
  local info
  wait_for 120 js_info
  info=$(js_info 2>&1)
  echo "JetStream stream DELTASTREAM: $info"
  if grep -q '"replicas":3' <<<"$info" && grep -qE '"leader":"nats[123]"' <<<"$info" &&
     grep -qF '"subjects":["deltastream.>"]' <<<"$info"; then
    pass "compose: JetStream stream DELTASTREAM on deltastream.>, 3 replicas, led by one of nats1-3"
  else
    show_jetstream_log; fail "compose: JetStream stream DELTASTREAM on deltastream.>, 3 replicas"; return 1
  fi

  # Numbered rows, total = first .. first+count-1, in `transactions` transactions; the
  # first one adds a customer too, so that a transaction spans two tables' subjects.
  local per=$((count / transactions)) t from
  for ((t = 0; t < transactions; t++)); do
    from=$((first + t * per))
    echo "BEGIN;"
    [ $t -eq 0 ] && echo "INSERT INTO customers (name, email) VALUES ('jet', 'jet@example.com');"
    echo "INSERT INTO orders (customer, total) SELECT 'jet', n FROM generate_series($from, $((from + per - 1))) n;"
    echo "COMMIT;"
  done >"$state/jetstream-rows.sql"
  check "compose: $count rows in $transactions transactions (compose exec -T postgres psql)" \
    compose_psql <"$state/jetstream-rows.sql"
  # Every row, a begin and a commit a transaction.
  local expected=$((count + 1 + 2 * transactions))
  if wait_for 120 js_holds $expected; then pass "compose: JetStream holds $expected messages"; else
    echo "JetStream stream DELTASTREAM: $(js_info 2>&1)"; show_jetstream_log
    fail "compose: JetStream holds $expected messages"
  fi
  local messages=$state/jetstream-messages.jsonl status
  "$jetstream_read" --servers "$nats_servers" --stream DELTASTREAM --durable $durable --idle-ms 3000 \
    >"$messages" 2>"$state/jetstream-read.log"
  status=$?
  echo "jetstream-read --durable $durable: exit $status, $(wc -l <"$messages") messages ($messages)"
  [ $status -eq 0 ] || cat "$state/jetstream-read.log"
  check "compose: read back from NATS: each row once on deltastream.$stream.public.orders, begin and commit on deltastream.$stream._tx" \
    /usr/bin/python3 "$root/tests/deploy/jetstream_messages.py" "$messages" --stream $stream \
      --table public.orders --column total --first $first --count $count \
      --transactions $transactions --extra public.customers=1
  local again
  again=$("$jetstream_read" --servers "$nats_servers" --stream DELTASTREAM --durable $durable --idle-ms 2000 | wc -l)
  if [ "$again" -eq 0 ]; then pass "compose: the durable consumer acknowledged everything (a second read gets nothing)"; else
    fail "compose: the durable consumer acknowledged everything (a second read got $again messages)"; fi
  # A transaction is acknowledged to the reader once JetStream stored it: up to the last commit.
  local last_commit
  last_commit=$(/usr/bin/python3 -c 'import json, sys
events = [json.loads(json.loads(line)["data"]) for line in open(sys.argv[1]) if line.strip()]
print([e["lsn"] for e in events if e.get("op") == "commit"][-1])' "$messages" 2>/dev/null)
  if [ -n "$last_commit" ] && wait_for 60 acked_up_to $stream "$last_commit"; then
    pass "compose: $stream acknowledged to the reader up to the last commit ($last_commit)"
  else
    echo "GET /v2/streams/$stream: $(curl -s "$base/v2/streams/$stream")"
    fail "compose: $stream acknowledged to the reader up to the last commit (${last_commit:-none read})"
  fi
}

# ======================================================================================
compose_part() {
  label=compose
  step "compose: jetstream-read, the JetStream client the check reads with"
  if jetstream_read_tool; then pass "compose: jetstream-read ($jetstream_read)"; else
    jetstream_read=; fail "compose: jetstream-read built (log: $state/jetstream-read-build.log)"; fi
  step "compose: build and up (${compose[*]} up --build)"
  # The gateway and nats1 on free ports of this host (12312 and 4222 may be taken): the
  # compose file publishes them on DELTASTREAM_HOST_PORT and DELTASTREAM_NATS_HOST_PORT.
  local port nats_port
  read -r port nats_port < <(/usr/bin/python3 -c 'import socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in sockets))')
  export DELTASTREAM_HOST_PORT=$port DELTASTREAM_NATS_HOST_PORT=$nats_port
  # The compose file's default, here whatever the calling shell has.
  export DELTASTREAM_JETSTREAM_FOLLOW=orders_sync
  base=localhost:$port
  nats_servers=nats://127.0.0.1:$nats_port
  (cd "$root" && exec "${compose[@]}" up --build) >"$state/compose-up.log" 2>&1 &
  compose_up_pid=$!
  # Ours: the gateway container publishes the port, and answers /healthz on it.
  if wait_for 1800 bash -c "podman ps --filter label=com.docker.compose.service=gateway --format '{{.Ports}}' |
                            grep -q ':$port->' && curl -sf $base/healthz"; then
    pass "compose: images built, the gateway container answers /healthz on $base: $(curl -s $base/healthz)"
  else
    tail -40 "$state/compose-up.log"
    fail "compose: images built, the gateway container answers /healthz"; return
  fi
  local postgres
  postgres=$(podman ps -q --filter label=com.docker.compose.service=postgres | head -1)
  [ -n "$postgres" ] || { fail "compose: the postgres container runs"; return; }
  check "compose: PostgreSQL accepts connections over TCP" \
    wait_for 120 podman exec "$postgres" pg_isready --host 127.0.0.1 --username postgres
  # The README's command for the walk-through's tables.
  check "compose: demo tables loaded (compose exec -T postgres psql … < deploy/demo-schema.sql)" \
    bash -c "cd '$root' && ${compose[*]@Q} exec -T postgres psql -U postgres -d app < deploy/demo-schema.sql"
  check "compose: /readyz says the reader and PostgreSQL answer" \
    wait_for 120 bash -c "curl -sf $base/readyz | grep -q '\"reader\":true,\"postgres\":true'"
  echo "GET /readyz: $(curl -s $base/readyz)"
  walk_through "" "$base" || return
  check "compose: WebSocket message for a committed INSERT, then ACK" \
    /usr/bin/python3 "$root/tests/deploy/ws_client.py" "ws://$base/v1/lr/stream?slotName=$slot" \
      compose-walk-through podman exec "$postgres" psql -q -U postgres -d app -c \
      "INSERT INTO orders (customer, total, meta) VALUES ('cy', 1.25, '{\"note\":\"compose-walk-through\"}')"
  step "compose: the JetStream output (v2 stream -> jetstream container -> NATS cluster)"
  jetstream_walk_through
  step "compose: down -v"
  (cd "$root" && "${compose[@]}" down -v) >"$state/compose-down.log" 2>&1
  wait "$compose_up_pid" 2>/dev/null
  compose_up_pid=
  if [ -z "$(podman ps -aq --filter label=io.podman.compose.project=deploy)" ]; then
    pass "compose: down -v removed every container"
  else
    fail "compose: down -v removed every container"
  fi
}

# ======================================================================================
in_box() { podman exec -i "$systemd_container" "$@"; }
# The README's systemd steps, taken from the README itself: the first sh block of
# "## Deploying", with the sudoedit line (interactive) done by sed.
readme_sh_block() {  # readme_sh_block N: the Nth sh block of the README's "## Deploying"
  awk -v wanted="$1" '/^## / { section = ($0 == "## Deploying") } section && /^```sh/ { n++; block = 1; next }
       block && /^```/ { block = 0; if (n == wanted) exit } block && n == wanted { print }' "$root/README.md"
}
set_pg_instead_of_sudoedit() {
  local pg="host=127.0.0.1 port=5432 user=deltastream password=deltastream dbname=app"
  echo "sed -i 's|^#\\?DELTASTREAM_PG=.*|DELTASTREAM_PG=$pg|' /etc/deltastream/reader.env /etc/deltastream/gateway.env"
}
units_active() {  # both units active (is-active with two units passes when one is)
  local unit ok=0
  for unit in deltastream-reader deltastream-gateway; do
    [ "$(in_box systemctl is-active $unit)" = active ] ||
      { echo "  $unit: $(in_box systemctl is-active $unit)"; ok=1; }
  done
  return $ok
}
show_journals() {
  local unit
  for unit in deltastream-reader deltastream-gateway; do
    echo "--- journalctl -u $unit (last 15 lines)"
    in_box journalctl -u $unit --no-pager -n 15
  done
}
box_psql() { in_box runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q "$@"; }

systemd_part() {
  label=systemd
  step "systemd: image (tests/deploy/systemd.Containerfile)"
  if podman build "${build_flags[@]}" -f "$root/tests/deploy/systemd.Containerfile" \
       -t deltastream-systemd-check "$root" >"$state/systemd-image.log" 2>&1; then
    pass "systemd: image built"
  else
    tail -30 "$state/systemd-image.log"; fail "systemd: image built"; return
  fi
  podman rm -f "$systemd_container" >/dev/null 2>&1
  podman run -d --name "$systemd_container" --systemd=always --privileged --pull=never \
    deltastream-systemd-check >/dev/null || { fail "systemd: container started"; return; }
  local status
  wait_for 180 bash -c "podman exec $systemd_container systemctl is-system-running | grep -qE '^(running|degraded)$'"
  status=$(in_box systemctl is-system-running)
  if [ "$status" = running ] || [ "$status" = degraded ]; then
    pass "systemd: PID 1 is up ($status)"
    [ "$status" = degraded ] && in_box systemctl --failed --no-legend
  else
    fail "systemd: PID 1 is up ($status)"; return
  fi

  step "systemd: the README's steps (build, install, env files, enable --now)"
  in_box mkdir -p /root/deltastream
  tar -C "$root" -c CMakeLists.txt common proto reader gateway deploy README.md |
    in_box tar -C /root/deltastream -x
  in_box install -m 755 /dev/stdin /usr/local/bin/ws_client.py <"$root/tests/deploy/ws_client.py"
  local line
  { echo "set -ex; cd /root/deltastream"
    readme_sh_block 1 | while IFS= read -r line; do
      if [[ $line == sudoedit* ]]; then set_pg_instead_of_sudoedit; else echo "$line"; fi
    done
  } >"$state/readme-systemd-steps.sh"
  cat "$state/readme-systemd-steps.sh"
  if in_box bash <"$state/readme-systemd-steps.sh" >"$state/readme-systemd-steps.log" 2>&1; then
    pass "systemd: the README's steps ran (log: $state/readme-systemd-steps.log)"
  else
    tail -30 "$state/readme-systemd-steps.log"; fail "systemd: the README's steps ran"; return
  fi

  step "systemd: PostgreSQL with the README's settings fragment, demo tables"
  readme_sh_block 2 >"$state/readme-postgresql-steps.sh"
  cat "$state/readme-postgresql-steps.sh"
  in_box bash -ex <"$state/readme-postgresql-steps.sh" || { fail "systemd: the README's PostgreSQL steps ran"; return; }
  wait_for 60 in_box runuser -u postgres -- pg_isready -q
  box_psql -c "CREATE ROLE deltastream LOGIN REPLICATION PASSWORD 'deltastream'" \
           -c "GRANT pg_read_all_data TO deltastream" -c "CREATE DATABASE app"
  box_psql -d app <"$root/deploy/demo-schema.sql"
  check "systemd: wal_level is logical" \
    bash -c "[ \"\$(podman exec $systemd_container runuser -u postgres -- psql -tAc 'SHOW wal_level')\" = logical ]"

  check "systemd: deltastream-reader and deltastream-gateway active" units_active
  check "systemd: the gateway answers /healthz" \
    wait_for 60 in_box curl -sf localhost:12312/healthz
  check "systemd: /readyz says the reader and PostgreSQL answer" \
    wait_for 60 in_box bash -c "curl -sf localhost:12312/readyz | grep -q '\"reader\":true,\"postgres\":true'"
  walk_through in_box localhost:12312 || return
  local insert="runuser -u postgres -- psql -q -d app -c"
  check "systemd: WebSocket message for a committed INSERT, then ACK" \
    in_box ws_client.py "ws://localhost:12312/v1/lr/stream?slotName=$slot" systemd-first \
      $insert "INSERT INTO orders (customer, total, meta) VALUES ('cy', 2, '{\"note\":\"systemd-first\"}')"

  step "systemd: SIGKILL to the reader"
  local pid_before pid_after restarts
  pid_before=$(in_box systemctl show -P MainPID deltastream-reader)
  in_box systemctl kill -s SIGKILL deltastream-reader
  wait_for 60 bash -c "[ \"\$(podman exec $systemd_container systemctl show -P NRestarts deltastream-reader)\" -ge 1 ] &&
                       podman exec $systemd_container systemctl is-active deltastream-reader"
  pid_after=$(in_box systemctl show -P MainPID deltastream-reader)
  restarts=$(in_box systemctl show -P NRestarts deltastream-reader)
  echo "MainPID $pid_before -> $pid_after, NRestarts=$restarts"
  if [ "$restarts" -ge 1 ] && [ "$pid_after" != "$pid_before" ] && [ "$pid_after" != 0 ]; then
    pass "systemd: reader killed with SIGKILL, restarted by systemd (NRestarts=$restarts, MainPID $pid_before -> $pid_after)"
  else
    fail "systemd: reader killed with SIGKILL, restarted by systemd"
  fi
  check "systemd: a consumer reconnects and resumes (a new INSERT arrives, the ACKed one does not)" \
    in_box ws_client.py --deadline 90 --not-again systemd-first \
      "ws://localhost:12312/v1/lr/stream?slotName=$slot" systemd-after-restart \
      $insert "INSERT INTO orders (customer, total, meta) VALUES ('cy', 3, '{\"note\":\"systemd-after-restart\"}')"

  # A certificate and a token file of the script's own, then the README's third block.
  step "systemd: TLS, a token file and CURVE (the README's drop-ins)"
  local admin=admin-0123456789abcdef read=read-0123456789abcdef
  in_box bash -ex <<EOF >"$state/systemd-secure.log" 2>&1
cd /etc/deltastream
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout gateway-tls.key -out gateway-tls.crt
chmod 600 gateway-tls.key; chmod 644 gateway-tls.crt
printf 'admin $admin\nread $read\n' >tokens; chmod 600 tokens
$(readme_sh_block 3)
ls -l /etc/deltastream /run/credentials || true
EOF
  local secure_status=$?
  cat "$state/systemd-secure.log"
  [ $secure_status -eq 0 ] || { fail "systemd: TLS, tokens and CURVE set up"; return; }
  check "systemd: both units active with TLS, tokens and CURVE" wait_for 30 units_active
  local cacert=(--cacert /etc/deltastream/gateway-tls.crt)
  check "systemd: https /healthz" wait_for 60 in_box curl -sf "${cacert[@]}" https://localhost:12312/healthz
  check "systemd: https /readyz with CURVE between reader and gateway (reader: true)" \
    wait_for 60 in_box bash -c "curl -sf ${cacert[*]} https://localhost:12312/readyz | grep -q '\"reader\":true,\"postgres\":true'"
  local code
  code=$(in_box curl -s -o /dev/null -w '%{http_code}' "${cacert[@]}" https://localhost:12312/v1/init)
  if [ "$code" = 401 ]; then pass "systemd: /v1/init without a token: 401"; else
    fail "systemd: /v1/init without a token: 401 (got $code)"; fi
  walk_through in_box https://localhost:12312 "${cacert[@]}" -H "Authorization: Bearer $admin" || return
  check "systemd: wss WebSocket with a read token: message for an INSERT, then ACK" \
    in_box ws_client.py --cafile /etc/deltastream/gateway-tls.crt --token "$read" \
      "wss://localhost:12312/v1/lr/stream?slotName=$slot" systemd-tls \
      $insert "INSERT INTO orders (customer, total, meta) VALUES ('cy', 4, '{\"note\":\"systemd-tls\"}')"
  local journal
  journal=$(in_box journalctl -u deltastream-gateway --no-pager -o cat)
  echo "$journal" | grep 'listening on' | tail -2
  if grep -q 'listening on https://' <<<"$journal"; then
    pass "systemd: journalctl -u deltastream-gateway shows 'listening on https://…'"
  else
    fail "systemd: journalctl -u deltastream-gateway shows 'listening on https://…'"
  fi
  echo "reader's journal, last lines:"
  in_box journalctl -u deltastream-reader --no-pager -o cat | tail -5
}

for part in "${parts[@]}"; do
  case $part in
    compose) compose_part ;;
    systemd) systemd_part; show_journals 2>/dev/null ;;
    *) echo "unknown part: $part (compose, systemd)"; exit 2 ;;
  esac
done
summary
[ "$failed" -eq 0 ]
