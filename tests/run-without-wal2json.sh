#!/usr/bin/env bash
# ./tests/run.sh with DELTASTREAM_PLUGIN=pgoutput against a PostgreSQL that has no
# wal2json at all: the v1 tests, the quickstart's and the fault run on pgoutput alone.
# PostgreSQL finds its libraries and share files relative to its own binaries, so a copy
# of the installation without wal2json.so is a PostgreSQL without the package. Left out,
# by name: the tests that compare with wal2json itself (test_pgoutput, test_large_messages).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./deploy/install-packages.sh
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
copy=$(mktemp -d /tmp/deltastream-no-wal2json.XXXXXX)
trap 'rm -rf "$copy"' EXIT
mkdir -p "$copy/lib/postgresql" "$copy/share/postgresql"
cp -a "/usr/lib/postgresql/$version" "$copy/lib/postgresql/"
cp -a "/usr/share/postgresql/$version" "$copy/share/postgresql/"
rm -f "$copy/lib/postgresql/$version/lib/wal2json.so"
chmod 755 "$copy"

export LOCAL_PG_BIN="$copy/lib/postgresql/$version/bin" DELTASTREAM_PLUGIN=pgoutput
./tests/run.sh -E 'integration_test_pgoutput|integration_test_large_messages' "$@"
