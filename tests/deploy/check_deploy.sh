#!/usr/bin/env bash
# The deploy/ files, checked without PostgreSQL or a Docker engine:
#   tests/deploy/check_deploy.sh BUILD_DIR   (a finished build; ctest passes its own)
# 1. `cmake --install` into a temporary prefix, and with DESTDIR under /usr: binaries,
#    units, example env files and the PostgreSQL fragment land where they belong, and
#    each unit's ExecStart= names the installed binary (the prefix, never DESTDIR).
# 2. `systemd-analyze verify` on the installed units: any complaint fails, since it
#    exits 0 on an unknown key or a bad value and only prints a warning (a broken unit
#    is verified too, to prove it is caught); `systemd-analyze security`: exposure ≤ 2.0.
# 3. `docker-compose config -q` on deploy/docker-compose.yml, then what the services
#    need to reach each other: the gateway on 0.0.0.0 and published, the reader bound on
#    0.0.0.0 and the gateway and the JetStream output connecting to it by name, the
#    output naming all three NATS nodes with 3 replicas, the nodes each with its own name
#    and store, routed to each other by deploy/nats/nats-server.conf (which nats-server
#    -t accepts), only nats1's client port published and on loopback, a healthcheck on
#    every service that listens.
# 4. The Dockerfile installs through deploy/install-packages.sh from
#    deploy/build-packages.txt (build) and deploy/runtime-packages.txt (runtime), copies
#    every installed program, the build list is part of deploy/packages.txt, and the
#    runtime list is exactly the packages of the libraries the binaries link;
#    deploy/nats.Dockerfile is built on debian:bookworm-slim too.
# 5. The example env files name exactly the variables the programs read (their --help).
set -uo pipefail
build=${1:?usage: $0 BUILD_DIR}
build=$(cd "$build" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
deploy=$root/deploy

passed=0 failed=0
pass() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAILED: $*"; failed=$((failed + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

programs=(deltastream-reader deltastream-gateway deltastream-tail deltastream-jetstream)

for tool in cmake systemd-analyze docker-compose readelf dpkg; do
  command -v "$tool" >/dev/null ||
    { echo "FAILED: $tool is missing: run deploy/install-packages.sh"; exit 1; }
done

tmp=$(mktemp -d /tmp/deltastream-deploy.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# --- 1. install -----------------------------------------------------------------------
installed() {  # installed ROOT: every file in its place
  local dir=$1 missing=0 file
  for file in "${programs[@]/#/bin/}"; do
    [ -x "$dir/$file" ] || { echo "  not installed (or not executable): $dir/$file"; missing=1; }
  done
  for file in lib/systemd/system/deltastream-reader.service \
              lib/systemd/system/deltastream-gateway.service \
              share/deltastream/reader.env share/deltastream/gateway.env \
              share/deltastream/postgresql.conf.d/deltastream.conf; do
    [ -f "$dir/$file" ] || { echo "  not installed: $dir/$file"; missing=1; }
  done
  return $missing
}
exec_start_is() {  # exec_start_is UNIT_DIR BINDIR: ExecStart= and nothing left unsubstituted
  local units=$1 bindir=$2 name ok=0
  for name in reader gateway; do
    grep -qx "ExecStart=$bindir/deltastream-$name" "$units/deltastream-$name.service" ||
      { echo "  $units/deltastream-$name.service: ExecStart= is not $bindir/deltastream-$name"; ok=1; }
    if grep -n '@[A-Z_]*@' "$units/deltastream-$name.service"; then ok=1; fi
  done
  return $ok
}

prefix=$tmp/prefix
if cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
  pass "cmake --install --prefix $prefix"
else
  cat "$tmp/install.log"; fail "cmake --install --prefix"
fi
check "binaries, units, env files and fragment under the prefix" installed "$prefix"
check "ExecStart= names the binaries under the prefix" \
  exec_start_is "$prefix/lib/systemd/system" "$prefix/bin"

if DESTDIR=$tmp/destdir cmake --install "$build" --prefix /usr >"$tmp/install.log" 2>&1; then
  pass "DESTDIR=… cmake --install --prefix /usr"
else
  cat "$tmp/install.log"; fail "DESTDIR=… cmake --install --prefix /usr"
fi
check "everything under DESTDIR/usr" installed "$tmp/destdir/usr"
check "ExecStart= names /usr/bin, not DESTDIR" \
  exec_start_is "$tmp/destdir/usr/lib/systemd/system" /usr/bin

# --- 2. systemd -----------------------------------------------------------------------
verify_clean() {  # verify_clean UNIT...: exit status 0 and not a word of complaint
  local out
  out=$(systemd-analyze verify "$@" 2>&1)
  local status=$?
  [ -n "$out" ] && echo "$out"
  [ $status -eq 0 ] && [ -z "$out" ]
}
units=$prefix/lib/systemd/system
check "systemd-analyze verify deltastream-reader.service" verify_clean "$units/deltastream-reader.service"
check "systemd-analyze verify deltastream-gateway.service" verify_clean "$units/deltastream-gateway.service"
# The check itself: a misspelt key and a bad value, each of which systemd only warns about.
mkdir -p "$tmp/broken"
sed 's/^ProtectSystem=/ProtectSytem=/' "$units/deltastream-reader.service" >"$tmp/broken/a.service"
sed 's/^Restart=on-failure/Restart=sometimes/' "$units/deltastream-reader.service" >"$tmp/broken/b.service"
for unit in a b; do
  if verify_clean "$tmp/broken/$unit.service" >/dev/null; then
    fail "a broken unit ($unit.service) passed verification"
  else
    pass "a broken unit ($unit.service) is caught"
  fi
done
sandboxed() {  # exposure 2.0 or less ("OK" in systemd's words; the threshold is ×10)
  local out
  out=$(systemd-analyze security --offline=yes --threshold=20 "$1" 2>&1) && return 0
  grep -v '✓' <<<"$out" | sed 's/^/  /'
  return 1
}
for name in reader gateway; do
  check "systemd-analyze security deltastream-$name.service: exposure ≤ 2.0" \
    sandboxed "$units/deltastream-$name.service"
done

# --- 3. compose -----------------------------------------------------------------------
compose=$deploy/docker-compose.yml
if docker-compose -f "$compose" config -q; then
  pass "docker-compose config -q"
else
  fail "docker-compose config -q"
fi
compose_wiring() {
  docker-compose -f "$compose" config >"$tmp/compose.yml" || return 1
  /usr/bin/python3 - "$tmp/compose.yml" <<'PY'
import sys, yaml
services = yaml.safe_load(open(sys.argv[1]))["services"]
problems = []
def expect(ok, what):
    if not ok: problems.append(what)
reader, gateway = services["reader"]["environment"], services["gateway"]["environment"]
expect(reader.get("DELTASTREAM_CONTROL", "").startswith("tcp://0.0.0.0:"), "reader control not bound on 0.0.0.0")
expect(reader.get("DELTASTREAM_PUBLISH", "").startswith("tcp://0.0.0.0:"), "reader publish not bound on 0.0.0.0")
expect(gateway.get("DELTASTREAM_CONTROL", "").startswith("tcp://reader:"), "gateway control not tcp://reader:…")
expect(gateway.get("DELTASTREAM_PUBLISH", "").startswith("tcp://reader:"), "gateway publish not tcp://reader:…")
expect(gateway.get("SERVERHOST") == "0.0.0.0", "gateway SERVERHOST is not 0.0.0.0")
def container_port(port):  # "127.0.0.1:12312:12312" (compose v1) or {"target": 12312}
    return str(port["target"]) if isinstance(port, dict) else port.split("/")[0].split(":")[-1]
expect("12312" in map(container_port, services["gateway"].get("ports", [])),
       "gateway port 12312 not published")
nats_nodes = ("nats1", "nats2", "nats3")
for name in ("postgres", "reader", "gateway") + nats_nodes:
    expect("healthcheck" in services[name], f"{name} has no healthcheck")
expect("pg_isready" in services["postgres"]["healthcheck"]["test"], "postgres healthcheck is not pg_isready")
expect("/healthz" in " ".join(services["gateway"]["healthcheck"]["test"]), "gateway healthcheck does not GET /healthz")
for name in ("reader", "gateway", "jetstream"):
    expect(services[name]["build"]["dockerfile"] == "deploy/Dockerfile", f"{name} is not built from deploy/Dockerfile")
# The JetStream output: the reader by name, every NATS node, a replicated stream.
output = services["jetstream"]
jetstream = output["environment"]
expect(output.get("command") == ["deltastream-jetstream"], "jetstream does not run deltastream-jetstream")
expect(jetstream.get("DELTASTREAM_CONTROL", "").startswith("tcp://reader:"), "jetstream control not tcp://reader:…")
expect(jetstream.get("DELTASTREAM_PUBLISH", "").startswith("tcp://reader:"), "jetstream publish not tcp://reader:…")
expect(jetstream.get("DELTASTREAM_JETSTREAM_FOLLOW"), "jetstream follows no stream")
expect(sorted(jetstream.get("DELTASTREAM_NATS_SERVERS", "").split(",")) ==
       [f"nats://{name}:4222" for name in nats_nodes], "jetstream does not name nats1, nats2, nats3 on 4222")
expect(str(jetstream.get("DELTASTREAM_JETSTREAM_REPLICAS")) == "3", "the JetStream stream is not replicated 3 times")
expect(set(nats_nodes) | {"reader"} <= set(output.get("depends_on", [])), "jetstream does not wait for the reader and NATS")
expect("restart" in output, "jetstream has no restart policy")
# The NATS nodes: one image, each its own name (the host name the routes use) and store,
# only nats1's client port published, on loopback.
stores = set()
for name in nats_nodes:
    node = services[name]
    expect(node["build"]["dockerfile"] == "deploy/nats.Dockerfile", f"{name} is not built from deploy/nats.Dockerfile")
    expect(node.get("environment", {}).get("NATS_SERVER_NAME") == name, f"{name}'s NATS_SERVER_NAME is not {name}")
    volumes = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in node.get("volumes", [])]
    store = [v.split(":")[0] for v in volumes if v.split(":")[1] == "/var/lib/nats"]
    expect(len(store) == 1, f"{name} has no volume on /var/lib/nats")
    stores.update(store)
    expect("/healthz" in " ".join(node.get("healthcheck", {}).get("test", [])), f"{name} healthcheck does not GET /healthz")
    expect(not set(node.get("depends_on", [])) & set(nats_nodes),
           f"{name} waits for another node: a node is healthy only once two of them are up")
expect(len(stores) == 3, "the NATS nodes do not have a store each")
def published(port):  # "127.0.0.1:4222:4222/tcp" (compose v1) or {"host_ip": …, "target": …}
    return (port.get("host_ip", ""), str(port["target"])) if isinstance(port, dict) else \
           (port.split(":")[0] if port.count(":") == 2 else "", container_port(port))
expect(list(map(published, services["nats1"].get("ports", []))) == [("127.0.0.1", "4222")],
       "nats1 does not publish exactly its client port, on 127.0.0.1")
for name in ("nats2", "nats3"):
    expect(not services[name].get("ports"), f"{name} publishes a port")
for problem in problems: print("  " + problem)
sys.exit(1 if problems else 0)
PY
}
check "compose: services wired to each other, healthchecks, gateway published" compose_wiring
nats_conf=$deploy/nats/nats-server.conf
nats_routes() {  # every node is routed to by its service name, on the cluster port
  local name ok=0
  for name in nats1 nats2 nats3; do
    grep -q "nats-route://$name:6222" "$nats_conf" || { echo "  $nats_conf: no route to $name"; ok=1; }
  done
  grep -qxF "server_name: \$NATS_SERVER_NAME" "$nats_conf" || { echo "  $nats_conf: server_name is not \$NATS_SERVER_NAME"; ok=1; }
  return $ok
}
check "compose: deploy/nats/nats-server.conf: routes to nats1, nats2, nats3, server_name \$NATS_SERVER_NAME" nats_routes
nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)  # Debian's is in /usr/sbin
nats_config_valid() {  # quiet unless it fails (it says "valid" on stderr)
  local out
  out=$(NATS_SERVER_NAME=nats1 "$nats_server" -t -c "$nats_conf" 2>&1) && return 0
  echo "  $out"
  return 1
}
if [ -x "$nats_server" ]; then
  check "nats-server -t accepts deploy/nats/nats-server.conf" nats_config_valid
