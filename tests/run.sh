#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds (warnings as errors, plus an
# ASan+UBSan build of the unit tests), starts a throwaway PostgreSQL, runs everything
# through ctest, and removes the cluster even when a test fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

./deploy/install-packages.sh

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDELTASTREAM_WERROR=ON \
  -DDELTASTREAM_SANITIZE=ON >/dev/null
cmake --build build-asan -j2 --target unit_tests
CXX=clang++ cmake -S . -B build-fuzz -DDELTASTREAM_FUZZ=ON >/dev/null
cmake --build build-fuzz -j2
cmake -S . -B build -DDELTASTREAM_WERROR=ON \
  -DDELTASTREAM_ASAN_UNIT_TESTS="$root/build-asan/tests/unit_tests" \
  -DDELTASTREAM_FUZZ_DIR="$root/build-fuzz" >/dev/null
cmake --build build -j2

cluster=$(mktemp -d /tmp/deltastream-test.XXXXXX)
chmod 755 "$cluster"
cleanup() {
  "$root/deploy/local-postgres.sh" "$cluster" stop 2>/dev/null || true
  rm -rf "$cluster"
}
trap cleanup EXIT
# Room for test_console's thousand streams; exported, so that the tests' restarts keep it.
export LOCAL_PG_SLOTS=1100
LOCAL_PG_FAST=1 "$root/deploy/local-postgres.sh" "$cluster" start
export PGTEST_DSN=$(cat "$cluster/dsn")
export PGTEST_CLUSTER="$root/deploy/local-postgres.sh $cluster"
echo "test PostgreSQL: $PGTEST_DSN"

cd build
# The sanitizer and fuzz tests exist only when the paths above reached CMake: a typo
# there must fail the run, not shrink it.
listed=$(ctest -N)
for required in unit_tests_asan fuzz_copy_data integration_test_readme fault_short; do
  grep -q " $required\$" <<<"$listed" || { echo "ctest does not list $required" >&2; exit 1; }
done
ctest --output-on-failure --no-tests=error --timeout 600 "$@"
