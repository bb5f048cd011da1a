#!/usr/bin/env bash
# Installs the Debian packages of a list that are missing (as root, or through sudo).
# deploy/install-packages.sh [LIST]: LIST defaults to deploy/packages.txt, the list that
# tests/run.sh and deploy/quickstart.sh install; the Dockerfile passes
# deploy/build-packages.txt in its build stage and deploy/runtime-packages.txt at runtime.
set -euo pipefail
list=${1:-"$(dirname "${BASH_SOURCE[0]}")/packages.txt"}
mapfile -t wanted < <(grep -v '^\s*#' "$list" | grep -v '^\s*$')
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
