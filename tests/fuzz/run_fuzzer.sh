#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time over its seed corpus; new inputs go to a
# scratch directory so that the corpus in the repository stays as committed.
# usage: run_fuzzer.sh BINARY SECONDS CORPUS_DIR
set -euo pipefail
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$1" -max_total_time="$2" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$scratch" "$3"
