#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, only those missing.
set -euo pipefail
pkgs=(cmake ninja-build g++ pkgconf libcurl4-openssl-dev libmimalloc-dev rapidjson-dev
      libsqlite3-dev libssl-dev zlib1g-dev libre2-dev libyaml-cpp-dev libhiredis-dev redis-server
      libgtest-dev libbenchmark-dev liblua5.1-0-dev openssl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v go >/dev/null || { echo "install-deps: Go (1.22+) is required to build the emulator" >&2; exit 1; }
command -v python3 >/dev/null && python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
  { echo "install-deps: Python 3.10+ (python3) is required for the Python binding" >&2; exit 1; }
python3 -c 'import ensurepip, venv' 2>/dev/null ||
  { echo "install-deps: python3 -m venv is missing (Debian: apt-get install python3-venv)" >&2; exit 1; }
