#!/usr/bin/env bash
# Installs the Debian (bookworm) packages that evt's build, tests and benchmarks need
# (prometheus: for promtool, which checks the /metrics text).
# Idempotent; runs as root (or through sudo) without a terminal.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang-format
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libcurl4-openssl-dev libhiredis-dev libssl-dev libcpp-httplib-dev libsqlite3-dev
  catch2
  redis-server redis-tools
  python3 python3-jsonschema jq groff-base mandoc man-db time zsh fish procps hostname
  lintian
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
