#!/usr/bin/env bash
# Installs what aaj needs to build, run and test on Debian 12, by package name. Idempotent: a
# package already installed is not touched, and apt is not called when nothing is missing.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build pkg-config ccache make
  # libraries
  libboost-dev libssl-dev libcurl4-openssl-dev libsqlite3-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev libcbor-dev libjemalloc-dev
  # exported answers as PDF: libharu, and the font embedded for Kazakh and Russian text
  libhpdf-dev fonts-dejavu-core
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # pdftotext: tests read exported PDFs' text back (they skip that check without it)
  poppler-utils
  # runtime: the tz database (Astana time), the openssl CLI (issuing certificates by hand, tests)
  tzdata openssl ca-certificates
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
