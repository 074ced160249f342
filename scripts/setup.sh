#!/usr/bin/env bash
# Installs the Debian packages cpurich needs on a fresh machine. As root it runs
# apt-get; otherwise it uses sudo if present; otherwise it prints the one
# apt-get line to run and stops. Safe to run again: it only installs what is missing.
#   scripts/setup.sh            what building, the tests and the lessons need
#   scripts/setup.sh --browser  also Chromium, for the test that drives the chat
#                               page of `cpurich serve` headless (CI uses it;
#                               without it that one test reports a skip)
#   scripts/setup.sh --fuzz     also clang and its libFuzzer runtime, for the
#                               fuzz targets (scripts/fuzz.sh; CI uses it)
#   scripts/setup.sh --portable also clang and qemu-user, for the clang build
#                               and the no-AVX-512 runs (scripts/portable_check.sh)
#   scripts/setup.sh --arm64    also the aarch64 cross compiler, arm64 builds of
#                               the compiled libraries and qemu-user (adds dpkg's
#                               arm64 architecture)
set -euo pipefail
packages=(g++ cmake ninja-build pkg-config libopenblas-dev catch2 nlohmann-json3-dev libcli11-dev libcpp-httplib-dev
          doxygen graphviz clang-format-14 python3-matplotlib python3-numpy python3-scipy)
for arg in "$@"; do
  case "$arg" in
    --browser) packages+=(chromium) ;;
    --fuzz) packages+=(clang libclang-rt-dev) ;;
    --portable) packages+=(clang qemu-user) ;;
    --arm64) packages+=(crossbuild-essential-arm64 qemu-user libcpp-httplib-dev:arm64) ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup: installing ${missing[*]}" >&2
# arm64 packages (--portable) need dpkg's arm64 architecture before apt-get update.
if [[ " ${missing[*]}" == *:arm64* ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  if [ "$(id -u)" -eq 0 ]; then dpkg --add-architecture arm64
  elif command -v sudo >/dev/null 2>&1; then sudo dpkg --add-architecture arm64
  else echo "setup: please run as root:  dpkg --add-architecture arm64" >&2
  fi
fi
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
elif command -v sudo >/dev/null 2>&1; then
  sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
  echo "setup: please run as root:  apt-get install -y ${missing[*]}" >&2
  exit 1
fi
