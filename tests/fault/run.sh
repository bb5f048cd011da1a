#!/usr/bin/env bash
# The long fault run, on demand: builds, starts a throwaway PostgreSQL and runs
# fault_run.py with your arguments, e.g.
#   ./tests/fault/run.sh --duration 600 --seed 1234
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
./deploy/install-packages.sh
cmake -S . -B build >/dev/null
cmake --build build -j2 --target deltastream-reader deltastream-gateway
cluster=$(mktemp -d /tmp/deltastream-fault.XXXXXX)
chmod 755 "$cluster"
trap '"$root/deploy/local-postgres.sh" "$cluster" stop 2>/dev/null || true; rm -rf "$cluster"' EXIT
LOCAL_PG_FAST=1 "$root/deploy/local-postgres.sh" "$cluster" start
export PGTEST_DSN=$(cat "$cluster/dsn")
export PGTEST_CLUSTER="$root/deploy/local-postgres.sh $cluster"
export DELTASTREAM_READER_BIN=$root/build/reader/deltastream-reader
export DELTASTREAM_GATEWAY_BIN=$root/build/gateway/deltastream-gateway
/usr/bin/python3 tests/fault/fault_run.py "$@"
