#!/usr/bin/env bash
# Installs the Debian packages SeedChip builds and tests with; does nothing when all are present.
# Runs apt-get update once before installing, through sudo when not root.
set -euo pipefail

packages=(
  g++ cmake make git pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libopenblas-dev
  libprotobuf-dev libonnx-dev libonnx-testdata
  clang libclang-rt-14-dev
  openmpi-bin libopenmpi-dev
  chromium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
