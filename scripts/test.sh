#!/usr/bin/env bash
# The project's test command (README): installs the reference tools the interop tests compare
# against (exiftool, exiv2), the tools apply's tests use (attr, acl, flock, python3), the
# browser the HTML report test renders in (chromium), Slurm and munge for the Slurm job array
# test and kubernetes-validate (PyPI, into target/) for the Kubernetes test when they are missing
# and we may install them, then runs every test (the workspace: consentry and the test-file generator).
#
# Under CI=true nothing may be skipped: a tool that cannot be installed fails the run here, and a
# test whose tool is missing fails (tests/support `missing`).
#
# Afterwards it checks that the tests wrote only into their own temporary directories: nothing
# new in the repository's fixtures or in ../shared/realworld, and nothing in the cache directory
# the run is given (XDG_CACHE_HOME, an empty temporary folder: the tests give the binary its own).
set -euo pipefail
cd "$(dirname "$0")/.."

ci=false
[ "${CI:-}" = "true" ] && ci=true

# command -> package that provides it
tools=(
  "exiftool libimage-exiftool-perl"
  "exiv2 exiv2"
  # apply's tests: extended attributes and ACLs kept (attr, acl), locks held by other programs
  # (flock from util-linux, python3's fcntl.lockf), files rewritten in place by a failpoint.
  "setfattr attr"
  "setfacl acl"
  "flock util-linux"
  "python3 python3"
  "chromium chromium"
  # The scheduler tests (issue 15): a one-node Slurm cluster the Slurm test starts itself.
  "slurmctld slurm-wlm"
  "munged munge"
)

have() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] ||
    { [ "$1" = chromium ] && command -v chromium-browser >/dev/null 2>&1; }
}

missing_packages() {
  local entry
  for entry in "${tools[@]}"; do
    have "${entry%% *}" || echo "${entry#* }"
  done
}

mapfile -t packages < <(missing_packages)
if [ "${#packages[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1 && { [ -z "$sudo" ] || $sudo true 2>/dev/null; }; then
    echo "scripts/test.sh: installing ${packages[*]} for the interop and browser tests" >&2
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
  elif $ci; then
    echo "scripts/test.sh: ${packages[*]} missing and cannot be installed here; under CI=true no test may skip" >&2
    exit 1
  else
    echo "scripts/test.sh: ${packages[*]} missing and cannot be installed here; those tests will skip" >&2
  fi
  mapfile -t still < <(missing_packages)
  if $ci && [ "${#still[@]}" -gt 0 ]; then
    echo "scripts/test.sh: ${still[*]} still missing after the install; under CI=true no test may skip" >&2
    exit 1
  fi
fi

# The Kubernetes manifest's schema check (tests/kubernetes_job.rs): kubernetes-validate from PyPI,
# in a virtual environment under target/ (where the test looks for it).
validate_venv=target/kubernetes-validate
if [ ! -x "$validate_venv/bin/kubernetes-validate" ]; then
  echo "scripts/test.sh: installing kubernetes-validate into $validate_venv for the Kubernetes test" >&2
  if ! python3 -m venv "$validate_venv" >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    # Debian's python3 makes a virtual environment only with python3-venv.
    rm -rf "$validate_venv"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$validate_venv" >/dev/null 2>&1 || true
  fi
  if ! "$validate_venv/bin/pip" install -q kubernetes-validate >/dev/null 2>&1; then
    rm -rf "$validate_venv"
    if $ci; then
      echo "scripts/test.sh: kubernetes-validate cannot be installed here; under CI=true no test may skip" >&2
      exit 1
    fi
    echo "scripts/test.sh: kubernetes-validate cannot be installed here; the Kubernetes test will skip" >&2
  fi
fi

# What the tests may not write into: the repository's fixtures, the shared real-world files, and
# the user's cache directory (replaced for this run by an empty folder that must stay empty).
watched=(fixtures)
[ -d ../shared/realworld ] && watched+=(../shared/realworld)
started=$(mktemp)
cache=$(mktemp -d)
trap 'rm -rf "$started" "$cache"' EXIT

status=0
XDG_CACHE_HOME="$cache" cargo test "$@" || status=$?

written=$(find "${watched[@]}" -newer "$started" 2>/dev/null; find "$cache" -mindepth 1 2>/dev/null)
if [ -n "$written" ]; then
  echo "scripts/test.sh: the tests wrote outside their temporary directories:" >&2
  echo "$written" >&2
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
