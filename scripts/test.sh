#!/usr/bin/env bash
# The project's test command (README): installs the reference tools the interop tests compare
# against (exiftool, exiv2), the tools apply's tests use (attr, acl, flock, python3) and the
# browser the HTML report test renders in (chromium) when they are missing and we may install
# them, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v exiftool >/dev/null 2>&1 || packages+=(libimage-exiftool-perl)
command -v exiv2 >/dev/null 2>&1 || packages+=(exiv2)
# apply's tests: extended attributes and ACLs kept (attr, acl), locks held by other programs
# (flock from util-linux, python3's fcntl.lockf), files rewritten in place by a failpoint (python3).
command -v setfattr >/dev/null 2>&1 || packages+=(attr)
command -v setfacl >/dev/null 2>&1 || packages+=(acl)
command -v flock >/dev/null 2>&1 || packages+=(util-linux)
command -v python3 >/dev/null 2>&1 || packages+=(python3)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || packages+=(chromium)

if [ "${#packages[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1 && { [ -z "$sudo" ] || $sudo true 2>/dev/null; }; then
    echo "scripts/test.sh: installing ${packages[*]} for the interop and browser tests" >&2
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    echo "scripts/test.sh: ${packages[*]} missing and cannot be installed here; those tests will skip" >&2
  fi
fi

cargo test "$@"
