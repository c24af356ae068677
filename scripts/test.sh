#!/usr/bin/env bash
# The project's test command (README): installs the reference tools the interop tests compare
# against (exiftool, exiv2) when they are missing and we may install them, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v exiftool >/dev/null 2>&1 || ! command -v exiv2 >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1 && { [ -z "$sudo" ] || $sudo true 2>/dev/null; }; then
    echo "scripts/test.sh: installing exiftool and exiv2 for the interop tests" >&2
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libimage-exiftool-perl exiv2 >/dev/null
  else
    echo "scripts/test.sh: exiftool/exiv2 missing and cannot be installed here; interop tests will skip" >&2
  fi
fi

cargo test "$@"