else
  fail "nats-server is missing: run deploy/install-packages.sh"
fi

# --- 4. Dockerfile and package lists --------------------------------------------------
dockerfile=$deploy/Dockerfile
has() {  # has REGEX...: every one is in the Dockerfile
  local pattern ok=0
  for pattern in "$@"; do
    grep -qE -- "$pattern" "$dockerfile" || { echo "  $dockerfile lacks: $pattern"; ok=1; }
  done
  return $ok
}
lacks() {  # lacks REGEX: not in the Dockerfile
  ! grep -nE -- "$1" "$dockerfile"
}
check "Dockerfile: build stage on debian:bookworm installs deploy/build-packages.txt" \
  has '^FROM debian:bookworm AS build' '^COPY deploy/build-packages.txt deploy/install-packages.sh' \
      '^RUN \./deploy/install-packages.sh deploy/build-packages.txt( |$)'
check "Dockerfile: built without tests or benchmark, installed" \
  has '-DDELTASTREAM_TESTS=OFF' '-DDELTASTREAM_BENCH=OFF' 'cmake --install'
check "Dockerfile: runtime stage on bookworm-slim installs deploy/runtime-packages.txt" \
  has '^FROM debian:bookworm-slim' '^COPY deploy/runtime-packages.txt' \
      'install-packages.sh [^ ]*runtime-packages.txt'
