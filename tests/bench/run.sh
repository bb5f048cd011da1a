#!/usr/bin/env bash
# deltastream's benchmarks (issue 6), on demand, never part of ctest. Installs what is
# missing, builds Release in build-bench/, starts a throwaway PostgreSQL (removed on
# exit), then runs tests/bench/bench.py: throughput, latency, fan-out, snapshot, one huge
# transaction, the floors, the native API (v2) and the JetStream output (into a three-node
# NATS cluster on loopback), each beside PostgreSQL's own tools (--only v2 or --only
# jetstream for one section alone). Prints a table, writes docs/benchmarks.md and
# docs/bench/*.png.
#   ./tests/bench/run.sh            full mode, about 15 minutes on 2 cores
#   ./tests/bench/run.sh --quick    about 3 minutes
#   ./tests/bench/run.sh --help     every size and section flag
# BENCH_BIN_DIR=DIR uses DIR/reader/deltastream-reader, DIR/gateway/deltastream-gateway, DIR/proto/deltastream-tail
# and DIR/proto/jetstream/deltastream-jetstream as they are (no build), e.g. to compare two builds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
python=/usr/bin/python3  # Debian's, with python3-websockets, -zmq, -psycopg2, -matplotlib

for arg in "$@"; do
  if [ "$arg" = -h ] || [ "$arg" = --help ]; then exec "$python" tests/bench/bench.py --help; fi
done

./deploy/install-packages.sh
./deploy/install-packages.sh tests/bench/packages.txt

cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DDELTASTREAM_TESTS=OFF >/dev/null
bin_dir=${BENCH_BIN_DIR:-}
if [ -z "$bin_dir" ]; then
  cmake --build build-bench -j2
  bin_dir=$root/build-bench
else  # the load generator and the observers are the benchmark's, not the build under test
  cmake --build build-bench -j2 --target deltastream-bench-writer deltastream-bench-crowd deltastream-bench-hop \
    deltastream-bench-js
fi

# 1000 WebSocket observers: a descriptor each, in this process and in the gateway.
ulimit -n "$(ulimit -Hn)"

cluster=$(mktemp -d /tmp/deltastream-bench.XXXXXX)
chmod 755 "$cluster"  # as root, the server runs as postgres and must reach its directory
logs=$(mktemp -d /tmp/deltastream-bench-logs.XXXXXX)
cleanup() {
  "$root/deploy/local-postgres.sh" "$cluster" stop 2>/dev/null || true
  rm -rf "$cluster"
}
trap cleanup EXIT
# fsync off: commits cost less, so the writers reach the rates; decoding is unchanged.
LOCAL_PG_FAST=1 "$root/deploy/local-postgres.sh" "$cluster" start
echo "benchmark PostgreSQL: $(cat "$cluster/dsn"); logs and results.json in $logs"

"$python" tests/bench/bench.py --cluster "$cluster" --log-dir "$logs" --docs "$root/docs" \
  --reader-bin "$bin_dir/reader/deltastream-reader" --gateway-bin "$bin_dir/gateway/deltastream-gateway" \
  --tail-bin "$bin_dir/proto/deltastream-tail" \
  --jetstream-bin "$bin_dir/proto/jetstream/deltastream-jetstream" \
  --writer-bin "$root/build-bench/tests/bench/deltastream-bench-writer" \
  --crowd-bin "$root/build-bench/tests/bench/deltastream-bench-crowd" \
  --hop-bin "$root/build-bench/tests/bench/deltastream-bench-hop" \
  --js-probe-bin "$root/build-bench/tests/bench/deltastream-bench-js" \
  --command "./tests/bench/run.sh${*:+ $*}" "$@"