check "Dockerfile: no package installed outside the lists" lacks 'apt-get install'
check "Dockerfile: a non-root user, port 12312" has '^USER [a-z]' '^EXPOSE 12312'
check "Dockerfile: the runtime image has every installed program" \
  has "${programs[@]/#//staging/usr/bin/}"
nats_image() {
  local file=$deploy/nats.Dockerfile pattern ok=0
  for pattern in '^FROM debian:bookworm-slim$' 'apt-get install .*nats-server' \
                 '^COPY deploy/nats/nats-server.conf ' '^USER nats$'; do
    grep -qE -- "$pattern" "$file" || { echo "  $file lacks: $pattern"; ok=1; }
  done
  [ "$(grep -c '^FROM ' "$file")" -eq 1 ] || { echo "  $file: more than one FROM"; ok=1; }
  return $ok
}
check "deploy/nats.Dockerfile: Debian's nats-server on debian:bookworm-slim, not root" nats_image

packages_of_linked_libraries() {  # the Debian packages of what the binaries link directly
  local binary soname path package
  for binary in "${programs[@]/#/$prefix/bin/}"; do
    for soname in $(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      path=$(ldd "$binary" | awk -v name="$soname" '$1 == name { print $3 }')
      # dpkg knows each file under one of /lib and /usr/lib (merged /usr).
      package=$(dpkg -S "$path" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null ||
                dpkg -S "${path#/usr}" 2>/dev/null) || { echo "no package owns $path" >&2; return 1; }
      echo "${package%%:*}"
    done
  done | sort -u
}
runtime_list_matches() {
  local linked listed
  linked=$(packages_of_linked_libraries) || return 1
  # In debian:bookworm-slim already: libc6 is essential, and apt needs the other two.
  linked=$(echo "$linked" | grep -vxE 'libc6|libstdc\+\+6|libgcc-s1')
  listed=$(grep -vE '^\s*(#|$)' "$deploy/runtime-packages.txt" | sort -u)
  [ "$linked" = "$listed" ] && return 0
  diff <(echo "$listed") <(echo "$linked") | sed -n 's/^</  listed, not linked:/p; s/^>/  linked, not listed:/p'
  return 1
}
check "deploy/runtime-packages.txt = the packages of the linked libraries" runtime_list_matches
in_packages() {  # in_packages NAME...: listed in deploy/packages.txt
  local name
  for name in "$@"; do
    grep -vE '^\s*(#|$)' "$deploy/packages.txt" | grep -qx -- "$name" ||
      { echo "  deploy/packages.txt lacks $name"; return 1; }
  done
}
check "deploy/packages.txt has this test's tools" in_packages systemd docker-compose nats-server
# The development list builds everything the image builds.
mapfile -t build_packages < <(grep -vE '^\s*(#|$)' "$deploy/build-packages.txt")
check "deploy/packages.txt has every package of deploy/build-packages.txt" \
  in_packages "${build_packages[@]}"

# --- 5. env files ---------------------------------------------------------------------
env_file_matches() {  # env_file_matches PROGRAM ENV_FILE
  local program=$1 env_file=$2 read_vars listed
  # --help names each option's variable (Env:NAME); the --pg text names the parts the
  # connection string is built from (PGHOST … DBNAME).
  read_vars=$("$program" --help | grep -oE 'Env:[A-Z0-9_]+|\b(PG[A-Z]+|DBNAME)\b' |
              sed 's/^Env://' | sort -u)
  listed=$(grep -oE '^#?[A-Z][A-Z0-9_]*=' "$env_file" | tr -d '#=' | sort -u)
  [ "$read_vars" = "$listed" ] && return 0
  diff <(echo "$listed") <(echo "$read_vars") |
    sed -n 's/^</  in the env file, not read by the program:/p; s/^>/  read by the program, missing from the env file:/p'
  return 1
}
for name in reader gateway; do
  check "deploy/systemd/$name.env lists exactly what deltastream-$name reads" \
    env_file_matches "$prefix/bin/deltastream-$name" "$deploy/systemd/$name.env"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
